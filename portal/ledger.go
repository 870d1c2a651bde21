package portal

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// ledgerView is one page of the tenant's ledger, newest first.
type ledgerView struct {
	Ledger     []store.LedgerEntry
	Before     int64 // this page's cursor (0: newest)
	NextBefore int64 // the next (older) page's cursor; 0 on the last page
}

func (p *Portal) ledger(c *gin.Context) {
	var v ledgerView
	if b, err := strconv.ParseInt(c.Query("before"), 10, 64); err == nil && b > 0 {
		v.Before = b
	}
	var err error
	// LedgerPage names the session's tenant: a cursor taken from another tenant's
	// ledger only pages through this tenant's own entries.
	if v.Ledger, err = p.store.LedgerPage(c.Request.Context(), tenantOf(c), v.Before, pageSize); err != nil {
		p.fail(c, err)
		return
	}
	if len(v.Ledger) == pageSize {
		v.NextBefore = v.Ledger[len(v.Ledger)-1].ID
	}
	p.render(c, http.StatusOK, "ledger", webui.View{Title: "Ledger", Nav: "ledger", Data: v})
}

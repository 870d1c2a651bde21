package portal

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// overviewView is the landing screen: the wallet, 30 days of spend, the latest
// ledger entries.
type overviewView struct {
	Tenant store.Tenant
	Usage  store.Tally
	Chart  webui.ChartData
	Ledger []store.LedgerEntry
}

func (p *Portal) overview(c *gin.Context) {
	ctx := c.Request.Context()
	t, err := p.store.Tenant(ctx, tenantOf(c))
	if err != nil {
		p.fail(c, err)
		return
	}
	v := overviewView{Tenant: t}
	days, _, err := p.days(c, 30)
	if err != nil {
		p.fail(c, err)
		return
	}
	for _, d := range days {
		v.Usage.Add(d.Tally)
	}
	v.Chart = webui.DailyChart(days)
	if v.Ledger, err = p.store.LedgerPage(ctx, t.ID, 0, 5); err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "overview", webui.View{Title: "Overview", Nav: "overview", Data: v})
}

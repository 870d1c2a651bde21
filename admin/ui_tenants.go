package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// tenantsView is the tenant list: search, one page of tenants with their wallets and
// 30-day spend, and the form that creates a tenant.
type tenantsView struct {
	Search string
	Query  url.Values
	Rows   []tenantRow
	Total  int64
	Page   int
	Pages  int
	Form   *webui.Form
}

// tenantRow is a tenant with its recent usage.
type tenantRow struct {
	store.Tenant
	Usage store.Tally // last 30 days
}

// pageParam reads ?page= (1-based).
func pageParam(c *gin.Context) int {
	p, err := strconv.Atoi(c.Query("page"))
	if err != nil || p < 1 {
		return 1
	}
	return min(p, 1_000_000)
}

func (u *UI) tenants(c *gin.Context) {
	u.showTenants(c, http.StatusOK, webui.NewForm())
}

func (u *UI) showTenants(c *gin.Context, status int, f *webui.Form) {
	ctx := c.Request.Context()
	search := strings.TrimSpace(c.Query("q"))
	v := tenantsView{Search: search, Query: c.Request.URL.Query(), Page: pageParam(c), Form: f}
	var err error
	if v.Total, err = u.store.CountTenants(ctx, search); err != nil {
		u.fail(c, err)
		return
	}
	v.Pages = max(1, int((v.Total+pageSize-1)/pageSize))
	ts, err := u.store.ListTenants(ctx, store.TenantFilter{Search: search, Limit: pageSize, Offset: (v.Page - 1) * pageSize})
	if err != nil {
		u.fail(c, err)
		return
	}
	if len(ts) > 0 {
		days, _, _, err := u.lastDays(ctx, 30)
		if err != nil {
			u.fail(c, err)
			return
		}
		onPage := make(map[string]bool, len(ts))
		for _, t := range ts {
			onPage[t.ID] = true
		}
		usage := map[string]store.Tally{}
		for _, g := range tallyBy(days, byTenant, func(f store.Flow) bool { return onPage[f.TenantID] }, 0) {
			usage[g.Group] = g.Tally
		}
		for _, t := range ts {
			v.Rows = append(v.Rows, tenantRow{Tenant: t, Usage: usage[t.ID]})
		}
	}
	u.render(c, status, "tenants", view{Title: "Tenants", Nav: "tenants", Data: v})
}

func (u *UI) createTenant(c *gin.Context) {
	f := webui.PostedForm(c)
	name := f.Get("name")
	if err := checkText("name", name, true, 200); err != nil {
		u.showTenants(c, f.Fail(err, "name"), f)
		return
	}
	t, err := u.store.CreateTenant(c.Request.Context(), name)
	if err != nil {
		u.showTenants(c, f.Fail(err, "name"), f)
		return
	}
	redirect(c, UIPrefix+"/tenants/"+t.ID, "Tenant “"+t.Name+"” created. Top it up and give it a key below.")
}

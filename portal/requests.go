package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// requestRow is one call of the tenant's request log with its key's name.
type requestRow struct {
	store.CallRecord
	KeyName string
}

// requestsView is the request log: the tenant's own calls, filtered and paged.
type requestsView struct {
	Filter     *webui.Form
	Filtered   bool
	Keys       []store.APIKey
	Statuses   []int
	Rows       []requestRow
	Query      url.Values
	NextBefore int64
}

// statuses are the outcomes the status filter offers.
var statuses = []int{200, 400, 402, 403, 404, 429, 502, 503, 504}

func (p *Portal) requests(c *gin.Context) {
	ctx := c.Request.Context()
	tenant := tenantOf(c)
	q := c.Request.URL.Query()
	f := webui.NewForm()
	for _, k := range []string{"key_id", "model", "status"} {
		if v := q.Get(k); v != "" {
			f.Values.Set(k, v)
		}
	}
	v := requestsView{Filter: f, Statuses: statuses, Query: q, Filtered: len(f.Values) > 0}
	filter := store.CallFilter{TenantID: tenant, Model: f.Get("model"), Limit: pageSize}
	if id := f.Get("key_id"); id != "" {
		// A key of another tenant is not found, as on every screen.
		if _, err := p.store.TenantKey(ctx, tenant, id); errors.Is(err, store.ErrNotFound) {
			p.notFound(c, "key")
			return
		} else if err != nil {
			p.fail(c, err)
			return
		}
		filter.KeyID = id
	}
	if s := f.Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			f.SetField("status", "Pick a status from the list.")
		}
		filter.Status = n
	}
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && b > 0 {
		filter.Before = b
	}
	keys, err := p.store.ListKeys(ctx, tenant)
	if err != nil {
		p.fail(c, err)
		return
	}
	v.Keys = keys
	if f.Failed() {
		p.render(c, http.StatusBadRequest, "requests", webui.View{Title: "Request log", Nav: "requests", Data: v})
		return
	}
	calls, err := p.store.Calls(ctx, filter)
	if err != nil {
		p.fail(c, err)
		return
	}
	names := map[string]string{}
	for _, k := range keys {
		names[k.ID] = k.Name
	}
	for _, call := range calls {
		v.Rows = append(v.Rows, requestRow{CallRecord: call, KeyName: names[call.KeyID]})
	}
	if len(calls) == pageSize {
		v.NextBefore = calls[len(calls)-1].ID
	}
	p.render(c, http.StatusOK, "requests", webui.View{Title: "Request log", Nav: "requests", Data: v})
}

// requestView is one call of the tenant's.
type requestView struct {
	Call    store.CallRecord
	KeyName string
}

func (p *Portal) request(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		p.notFound(c, "call")
		return
	}
	ctx := c.Request.Context()
	call, err := p.store.TenantCall(ctx, tenantOf(c), id)
	if errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "call")
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	v := requestView{Call: call}
	if k, err := p.store.TenantKey(ctx, tenantOf(c), call.KeyID); err == nil {
		v.KeyName = k.Name
	}
	p.render(c, http.StatusOK, "request", webui.View{Title: "Call " + call.RequestID, Nav: "requests", Data: v})
}

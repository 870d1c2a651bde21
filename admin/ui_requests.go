package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// requestsView is the request log: filters, one page of calls (refusals included)
// newest first, and the cursor to the next page.
type requestsView struct {
	Query      url.Values
	Filter     *webui.Form
	Tenants    []store.Tenant
	Statuses   []int
	Rows       []callView
	NextBefore int64
	Filtered   bool
}

// callView is a logged call with the names of what it touched.
type callView struct {
	store.CallRecord
	TenantName  string
	KeyName     string
	ChannelName string
}

// callPageView is one call in full, with every upstream attempt.
type callPageView struct {
	Call     callView
	Attempts []attemptView
}

// attemptView is one upstream attempt with its channel's name.
type attemptView struct {
	store.Attempt
	ChannelName string
}

// filterStatuses are the statuses the log's filter offers.
var filterStatuses = []int{200, 400, 401, 402, 403, 404, 413, 429, 499, 500, 502, 503, 504}

// filterTime reads a from/to filter: a date, a datetime-local value or RFC 3339, UTC.
func filterTime(field, s string, upper bool) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	return parseTime(field, s, upper)
}

func (u *UI) requests(c *gin.Context) {
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	f := webui.NewForm()
	for _, k := range []string{"tenant_id", "key_id", "model", "status", "from", "to"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			f.Values.Set(k, v)
		}
	}
	v := requestsView{Query: q, Filter: f, Statuses: filterStatuses, Filtered: len(f.Values) > 0}
	cf := store.CallFilter{TenantID: f.Get("tenant_id"), KeyID: f.Get("key_id"), Model: f.Get("model"), Limit: pageSize}
	if s := f.Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			f.Errors["status"] = "Pick an HTTP status such as 402."
		}
		cf.Status = n
	}
	for _, b := range []struct {
		field string
		dst   *time.Time
		upper bool
	}{{"from", &cf.From, false}, {"to", &cf.To, true}} {
		if s := f.Get(b.field); s != "" {
			t, err := filterTime(b.field, s, b.upper)
			if err != nil {
				f.Errors[b.field] = "Write a date such as 2025-01-31 or a time such as 2025-01-31T09:00 (UTC)."
			}
			*b.dst = t
		}
	}
	if before, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && before > 0 {
		cf.Before = before
	}
	var err error
	if v.Tenants, err = u.store.ListTenants(ctx, store.TenantFilter{Limit: 1000}); err != nil {
		u.fail(c, err)
		return
	}
	status := http.StatusOK
	if f.Failed() {
		status = http.StatusBadRequest
	} else {
		recs, err := u.store.Calls(ctx, cf)
		if err != nil {
			u.fail(c, err)
			return
		}
		if v.Rows, err = u.nameCalls(ctx, recs); err != nil {
			u.fail(c, err)
			return
		}
		if len(v.Rows) == pageSize {
			v.NextBefore = v.Rows[len(v.Rows)-1].ID
		}
	}
	u.render(c, status, "requests", view{Title: "Request log", Nav: "requests", Data: v})
}

// nameCalls looks up the tenant, key and channel names of a page of calls.
func (u *UI) nameCalls(ctx context.Context, recs []store.CallRecord) ([]callView, error) {
	tenantIDs, keyIDs := []string{}, []string{}
	for _, r := range recs {
		tenantIDs = append(tenantIDs, r.TenantID)
		keyIDs = append(keyIDs, r.KeyID)
	}
	tenants, err := u.store.TenantNames(ctx, tenantIDs)
	if err != nil {
		return nil, err
	}
	keys, err := u.store.KeysByID(ctx, keyIDs)
	if err != nil {
		return nil, err
	}
	channels, err := u.channelNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]callView, len(recs))
	for i, r := range recs {
		ch, _ := store.ServingChannel(r)
		out[i] = callView{CallRecord: r, TenantName: tenants[r.TenantID], KeyName: keys[r.KeyID].Name, ChannelName: channels[ch]}
		if ch != "" && out[i].ChannelName == "" {
			out[i].ChannelName = ch
		}
	}
	return out, nil
}

// channelNames maps channel ids to names.
func (u *UI) channelNames(ctx context.Context) (map[string]string, error) {
	chs, err := u.store.ListChannels(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(chs))
	for _, ch := range chs {
		out[ch.ID] = ch.Name
	}
	return out, nil
}

func (u *UI) request(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		u.fail(c, invalid("id", "A call's id is a number; the request log links to each call."))
		return
	}
	rec, err := u.store.Call(ctx, id)
	if err != nil {
		u.fail(c, notFound(err, "call", c.Param("id"), "The request log lists the calls."))
		return
	}
	named, err := u.nameCalls(ctx, []store.CallRecord{rec})
	if err != nil {
		u.fail(c, err)
		return
	}
	channels, err := u.channelNames(ctx)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := callPageView{Call: named[0]}
	for _, a := range rec.Attempts {
		name := channels[a.ChannelID]
		if name == "" {
			name = a.ChannelID
		}
		v.Attempts = append(v.Attempts, attemptView{Attempt: a, ChannelName: name})
	}
	u.render(c, http.StatusOK, "request", view{Title: "Call " + c.Param("id"), Nav: "requests", Data: v})
}

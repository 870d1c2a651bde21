package admin

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

func TestRequestLog(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	ctx := context.Background()
	ten, key, ch := seedDashboard(t, h.st)
	other, _ := h.st.CreateTenant(ctx, "globex")
	var bulk []store.CallRecord
	base := time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; i < 60; i++ {
		bulk = append(bulk, store.CallRecord{RequestID: fmt.Sprintf("old_%02d", i), TenantID: other.ID, KeyID: "key_other", Model: "gpt-4o",
			Status: 200, ChannelID: ch.ID, Cost: billing.Nanos(i), CreatedAt: base + int64(i)*1000})
	}
	if err := h.st.RecordCalls(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	t.Run("FilterByStatusShows402sOnly", func(t *testing.T) {
		p := h.get("/admin/requests?status=402").mustStatus(t, 200)
		if n := strings.Count(p.body, `<tr class="status-`); n != 1 || !strings.Contains(p.body, "insufficient_quota") {
			t.Fatalf("%d rows:\n%s", n, shortBody(p.body))
		}
	})
	t.Run("FilterByTenantAndModel", func(t *testing.T) {
		p := h.get("/admin/requests?tenant_id=" + ten.ID + "&model=gpt-4o-mini")
		if n := strings.Count(p.body, `<tr class="status-`); n != 3 {
			t.Fatalf("%d rows for acme's gpt-4o-mini calls, want 3", n)
		}
		p.mustContain(t, `<option value="`+ten.ID+`" selected>acme</option>`, `value="gpt-4o-mini"`)
	})
	t.Run("FilterByKeyAndTime", func(t *testing.T) {
		p := h.get("/admin/requests?key_id=" + key.ID + "&from=" + time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04"))
		if n := strings.Count(p.body, `<tr class="status-`); n < 2 || n > 4 {
			t.Fatalf("%d rows", n)
		}
		old := h.get("/admin/requests?from=2025-02-01&to=2025-02-01")
		if n := strings.Count(old.body, `<tr class="status-`); n != pageSize {
			t.Fatalf("%d rows on 2025-02-01, want a full page of %d", n, pageSize)
		}
	})
	t.Run("PagesWithACursor", func(t *testing.T) {
		first := h.get("/admin/requests?tenant_id=" + other.ID)
		m := regexp.MustCompile(`href="/admin/requests\?before=(\d+)&amp;tenant_id=`).FindStringSubmatch(first.body)
		if m == nil {
			t.Fatalf("no next-page link:\n%s", shortBody(first.body))
		}
		second := h.get("/admin/requests?tenant_id=" + other.ID + "&before=" + m[1])
		if n := strings.Count(second.body, `<tr class="status-`); n != 10 {
			t.Fatalf("%d rows on page 2, want the 10 left", n)
		}
		second.mustContain(t, "← Newest")
	})
	t.Run("BadFiltersAre400", func(t *testing.T) {
		h.get("/admin/requests?status=abc").mustStatus(t, http.StatusBadRequest).mustContain(t, "Pick an HTTP status")
		h.get("/admin/requests?from=yesterday").mustStatus(t, http.StatusBadRequest).mustContain(t, `value="yesterday"`)
	})
	t.Run("EmptyResultSaysSo", func(t *testing.T) {
		h.get("/admin/requests?model=nothing-like-it").mustContain(t, "No call matches these filters")
	})
	t.Run("CallPageShowsAttemptsAndEstimate", func(t *testing.T) {
		calls, _ := h.st.Calls(ctx, store.CallFilter{TenantID: ten.ID, Limit: 10})
		var failed, estimated, refused store.CallRecord
		for _, c := range calls {
			switch {
			case c.Status == 502:
				failed = c
			case c.Estimated:
				estimated = c
			case c.Status == 402:
				refused = c
			}
		}
		h.get("/admin/requests/"+strconv.FormatInt(failed.ID, 10)).mustContain(t, `id="attempts-table"`, "main", "upstream answered 500", "no channel")
		h.get("/admin/requests/"+strconv.FormatInt(estimated.ID, 10)).mustContain(t, "<strong>estimated</strong>", "$0.0000195")
		h.get("/admin/requests/"+strconv.FormatInt(refused.ID, 10)).mustContain(t, "the upstream was never called")
	})
}

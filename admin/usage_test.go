package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// seedCalls writes request-log rows as the gateway would after settling calls.
func seedCalls(t *testing.T, h *harness, recs ...store.CallRecord) {
	t.Helper()
	for _, r := range recs {
		if err := h.st.RecordCall(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func num(t *testing.T, v any) string {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%#v is not a number", v)
	}
	return n.String()
}

func TestUsage(t *testing.T) {
	h := newHarness(t)
	a, b := h.createTenant("a"), h.createTenant("b")
	day1 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).UnixMilli()
	day2 := time.Date(2025, 3, 2, 23, 59, 0, 0, time.UTC).UnixMilli()
	seedCalls(t, h,
		store.CallRecord{RequestID: "r1", TenantID: a, KeyID: "k1", Endpoint: "chat", Model: "gpt-4o", Status: 200,
			Usage: billing.Usage{PromptTokens: 100, CachedTokens: 10, CompletionTokens: 20}, Cost: 1_500, CreatedAt: day1},
		store.CallRecord{RequestID: "r2", TenantID: a, KeyID: "k1", Endpoint: "chat", Model: "gpt-4o-mini", Status: 200,
			Usage: billing.Usage{PromptTokens: 50, CompletionTokens: 5}, Cost: 7, CreatedAt: day2},
		store.CallRecord{RequestID: "r3", TenantID: a, KeyID: "k2", Endpoint: "chat", Model: "gpt-4o", Status: 502,
			ErrorCode: "upstream_error", CreatedAt: day2},
		store.CallRecord{RequestID: "r4", TenantID: b, KeyID: "k3", Endpoint: "chat", Model: "gpt-4o", Status: 200,
			Usage: billing.Usage{PromptTokens: 1, CompletionTokens: 1}, Cost: 1_000_000_000, CreatedAt: day2},
	)

	t.Run("GroupByModelWithTotal", func(t *testing.T) {
		r := h.do("GET", "/usage?tenant_id="+a+"&group_by=model", "").must(t, http.StatusOK)
		rows := r.data(t)
		if r.str(t, "group_by") != "model" || len(rows) != 2 || rows[0]["group"] != "gpt-4o" || rows[0]["cost_usd"] != "0.000001500" ||
			num(t, rows[0]["calls"]) != "1" || num(t, rows[0]["cached_tokens"]) != "10" {
			t.Fatalf("rows %s", r.raw)
		}
		total := r.body["total"].(map[string]any)
		if num(t, total["calls"]) != "2" || num(t, total["prompt_tokens"]) != "150" || num(t, total["completion_tokens"]) != "25" ||
			total["cost_usd"] != "0.000001507" {
			t.Fatalf("total %v", total)
		}
		if _, has := total["group"]; has {
			t.Fatalf("total carries a group: %v", total)
		}
	})
	t.Run("GroupByDayIsDefault", func(t *testing.T) {
		r := h.do("GET", "/usage", "").must(t, http.StatusOK)
		rows := r.data(t)
		if r.str(t, "group_by") != "day" || len(rows) != 2 || rows[0]["group"] != "2025-03-01" || rows[1]["group"] != "2025-03-02" ||
			rows[1]["cost_usd"] != "1.000000007" {
			t.Fatalf("rows %s", r.raw)
		}
	})
	t.Run("GroupByKey", func(t *testing.T) {
		rows := h.do("GET", "/usage?group_by=key", "").must(t, http.StatusOK).data(t)
		if len(rows) != 2 || rows[0]["group"] != "k1" || rows[1]["group"] != "k3" {
			t.Fatalf("rows %v", rows)
		}
	})
	t.Run("DateOnlyToIncludesTheDay", func(t *testing.T) {
		r := h.do("GET", "/usage?from=2025-03-02&to=2025-03-02&group_by=model", "").must(t, http.StatusOK)
		if total := r.body["total"].(map[string]any); num(t, total["calls"]) != "2" {
			t.Fatalf("want the two served calls of 2025-03-02, got %s", r.raw)
		}
		r = h.do("GET", "/usage?from=2025-03-01T00:00:00Z&to=2025-03-02T02:00:00+02:00", "").must(t, http.StatusOK)
		if total := r.body["total"].(map[string]any); num(t, total["calls"]) != "1" {
			t.Fatalf("want the one call of 2025-03-01, got %s", r.raw)
		}
	})
	t.Run("BadParamsAre400", func(t *testing.T) {
		h.do("GET", "/usage?group_by=hour", "").wantError(t, http.StatusBadRequest, "group_by")
		h.do("GET", "/usage?group_by=MODEL", "").wantError(t, http.StatusBadRequest, "group_by")
		h.do("GET", "/usage?from=yesterday", "").wantError(t, http.StatusBadRequest, "from")
		h.do("GET", "/usage?to=2025-13-01", "").wantError(t, http.StatusBadRequest, "to")
		h.do("GET", "/usage?from=2025-03-02&to=2025-03-01", "").wantError(t, http.StatusBadRequest, "to")
	})
	t.Run("UnknownTenantIs404", func(t *testing.T) {
		h.do("GET", "/usage?tenant_id=ten_nope", "").wantError(t, http.StatusNotFound, "")
	})
}

func TestRequests(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("a")
	for i, status := range []int{200, 402, 200, 502, 200} {
		seedCalls(t, h, store.CallRecord{RequestID: "req" + string(rune('0'+i)), TenantID: a, KeyID: "k1", Endpoint: "chat",
			Model: "gpt-4o", Status: status, HoldAmount: 2_000, Cost: 1_000, Stream: i%2 == 0,
			Attempts: []store.Attempt{{ChannelID: "ch1", Provider: "openai", Status: status, LatencyMs: 12}}})
	}
	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		r := h.do("GET", "/requests?limit=2", "").must(t, http.StatusOK)
		rows := r.data(t)
		if len(rows) != 2 || rows[0]["request_id"] != "req4" || rows[1]["request_id"] != "req3" {
			t.Fatalf("first page %s", r.raw)
		}
		if rows[0]["cost_usd"] != "0.000001000" || rows[0]["hold_usd"] != "0.000002000" || rows[0]["stream"] != true ||
			len(rows[0]["attempts"].([]any)) != 1 {
			t.Fatalf("row %v", rows[0])
		}
		r = h.do("GET", "/requests?limit=2&before="+num(t, r.body["next_before"]), "").must(t, http.StatusOK)
		if rows := r.data(t); len(rows) != 2 || rows[0]["request_id"] != "req2" {
			t.Fatalf("second page %s", r.raw)
		}
	})
	t.Run("FiltersByStatus", func(t *testing.T) {
		r := h.do("GET", "/requests?status=502&tenant_id="+a, "").must(t, http.StatusOK)
		if rows := r.data(t); len(rows) != 1 || rows[0]["request_id"] != "req3" || r.body["next_before"] != nil {
			t.Fatalf("filtered %s", r.raw)
		}
	})
	t.Run("BadParamsAre400", func(t *testing.T) {
		h.do("GET", "/requests?status=abc", "").wantError(t, http.StatusBadRequest, "status")
		h.do("GET", "/requests?limit=5000", "").wantError(t, http.StatusBadRequest, "limit")
		h.do("GET", "/requests?from=nope", "").wantError(t, http.StatusBadRequest, "from")
	})
}

func TestHolds(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("a")
	h.do("POST", "/tenants/"+a+"/topups", `{"amount_usd":"1"}`).must(t, http.StatusCreated)
	t.Run("CountsOpenHolds", func(t *testing.T) {
		r := h.do("GET", "/holds", "").must(t, http.StatusOK)
		if num(t, r.body["count"]) != "0" || r.str(t, "total_usd") != "0.000000000" {
			t.Fatalf("empty %s", r.raw)
		}
		if _, err := h.st.Reserve(context.Background(), billing.HoldRequest{TenantID: a, Amount: 250_000_000, RequestID: "r"}); err != nil {
			t.Fatal(err)
		}
		r = h.do("GET", "/holds", "").must(t, http.StatusOK)
		if num(t, r.body["count"]) != "1" || r.str(t, "total_usd") != "0.250000000" {
			t.Fatalf("after a reserve %s", r.raw)
		}
		ten := h.do("GET", "/tenants/"+a, "").must(t, http.StatusOK)
		if ten.str(t, "held_usd") != "0.250000000" || ten.str(t, "available_usd") != "0.750000000" {
			t.Fatalf("tenant %s", ten.raw)
		}
	})
}

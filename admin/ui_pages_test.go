package admin

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// seedDashboard gives every screen something to show: a channel, a tenant with
// credit, a key, served calls, a 402 and a call that failed on its channel.
func seedDashboard(t testing.TB, st *store.Store) (store.Tenant, store.APIKey, store.Channel) {
	t.Helper()
	ctx := context.Background()
	name, provider, base, key := "main", "openai", "https://upstream.example/v1", "sk-upstream"
	ch, err := st.CreateChannel(ctx, store.ChannelInput{Name: &name, Provider: &provider, BaseURL: &base, APIKey: &key, Models: &[]string{"gpt-4o-mini"}})
	if err != nil {
		t.Fatal(err)
	}
	ten, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Topup(ctx, ten.ID, 25*billing.NanosPerUSD, "first", "seed-1"); err != nil {
		t.Fatal(err)
	}
	k, _, err := st.CreateKey(ctx, store.NewKey{TenantID: ten.ID, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	attempt := []store.Attempt{{ChannelID: ch.ID, Provider: "openai", Status: 200, LatencyMs: 320}}
	recs := []store.CallRecord{
		{RequestID: "req_a", TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o-mini", ChannelID: ch.ID, Provider: "openai",
			Status: 200, Usage: billing.Usage{PromptTokens: 1200, CompletionTokens: 300}, Cost: 360_000, LatencyMs: 320, Attempts: attempt, CreatedAt: now - 60_000},
		{RequestID: "req_b", TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o-mini", ChannelID: ch.ID, Provider: "openai", Estimated: true,
			Status: 200, Usage: billing.Usage{PromptTokens: 50, CompletionTokens: 20}, Cost: 19_500, LatencyMs: 280, Attempts: attempt, CreatedAt: now - 30_000},
		{RequestID: "req_402", TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o", Status: 402, ErrorCode: "insufficient_quota",
			ErrorMessage: "Insufficient credit", CreatedAt: now - 20_000},
		{RequestID: "req_502", TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o-mini", Status: 502, ErrorCode: "upstream_error",
			Attempts: []store.Attempt{{ChannelID: ch.ID, Provider: "openai", Status: 500, Error: "upstream answered 500", LatencyMs: 90}}, CreatedAt: now - 10_000},
	}
	if err := st.RecordCalls(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return ten, k, ch
}

// TestEveryPageRenders opens each screen, with data and without, and checks it
// answers 200 with its own content and the layout's assets.
func TestEveryPageRenders(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	t.Run("EmptyStatesSayWhatToDo", func(t *testing.T) {
		h.get("/admin/").mustStatus(t, 200).mustContain(t, "No calls in the last 30 days")
		h.get("/admin/tenants").mustStatus(t, 200).mustContain(t, "No tenants yet")
		h.get("/admin/channels").mustStatus(t, 200).mustContain(t, "No channels yet")
		h.get("/admin/requests").mustStatus(t, 200).mustContain(t, "No calls yet")
		h.get("/admin/topology").mustStatus(t, 200).mustContain(t, "No calls in this window")
	})
	ten, _, ch := seedDashboard(t, h.st)
	calls, err := h.st.Calls(context.Background(), store.CallFilter{})
	if err != nil || len(calls) == 0 {
		t.Fatal(err)
	}
	h.gw.setHealth(router.ChannelHealth{ChannelID: ch.ID, State: router.CircuitOpen, Successes: 9, Failures: 6, LatencyMs: 412, LastError: "upstream answered 500"})
	for _, c := range []struct {
		name  string
		path  string
		wants []string
	}{
		{"OverviewShowsChartAndTopLists", "/admin/", []string{"Spend over time", `id="top-tenants"`, "acme", "gpt-4o-mini", `data-chart="chart-overview"`}},
		{"TenantsListShowsWallets", "/admin/tenants", []string{`id="tenants-table"`, "acme", "$25.00"}},
		{"TenantPageShowsKeysLedgerUsage", "/admin/tenants/" + ten.ID, []string{`id="keys-table"`, `id="ledger-table"`, `id="usage-by-model"`, "app", `name="idempotency_key"`}},
		{"ChannelsShowLiveHealth", "/admin/channels", []string{`id="channels-table"`, "main", "circuit-open", "9 ok · 6 failed", "412 ms"}},
		{"NewChannelFormOffersProviders", "/admin/channels/new", []string{`id="channel-form"`, `<option value="openai"`}},
		{"EditChannelKeepsKeyHidden", "/admin/channels/" + ch.ID, []string{`id="channel-form"`, "leave empty to keep it", `value="https://upstream.example/v1"`}},
		{"PricesListTheBook", "/admin/prices", []string{`id="prices-table"`, "gpt-4o-mini", "default"}},
		{"PriceFormPrefilled", "/admin/prices/edit?model=gpt-4o-mini", []string{`id="price-form"`, `value="0.15"`}},
		{"NewPriceFormAsksModel", "/admin/prices/edit", []string{`id="price-form"`, `name="model"`}},
		{"RequestLogListsCalls", "/admin/requests", []string{`id="requests-table"`, "req", "402", "est."}},
		{"CallPageShowsAttempts", "/admin/requests/" + strconv.FormatInt(calls[0].ID, 10), []string{`id="call-facts"`, `id="attempts-table"`}},
		{"TopologyDrawsRefusedNode", "/admin/topology", []string{`<svg id="topology"`, "refused (402)", `id="attention-table"`}},
		{"TopologyFromRollup", "/admin/topology?window=30d", []string{`<svg id="topology"`, "refused (402)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := h.get(c.path).mustStatus(t, http.StatusOK)
			p.mustContain(t, append(c.wants, `/admin/static/`, "tollgate.css", "htmx.min.js")...)
			if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			if cc := p.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("cache control %q, want no-store", cc)
			}
		})
	}
	t.Run("UnknownIdsAre404", func(t *testing.T) {
		h.get("/admin/tenants/ten_nope").mustStatus(t, 404).mustContain(t, "ten_nope")
		h.get("/admin/channels/ch_nope").mustStatus(t, 404)
		h.get("/admin/requests/99999999").mustStatus(t, 404)
		h.get("/admin/requests/abc").mustStatus(t, 400)
	})
}

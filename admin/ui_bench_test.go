package admin

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// Volume the page benchmark seeds: the scale the dashboard must stay fast at.
const (
	benchTenants = 100
	benchCalls   = 100_000
)

// seedVolume fills a store with benchTenants tenants (two keys each), three
// channels and benchCalls logged calls over the last 30 days: most served, some
// refused with 402, some failed upstream, spread unevenly over tenants and models as
// real traffic is.
func seedVolume(tb testing.TB, st *store.Store) (busiest store.Tenant, someCall int64) {
	tb.Helper()
	ctx := context.Background()
	models := []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "claude-sonnet-4", "gemini-2.5-flash", "deepseek-chat", "o4-mini", "mistral-small-latest"}
	var channels []store.Channel
	for i := 0; i < 3; i++ {
		name, provider, base, key := fmt.Sprintf("upstream-%d", i), "openai", fmt.Sprintf("https://up%d.example/v1", i), "sk-x"
		ch, err := st.CreateChannel(ctx, store.ChannelInput{Name: &name, Provider: &provider, BaseURL: &base, APIKey: &key, Models: &models})
		if err != nil {
			tb.Fatal(err)
		}
		channels = append(channels, ch)
	}
	type keyOf struct{ tenant, key string }
	var keys []keyOf
	var tenants []store.Tenant
	for i := 0; i < benchTenants; i++ {
		t, err := st.CreateTenant(ctx, fmt.Sprintf("tenant-%03d", i))
		if err != nil {
			tb.Fatal(err)
		}
		if _, _, err := st.Topup(ctx, t.ID, 100*billing.NanosPerUSD, "seed", "seed"); err != nil {
			tb.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			k, _, err := st.CreateKey(ctx, store.NewKey{TenantID: t.ID, Name: fmt.Sprintf("key-%d", j)})
			if err != nil {
				tb.Fatal(err)
			}
			keys = append(keys, keyOf{t.ID, k.ID})
		}
		tenants = append(tenants, t)
	}
	// Tenant i gets a share of traffic falling off like 1/(i+1)^0.8.
	weights := make([]float64, benchTenants)
	total := 0.0
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.8)
		total += weights[i]
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	pickTenant := func() int {
		r := rng.Float64() * total
		for i, w := range weights {
			if r -= w; r <= 0 {
				return i
			}
		}
		return benchTenants - 1
	}
	now := time.Now()
	recs := make([]store.CallRecord, 0, benchCalls)
	for i := 0; i < benchCalls; i++ {
		ti := pickTenant()
		k := keys[2*ti+rng.IntN(2)]
		model := models[(ti+rng.IntN(3))%len(models)]
		ch := channels[(ti+i)%len(channels)]
		r := store.CallRecord{RequestID: "req_bench_" + strconv.Itoa(i), TenantID: k.tenant, KeyID: k.key, Endpoint: "chat", Model: model,
			CreatedAt: now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).UnixMilli()}
		switch p := rng.IntN(100); {
		case p < 4:
			r.Status, r.ErrorCode = 402, "insufficient_quota"
		case p < 6:
			r.Status, r.ErrorCode = 502, "upstream_error"
			r.Attempts = []store.Attempt{{ChannelID: ch.ID, Provider: "openai", Status: 500, LatencyMs: 120}}
		case p < 7:
			r.Status, r.ErrorCode = 404, "model_not_found"
		default:
			r.Status, r.ChannelID, r.Provider = 200, ch.ID, "openai"
			r.Usage = billing.Usage{PromptTokens: int64(200 + rng.IntN(4000)), CompletionTokens: int64(50 + rng.IntN(800))}
			r.Cost = billing.Nanos(r.Usage.PromptTokens*150 + r.Usage.CompletionTokens*600)
			r.LatencyMs = int64(200 + rng.IntN(1500))
			r.Attempts = []store.Attempt{{ChannelID: ch.ID, Provider: "openai", Status: 200, LatencyMs: r.LatencyMs}}
		}
		recs = append(recs, r)
	}
	// A gateway logs calls as they end, so the log is in time order.
	sort.Slice(recs, func(i, j int) bool { return recs[i].CreatedAt < recs[j].CreatedAt })
	if err := st.RecordCalls(ctx, recs); err != nil {
		tb.Fatal(err)
	}
	page, err := st.Calls(ctx, store.CallFilter{Limit: 1})
	if err != nil || len(page) == 0 {
		tb.Fatalf("no calls logged: %v", err)
	}
	return tenants[0], page[0].ID
}

// BenchmarkPages renders every dashboard page over HTTP (session check included)
// with 100 tenants and 100,000 logged calls on SQLite, and fails a page whose mean
// exceeds 50 ms. Run: go test -run '^$' -bench BenchmarkPages -benchtime 50x ./admin/
func BenchmarkPages(b *testing.B) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(b.TempDir(), "bench.db"), SecretKey: secret})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	busiest, call := seedVolume(b, st)
	b.Logf("seeded %d tenants and %d calls in %v", benchTenants, benchCalls, time.Since(start).Round(time.Millisecond))
	h := newUIHarnessOn(b, st)
	h.signIn()
	for _, p := range []struct{ name, path string }{
		{"Overview", "/admin/"},
		{"Tenants", "/admin/tenants"},
		{"TenantsSearch", "/admin/tenants?q=tenant-0"},
		{"Tenant", "/admin/tenants/" + busiest.ID},
		{"Channels", "/admin/channels"},
		{"Prices", "/admin/prices"},
		{"PriceEdit", "/admin/prices/edit?model=gpt-4o"},
		{"Requests", "/admin/requests"},
		{"Requests402", "/admin/requests?status=402"},
		{"RequestsTenantModel", "/admin/requests?tenant_id=" + busiest.ID + "&model=gpt-4o"},
		{"Request", "/admin/requests/" + strconv.FormatInt(call, 10)},
		{"Topology24h", "/admin/topology"},
		{"Topology7d", "/admin/topology?window=7d"},
		{"Topology30d", "/admin/topology?window=30d"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if got := h.get(p.path); got.code != 200 {
					b.Fatalf("%s answered %d", p.path, got.code)
				}
			}
			mean := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(mean.Microseconds())/1000, "ms/page")
			if mean > 50*time.Millisecond {
				b.Errorf("%s took %v on average; every page must answer within 50 ms", p.path, mean)
			}
		})
	}
}

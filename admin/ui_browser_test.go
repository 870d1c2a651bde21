package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
	"github.com/tollgate-gw/tollgate/webui/browsertest"
)

// browserGateway is the whole engine as `tollgate serve` mounts it — the real
// gateway, the admin API and the dashboard — over a real store, in front of a fake
// upstream, on a real port the browser can reach.
type browserGateway struct {
	st       *store.Store
	gw       *router.Gateway
	srv      *httptest.Server
	upstream *providertest.OpenAIServer
}

func startBrowserGateway(t *testing.T) *browserGateway {
	t.Helper()
	ctx := context.Background()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(t.TempDir(), "tollgate.db"), SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	up := providertest.NewOpenAI()
	t.Cleanup(up.Close)
	gw, err := router.New(ctx, router.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowPrivateUpstreams: true}, st)
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(tok string) bool { return subtle.ConstantTimeCompare([]byte(tok), []byte(testToken)) == 1 }
	e := gin.New()
	e.Use(router.RequestID)
	gw.Register(e)
	New(st, gw, authorize).AllowPrivateUpstreams(true).Register(e)
	NewUI(st, gw, authorize).AllowPrivateUpstreams(true).Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &browserGateway{st: st, gw: gw, srv: srv, upstream: up}
}

// chat makes one real call through the gateway with a tenant's key.
func chat(t *testing.T, base, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestDashboardInBrowser walks an operator's first session in headless Chromium:
// create the first admin with the admin token, sign in, price a model, add a
// channel and test it, create a tenant, top it up, create keys; then a real call
// (and a refused one) go through the gateway, and the dashboard shows the lower
// balance, the calls in the request log and the edges in the topology. Every
// screen is saved as a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	g := startBrowserGateway(t)
	b := browsertest.New(t, g.srv.URL, "dashboard")
	const model = "tg-test-model"
	// 250,000 completion tokens at $2/M is $0.50; the prompt is a few tokens at $1/M.
	g.upstream.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 250_000, Text: "Hello from the fake upstream."})
	parent := b

	t.Run("FirstAdminFromAdminToken", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/", "#setup-form")
		b.Shot("01-first-admin")
		b.Fill("#setup-form", map[string]string{"admin_token": testToken, "email": testAdminEmail,
			"password": testAdminPassword, "confirm": testAdminPassword}, "#top-tenants, .empty")
		if got := b.Text(".signout .user"); got != testAdminEmail {
			t.Fatalf("signed in as %q", got)
		}
	})
	t.Run("SignOutAndSignIn", func(t *testing.T) {
		b := parent.In(t)
		b.Click(".signout button", "#login-form")
		b.Fill("#login-form", map[string]string{"email": testAdminEmail, "password": "wrong password!"}, ".form-error")
		if msg := b.Text(".form-error"); !strings.Contains(msg, "Wrong email or password") {
			t.Fatalf("wrong password message %q", msg)
		}
		b.Shot("02-sign-in-refused")
		b.Fill("#login-form", map[string]string{"email": testAdminEmail, "password": testAdminPassword}, ".kpis")
	})
	t.Run("PriceAModel", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/prices/edit", "#price-form")
		b.Fill("#price-form", map[string]string{"model": model, "input_usd_per_mtok": "1", "output_usd_per_mtok": "2",
			"context_window": "1000000", "max_output": "500000"}, "#prices-table")
		if !strings.Contains(b.Text("#prices-table"), model) {
			t.Fatal("the new price is not listed")
		}
		b.Open("/admin/prices", "#prices-table")
		b.Shot("03-prices")
	})
	t.Run("ChannelCreatedAndTested", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/channels/new", "#channel-form")
		b.Fill("#channel-form", map[string]string{"name": "fake-openai", "base_url": g.upstream.URL(), "api_key": "sk-upstream-test",
			"models": model}, "#channels-table")
		b.Do("test the channel", chromedp.Click(chromedp.CSS(`button[id^="test-button-"]`)), chromedp.WaitVisible(chromedp.CSS(".test-result .test.ok")))
		if got := b.Text(".test-result .test.ok"); !strings.Contains(got, "Hello from the fake upstream") {
			t.Fatalf("test result %q", got)
		}
		b.Shot("04-channel-tested")
		calls := g.upstream.Calls()
		if len(calls) != 1 || calls[0].Header.Get("Authorization") != "Bearer sk-upstream-test" {
			t.Fatalf("the test call did not reach the upstream with the channel's key: %d calls", len(calls))
		}
	})
	var tenantPath, appKey, tightKey string
	t.Run("TenantCreatedToppedUpAndKeyed", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/tenants", "#create-tenant")
		b.Fill("#create-tenant", map[string]string{"name": "acme"}, "#topup-form")
		tenantPath = strings.TrimPrefix(b.Location(), g.srv.URL)
		b.Fill("#topup-form", map[string]string{"amount_usd": "5", "note": "welcome credit"}, ".flash")
		if flash := b.Text(".flash"); !strings.Contains(flash, "Credited $5.00") {
			t.Fatalf("flash %q", flash)
		}
		if bal := b.Text("#tenant-balance"); bal != "$5.00" {
			t.Fatalf("balance %q after a $5 top-up", bal)
		}
		b.Fill("#key-form", map[string]string{"name": "app"}, "#new-key")
		appKey = b.Value("#new-key")
		b.Shot("05-tenant-new-key")
		b.Fill("#key-form", map[string]string{"name": "tight", "budget_usd": "0.000001"}, "#new-key")
		tightKey = b.Value("#new-key")
		if !strings.HasPrefix(appKey, "sk-tg-") || !strings.HasPrefix(tightKey, "sk-tg-") || appKey == tightKey {
			t.Fatalf("keys %q, %q", appKey, tightKey)
		}
	})
	t.Run("RealCallsThroughTheGateway", func(t *testing.T) {
		body := `{"model":"` + model + `","max_tokens":250000,"messages":[{"role":"user","content":"hi"}]}`
		if code, raw := chat(t, g.srv.URL, appKey, body); code != 200 {
			t.Fatalf("served call: %d %s", code, raw)
		}
		if code, raw := chat(t, g.srv.URL, tightKey, body); code != 402 {
			t.Fatalf("call over the key's budget: %d %s, want 402", code, raw)
		}
	})
	t.Run("TenantPageShowsLowerBalance", func(t *testing.T) {
		b := parent.In(t)
		ten, err := g.st.Tenant(context.Background(), strings.TrimPrefix(tenantPath, "/admin/tenants/"))
		if err != nil {
			t.Fatal(err)
		}
		if ten.Balance >= 5_000_000_000 || ten.Balance < 4_000_000_000 {
			t.Fatalf("stored balance %s, want about 4.50", ten.Balance)
		}
		b.Open(tenantPath, "#tenant-balance")
		if got, want := b.Text("#tenant-balance"), webui.USD(ten.Balance); got != want || got != "$4.50" {
			t.Fatalf("balance shows %q, want %q ($4.50)", got, want)
		}
		if title := b.Attr("#tenant-balance .money", "title"); title != ten.Balance.String()+" USD" {
			t.Fatalf("balance tooltip %q, want the exact %s USD", title, ten.Balance)
		}
		if ledger := b.Text("#ledger-table"); !strings.Contains(ledger, "usage") || !strings.Contains(ledger, "topup") {
			t.Fatalf("ledger lacks the debit or the top-up: %s", ledger)
		}
		b.Do("chart drawn", chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
		b.Shot("06-tenant")
	})
	t.Run("RequestLogShowsBothCalls", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/requests", "#requests-table")
		rows := b.Text("#requests-table tbody")
		if !strings.Contains(rows, model) || !strings.Contains(rows, "402") || !strings.Contains(rows, "200") || !strings.Contains(rows, "$0.50") {
			t.Fatalf("request log rows:\n%s", rows)
		}
		b.Shot("07-requests")
		b.Click(`tr.status-ok a[href^="/admin/requests/"]`, "#attempts-table")
		if att := b.Text("#attempts-table"); !strings.Contains(att, "fake-openai") || !strings.Contains(att, "200") {
			t.Fatalf("attempts: %s", att)
		}
		if usage := b.Text("#usage-source"); !strings.Contains(usage, "reported by the upstream") {
			t.Fatalf("usage source %q", usage)
		}
		b.Shot("08-request")
		b.Open("/admin/requests?status=402", "#requests-table")
		if rows := b.Text("#requests-table tbody"); !strings.Contains(rows, "tight") || strings.Contains(rows, "$0.50") {
			t.Fatalf("402 filter rows:\n%s", rows)
		}
	})
	t.Run("TopologyShowsTheEdges", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/topology", "#topology")
		svg := b.HTML("#topology")
		for _, want := range []string{"acme → app (sk-tg-", "…) → " + model, model + " → fake-openai", "fake-openai → openai", model + " → refused (402)", "acme → tight (sk-tg-"} {
			if !strings.Contains(svg, want) {
				t.Errorf("topology lacks %q", want)
			}
		}
		if !strings.Contains(svg, "edge-refused") {
			t.Error("the 402 edge is not coloured as refused")
		}
		if att := b.Text("#attention-table"); !strings.Contains(att, "refused (402)") {
			t.Errorf("attention table: %s", att)
		}
		b.Shot("09-topology")
	})
	t.Run("OverviewAndLists", func(t *testing.T) {
		b := parent.In(t)
		b.Open("/admin/", "#top-tenants")
		b.Do("chart drawn", chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
		if top := b.Text("#top-tenants"); !strings.Contains(top, "acme") || !strings.Contains(top, "$0.50") {
			t.Fatalf("top tenants: %s", top)
		}
		b.Shot("10-overview")
		b.Open("/admin/tenants", "#tenants-table")
		b.Shot("11-tenants")
		b.Open("/admin/channels", "#channels-table")
		if health := b.Text("#channels-table"); !strings.Contains(health, "closed") || !strings.Contains(health, "1 ok") {
			t.Fatalf("channel health: %s", health)
		}
		b.Shot("12-channels")
	})
	t.Run("NoConsoleErrors", func(t *testing.T) {
		b := parent.In(t)
		var bad []string
		for _, e := range b.ConsoleErrors() {
			// The sign-in page's refused password is answered 401, which Chromium logs.
			if strings.Contains(e, "401") {
				continue
			}
			bad = append(bad, e)
		}
		if len(bad) > 0 {
			t.Fatalf("the pages logged errors:\n%s", strings.Join(bad, "\n"))
		}
	})
}

package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// findChromium locates a Chromium to drive. Without one the browser test fails in
// CI (CI=true installs it, so its absence is a broken setup) and is skipped with the
// reason elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("TOLLGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "the dashboard browser test needs Chromium: install it (Debian: apt-get install -y chromium) or set TOLLGATE_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	fmt.Println("admin: browser test skipped:", msg)
	t.Skip(msg)
	return ""
}

// artifactDir is where screenshots go: $TOLLGATE_ARTIFACTS, else artifacts/dashboard
// at the repository root (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			root = t.TempDir()
		}
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

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

// browser is one headless Chromium tab with the flags a closed network needs.
type browser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string
	console *consoleLog
}

// consoleLog collects what pages log as errors.
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// in returns the browser reporting failures to t (a subtest).
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, shots: artifactDir(t), console: &consoleLog{}}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.console.mu.Lock()
				b.console.errs = append(b.console.errs, m.String())
				b.console.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps with a time limit and fails the test with the step's error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text reads an element's text.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !r.Exists {
		b.t.Fatalf("attribute %s of %s: %v (exists %v)", name, sel, err, r.Exists)
	}
	return r.Value
}

func (b *browser) html(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("html of %s: %v", sel, err)
	}
	return s
}

// open navigates to a dashboard path and waits for an element of it.
func (b *browser) open(path, ready string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// fill types values into the named fields of a form and submits it, then waits for
// an element of the next page.
func (b *browser) fill(form string, fields map[string]string, ready string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		sel := chromedp.CSS(form + ` [name="` + name + `"]`)
		steps = append(steps, chromedp.SetValue(sel, v))
	}
	steps = append(steps, markStale, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)))
	steps = append(steps, chromedp.WaitReady(chromedp.CSS("body:not([data-stale])")), chromedp.WaitVisible(chromedp.CSS(ready)))
	b.do("fill "+form, steps...)
}

// markStale tags the current page, so a wait after a click can tell the next page
// from the one that is still showing.
func markStale(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`document.body.setAttribute("data-stale", "1"), true`)(ctx, t)
	return chromedp.Void{}, err
}

// click clicks an element that loads another page and waits for an element of it.
func (b *browser) click(sel, ready string) {
	b.t.Helper()
	b.do("click "+sel, markStale, chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitReady(chromedp.CSS("body:not([data-stale])")), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// shot saves a full-page PNG of the current page as an artifact.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// consoleErrors returns what the pages logged as errors (CSP refusals included).
func (b *browser) consoleErrors() []string {
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	return append([]string(nil), b.console.errs...)
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
	b := newBrowser(t, g.srv.URL)
	const model = "tg-test-model"
	// 250,000 completion tokens at $2/M is $0.50; the prompt is a few tokens at $1/M.
	g.upstream.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 250_000, Text: "Hello from the fake upstream."})
	parent := b

	t.Run("FirstAdminFromAdminToken", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/", "#setup-form")
		b.shot("01-first-admin")
		b.fill("#setup-form", map[string]string{"admin_token": testToken, "email": testAdminEmail,
			"password": testAdminPassword, "confirm": testAdminPassword}, "#top-tenants, .empty")
		if got := b.text(".signout .user"); got != testAdminEmail {
			t.Fatalf("signed in as %q", got)
		}
	})
	t.Run("SignOutAndSignIn", func(t *testing.T) {
		b := parent.in(t)
		b.click(".signout button", "#login-form")
		b.fill("#login-form", map[string]string{"email": testAdminEmail, "password": "wrong password!"}, ".form-error")
		if msg := b.text(".form-error"); !strings.Contains(msg, "Wrong email or password") {
			t.Fatalf("wrong password message %q", msg)
		}
		b.shot("02-sign-in-refused")
		b.fill("#login-form", map[string]string{"email": testAdminEmail, "password": testAdminPassword}, ".kpis")
	})
	t.Run("PriceAModel", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/prices/edit", "#price-form")
		b.fill("#price-form", map[string]string{"model": model, "input_usd_per_mtok": "1", "output_usd_per_mtok": "2",
			"context_window": "1000000", "max_output": "500000"}, "#prices-table")
		if !strings.Contains(b.text("#prices-table"), model) {
			t.Fatal("the new price is not listed")
		}
		b.open("/admin/prices", "#prices-table")
		b.shot("03-prices")
	})
	t.Run("ChannelCreatedAndTested", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/channels/new", "#channel-form")
		b.fill("#channel-form", map[string]string{"name": "fake-openai", "base_url": g.upstream.URL(), "api_key": "sk-upstream-test",
			"models": model}, "#channels-table")
		b.do("test the channel", chromedp.Click(chromedp.CSS(`button[id^="test-button-"]`)), chromedp.WaitVisible(chromedp.CSS(".test-result .test.ok")))
		if got := b.text(".test-result .test.ok"); !strings.Contains(got, "Hello from the fake upstream") {
			t.Fatalf("test result %q", got)
		}
		b.shot("04-channel-tested")
		calls := g.upstream.Calls()
		if len(calls) != 1 || calls[0].Header.Get("Authorization") != "Bearer sk-upstream-test" {
			t.Fatalf("the test call did not reach the upstream with the channel's key: %d calls", len(calls))
		}
	})
	var tenantPath, appKey, tightKey string
	t.Run("TenantCreatedToppedUpAndKeyed", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/tenants", "#create-tenant")
		b.fill("#create-tenant", map[string]string{"name": "acme"}, "#topup-form")
		loc, err := chromedp.Run(b.ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		tenantPath = strings.TrimPrefix(loc, g.srv.URL)
		b.fill("#topup-form", map[string]string{"amount_usd": "5", "note": "welcome credit"}, ".flash")
		if flash := b.text(".flash"); !strings.Contains(flash, "Credited $5.00") {
			t.Fatalf("flash %q", flash)
		}
		if bal := b.text("#tenant-balance"); bal != "$5.00" {
			t.Fatalf("balance %q after a $5 top-up", bal)
		}
		b.fill("#key-form", map[string]string{"name": "app"}, "#new-key")
		appKey = b.value("#new-key")
		b.shot("05-tenant-new-key")
		b.fill("#key-form", map[string]string{"name": "tight", "budget_usd": "0.000001"}, "#new-key")
		tightKey = b.value("#new-key")
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
		b := parent.in(t)
		ten, err := g.st.Tenant(context.Background(), strings.TrimPrefix(tenantPath, "/admin/tenants/"))
		if err != nil {
			t.Fatal(err)
		}
		if ten.Balance >= 5_000_000_000 || ten.Balance < 4_000_000_000 {
			t.Fatalf("stored balance %s, want about 4.50", ten.Balance)
		}
		b.open(tenantPath, "#tenant-balance")
		if got, want := b.text("#tenant-balance"), webui.USD(ten.Balance); got != want || got != "$4.50" {
			t.Fatalf("balance shows %q, want %q ($4.50)", got, want)
		}
		if title := b.attr("#tenant-balance .money", "title"); title != ten.Balance.String()+" USD" {
			t.Fatalf("balance tooltip %q, want the exact %s USD", title, ten.Balance)
		}
		if ledger := b.text("#ledger-table"); !strings.Contains(ledger, "usage") || !strings.Contains(ledger, "topup") {
			t.Fatalf("ledger lacks the debit or the top-up: %s", ledger)
		}
		b.do("chart drawn", chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
		b.shot("06-tenant")
	})
	t.Run("RequestLogShowsBothCalls", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/requests", "#requests-table")
		rows := b.text("#requests-table tbody")
		if !strings.Contains(rows, model) || !strings.Contains(rows, "402") || !strings.Contains(rows, "200") || !strings.Contains(rows, "$0.50") {
			t.Fatalf("request log rows:\n%s", rows)
		}
		b.shot("07-requests")
		b.click(`tr.status-ok a[href^="/admin/requests/"]`, "#attempts-table")
		if att := b.text("#attempts-table"); !strings.Contains(att, "fake-openai") || !strings.Contains(att, "200") {
			t.Fatalf("attempts: %s", att)
		}
		if usage := b.text("#usage-source"); !strings.Contains(usage, "reported by the upstream") {
			t.Fatalf("usage source %q", usage)
		}
		b.shot("08-request")
		b.open("/admin/requests?status=402", "#requests-table")
		if rows := b.text("#requests-table tbody"); !strings.Contains(rows, "tight") || strings.Contains(rows, "$0.50") {
			t.Fatalf("402 filter rows:\n%s", rows)
		}
	})
	t.Run("TopologyShowsTheEdges", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/topology", "#topology")
		svg := b.html("#topology")
		for _, want := range []string{"acme → app (sk-tg-", "…) → " + model, model + " → fake-openai", "fake-openai → openai", model + " → refused (402)", "acme → tight (sk-tg-"} {
			if !strings.Contains(svg, want) {
				t.Errorf("topology lacks %q", want)
			}
		}
		if !strings.Contains(svg, "edge-refused") {
			t.Error("the 402 edge is not coloured as refused")
		}
		if att := b.text("#attention-table"); !strings.Contains(att, "refused (402)") {
			t.Errorf("attention table: %s", att)
		}
		b.shot("09-topology")
	})
	t.Run("OverviewAndLists", func(t *testing.T) {
		b := parent.in(t)
		b.open("/admin/", "#top-tenants")
		b.do("chart drawn", chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
		if top := b.text("#top-tenants"); !strings.Contains(top, "acme") || !strings.Contains(top, "$0.50") {
			t.Fatalf("top tenants: %s", top)
		}
		b.shot("10-overview")
		b.open("/admin/tenants", "#tenants-table")
		b.shot("11-tenants")
		b.open("/admin/channels", "#channels-table")
		if health := b.text("#channels-table"); !strings.Contains(health, "closed") || !strings.Contains(health, "1 ok") {
			t.Fatalf("channel health: %s", health)
		}
		b.shot("12-channels")
	})
	t.Run("NoConsoleErrors", func(t *testing.T) {
		b := parent.in(t)
		var bad []string
		for _, e := range b.consoleErrors() {
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

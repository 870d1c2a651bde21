package portal

import (
	"context"
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
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// findChromium locates a Chromium to drive. Without one the test fails in CI
// (CI=true installs it, so its absence is a broken setup) and is skipped elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, c := range []string{os.Getenv("TOLLGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "the portal browser test needs Chromium: install it (Debian: apt-get install -y chromium) or set TOLLGATE_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	fmt.Println("portal: browser test skipped:", msg)
	t.Skip(msg)
	return ""
}

// shotDir is where screenshots go: $TOLLGATE_ARTIFACTS/portal, else artifacts/portal
// at the repository root (ignored by git).
func shotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		root, _ := filepath.Abs("..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			root = t.TempDir()
		}
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, "portal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one headless Chromium tab.
type tab struct {
	t       *testing.T
	ctx     context.Context
	base    string
	shots   string
	console *consoleLog
}

// consoleLog collects what pages log as errors (CSP refusals included).
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t)), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &tab{t: t, ctx: ctx, base: base, shots: shotDir(t), console: &consoleLog{}}
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

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func (b *tab) open(path, ready string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// markStale tags the current page, so a wait after a click can tell the next page
// from the one still showing.
func markStale(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`document.body.setAttribute("data-stale", "1"), true`)(ctx, t)
	return chromedp.Void{}, err
}

// fill sets a form's fields, submits it and waits for an element of the next page.
func (b *tab) fill(form string, fields map[string]string, ready string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	steps = append(steps, markStale, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS("body:not([data-stale])")), chromedp.WaitVisible(chromedp.CSS(ready)))
	b.do("fill "+form, steps...)
}

func (b *tab) click(sel, ready string) {
	b.t.Helper()
	b.do("click "+sel, markStale, chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitReady(chromedp.CSS("body:not([data-stale])")), chromedp.WaitVisible(chromedp.CSS(ready)))
}

func (b *tab) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestPortalInBrowser walks a tenant's first session in headless Chromium against
// the real gateway: join through the operator's invite link, sign out and in,
// redeem a code and see the new balance, create a key, and call /v1 with it; the
// portal then shows the call and the lower balance. Screens are saved as
// screenshots.
func TestPortalInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx := context.Background()
	st := openStore(t)
	up := providertest.NewOpenAI()
	t.Cleanup(up.Close)
	up.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 250_000, Text: "Hello from the fake upstream."})
	const model = "tg-portal-model"
	if err := st.PutPrice(ctx, billing.Price{Model: model, Input: 1_000_000, Output: 2_000_000, ContextWindow: 100_000, MaxOutput: 300_000}); err != nil {
		t.Fatal(err)
	}
	name, provider, base := "fake", "openai-compatible", up.URL()
	if _, err := st.CreateChannel(ctx, store.ChannelInput{Name: &name, Provider: &provider, BaseURL: &base, Models: &[]string{model}}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := router.New(ctx, router.Config{Logger: logger, AllowPrivateUpstreams: true}, st)
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	e.Use(router.RequestID)
	gw.Register(e)
	gw.RegisterBilling(e)
	New(st, gw, Config{Logger: logger}).Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	ten, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := st.CreateInvite(ctx, ten.ID, "dev@acme.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, codes, err := st.CreateRedeemBatch(ctx, 10*usd, 1, time.Time{}, "browser test")
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv.URL)
	parent := b
	in := func(t *testing.T) *tab { c := *parent; c.t = t; return &c }
	var key string

	t.Run("JoinThroughInvite", func(t *testing.T) {
		b := in(t)
		b.open("/portal/invite/"+token, "#invite-form")
		b.shot("01-invite")
		b.fill("#invite-form", map[string]string{"password": testPassword, "confirm": testPassword}, "#balance")
		if got := b.text("#account-name"); got != "acme" {
			t.Fatalf("account %q", got)
		}
	})
	t.Run("SignOutAndSignIn", func(t *testing.T) {
		b := in(t)
		b.click(".signout button", "#login-form")
		b.fill("#login-form", map[string]string{"email": "dev@acme.example", "password": "wrong password"}, ".form-error")
		b.console.mu.Lock()
		b.console.errs = nil // the 401 of the refused sign-in is meant
		b.console.mu.Unlock()
		b.fill("#login-form", map[string]string{"email": "dev@acme.example", "password": testPassword}, "#balance")
		if got := b.text("#balance"); got != "$0.00" {
			t.Fatalf("balance %q", got)
		}
		b.shot("02-overview-empty")
	})
	t.Run("RedeemCodeShowsNewBalance", func(t *testing.T) {
		b := in(t)
		b.open("/portal/credit", "#redeem-form")
		b.fill("#redeem-form", map[string]string{"code": codes[0].Code}, ".flash")
		if got := b.text(".flash"); !strings.Contains(got, "Redeemed $10.00") {
			t.Fatalf("flash %q", got)
		}
		if got := b.text("#balance"); got != "$10.00" {
			t.Fatalf("balance after redeeming %q", got)
		}
		b.shot("03-redeemed")
		b.open("/portal/", "#balance")
		if got := b.text("#balance"); got != "$10.00" {
			t.Fatalf("overview balance %q", got)
		}
	})
	t.Run("CreateKeyShownOnce", func(t *testing.T) {
		b := in(t)
		b.open("/portal/keys", "#key-form")
		b.fill("#key-form", map[string]string{"name": "my app", "models": model, "budget_usd": "5"}, "#new-key")
		key = b.value("#new-key")
		if !store.WellFormedKey(key) {
			t.Fatalf("key %q", key)
		}
		b.shot("04-key-created")
		b.open("/portal/keys", "#keys-table")
		if strings.Contains(b.text("#keys-table"), key) {
			t.Fatal("the key is shown again")
		}
	})
	t.Run("KeyWorksAgainstV1", func(t *testing.T) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"max_tokens":300000}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(raw), "Hello from the fake upstream") {
			t.Fatalf("%d %s", resp.StatusCode, raw)
		}
	})
	t.Run("PortalShowsTheCallAndLowerBalance", func(t *testing.T) {
		b := in(t)
		b.open("/portal/", "#balance")
		// 250,000 completion tokens at $2/M = $0.50, plus a few prompt tokens.
		if got := b.text("#balance"); got != "$9.50" {
			t.Fatalf("balance after the call %q", got)
		}
		b.shot("05-overview")
		b.open("/portal/requests", "#requests-table")
		if got := b.text("#requests-table"); !strings.Contains(got, model) || !strings.Contains(got, "my app") {
			t.Fatalf("request log %q", got)
		}
		b.shot("06-requests")
		b.open("/portal/usage", "#usage-by-model")
		b.shot("07-usage")
	})
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	if len(b.console.errs) > 0 {
		t.Fatalf("the pages logged errors: %v", b.console.errs)
	}
}

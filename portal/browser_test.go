package portal

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui/browsertest"
)

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
	b := browsertest.New(t, srv.URL, "portal")
	parent := b
	in := parent.In
	var key string

	t.Run("JoinThroughInvite", func(t *testing.T) {
		b := in(t)
		b.Open("/portal/invite/"+token, "#invite-form")
		b.Shot("01-invite")
		b.Fill("#invite-form", map[string]string{"password": testPassword, "confirm": testPassword}, "#balance")
		if got := b.Text("#account-name"); got != "acme" {
			t.Fatalf("account %q", got)
		}
	})
	t.Run("SignOutAndSignIn", func(t *testing.T) {
		b := in(t)
		b.Click(".signout button", "#login-form")
		b.Fill("#login-form", map[string]string{"email": "dev@acme.example", "password": "wrong password"}, ".form-error")
		b.ForgetConsoleErrors() // the 401 of the refused sign-in is meant
		b.Fill("#login-form", map[string]string{"email": "dev@acme.example", "password": testPassword}, "#balance")
		if got := b.Text("#balance"); got != "$0.00" {
			t.Fatalf("balance %q", got)
		}
		b.Shot("02-overview-empty")
	})
	t.Run("RedeemCodeShowsNewBalance", func(t *testing.T) {
		b := in(t)
		b.Open("/portal/credit", "#redeem-form")
		b.Fill("#redeem-form", map[string]string{"code": codes[0].Code}, ".flash")
		if got := b.Text(".flash"); !strings.Contains(got, "Redeemed $10.00") {
			t.Fatalf("flash %q", got)
		}
		if got := b.Text("#balance"); got != "$10.00" {
			t.Fatalf("balance after redeeming %q", got)
		}
		b.Shot("03-redeemed")
		b.Open("/portal/", "#balance")
		if got := b.Text("#balance"); got != "$10.00" {
			t.Fatalf("overview balance %q", got)
		}
	})
	t.Run("CreateKeyShownOnce", func(t *testing.T) {
		b := in(t)
		b.Open("/portal/keys", "#key-form")
		b.Fill("#key-form", map[string]string{"name": "my app", "models": model, "budget_usd": "5"}, "#new-key")
		key = b.Value("#new-key")
		if !store.WellFormedKey(key) {
			t.Fatalf("key %q", key)
		}
		b.Shot("04-key-created")
		b.Open("/portal/keys", "#keys-table")
		if strings.Contains(b.Text("#keys-table"), key) {
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
		b.Open("/portal/", "#balance")
		// 250,000 completion tokens at $2/M = $0.50, plus a few prompt tokens.
		if got := b.Text("#balance"); got != "$9.50" {
			t.Fatalf("balance after the call %q", got)
		}
		b.Shot("05-overview")
		b.Open("/portal/requests", "#requests-table")
		if got := b.Text("#requests-table"); !strings.Contains(got, model) || !strings.Contains(got, "my app") {
			t.Fatalf("request log %q", got)
		}
		b.Shot("06-requests")
		b.Open("/portal/usage", "#usage-by-model")
		b.Shot("07-usage")
	})
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Fatalf("the pages logged errors: %v", errs)
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/alert"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/payment/stripetest"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

func TestPortalSettingsValidated(t *testing.T) {
	base := defaultConfig()
	for name, c := range map[string]struct {
		change func(*Config)
		bad    string
	}{
		"StripeKeyWithoutWebhookSecret": {func(c *Config) { c.StripeSecretKey, c.PublicURL = "sk_test_x", "https://gw.example" }, "set both"},
		"WebhookSecretNotWhsec": {func(c *Config) {
			c.StripeSecretKey, c.StripeWebhookSecret, c.PublicURL = "sk_test_x", "sk_oops", "https://gw.example"
		}, "whsec_"},
		"StripeWithoutPublicURL": {func(c *Config) { c.StripeSecretKey, c.StripeWebhookSecret = "sk_test_x", "whsec_x" }, "TOLLGATE_PUBLIC_URL is required"},
		"PublicURLNotAURL":       {func(c *Config) { c.PublicURL = "gw.example" }, "TOLLGATE_PUBLIC_URL must be"},
		"StripeAPIURLNotAURL":    {func(c *Config) { c.StripeAPIURL = "stripe" }, "TOLLGATE_STRIPE_API_URL"},
		"AlertIntervalTooShort":  {func(c *Config) { c.AlertInterval = time.Millisecond }, "TOLLGATE_ALERT_INTERVAL"},
		"CompleteStripeSetupAccepted": {func(c *Config) {
			c.StripeSecretKey, c.StripeWebhookSecret, c.PublicURL = "sk_test_x", "whsec_x", "https://gw.example"
		}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			c.change(&cfg)
			err := cfg.Validate()
			if c.bad == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
				t.Fatalf("err = %v, want %q", err, c.bad)
			}
		})
	}
}

// TestPortalEndToEnd runs the whole gateway with card payments against a fake
// Stripe: an operator invites a tenant user, who joins, pays by card, is credited by
// the signed webhook, sees the balance over the billing endpoint, and gets a
// low-balance alert when a call takes the credit below the threshold.
func TestPortalEndToEnd(t *testing.T) {
	up := providertest.NewOpenAI()
	defer up.Close()
	fake := stripetest.NewServer()
	defer fake.Close()
	var alerts atomic.Int64
	var alertBody, alertSig atomic.Value
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		alertBody.Store(string(b))
		alertSig.Store(r.Header.Get(alert.SignatureHeader))
		alerts.Add(1)
	}))
	defer receiver.Close()
	const whsec = "whsec_e2e"
	env := map[string]string{"TOLLGATE_ADMIN_TOKEN": testAdminToken, "TOLLGATE_STRIPE_SECRET_KEY": "sk_test_e2e",
		"TOLLGATE_STRIPE_WEBHOOK_SECRET": whsec, "TOLLGATE_STRIPE_API_URL": fake.URL, "TOLLGATE_PUBLIC_URL": "https://gw.example",
		"TOLLGATE_ALLOW_PRIVATE_WEBHOOKS": "true", "TOLLGATE_ALERT_INTERVAL": "1s"}
	cfg, _, err := ParseFlags("serve", []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-grace", "2s", "--log-level", "error",
		"--allow-private-upstreams"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Out: io.Discard}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tenantID, key := setupTenant(t, m, up.URL(), "0")

	var invite struct{ URL, Token string }
	adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenantID+"/invites", map[string]any{"email": "dev@acme.example"}, &invite)
	if invite.URL != "https://gw.example/portal/invite/"+invite.Token {
		t.Fatalf("invite %+v", invite)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string, string) {
		resp, err := browser.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Location")
	}
	post := func(path string, form url.Values) (int, string) {
		resp, err := browser.PostForm(m.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

	_, page, _ := get("/portal/invite/" + invite.Token)
	if code, _ := post("/portal/invite/"+invite.Token, url.Values{"csrf_token": {csrf.FindStringSubmatch(page)[1]},
		"password": {"tenant password 1"}, "confirm": {"tenant password 1"}}); code != http.StatusSeeOther {
		t.Fatalf("joining answered %d", code)
	}
	_, page, _ = get("/portal/")
	token := csrf.FindStringSubmatch(page)[1]

	code, to := post("/portal/checkout", url.Values{"csrf_token": {token}, "amount_usd": {"30"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(to, fake.URL) {
		t.Fatalf("checkout answered %d → %q", code, to)
	}
	sess, _ := fake.Session(strings.TrimPrefix(to, fake.URL+"/pay/"))
	event := stripetest.Event("evt_e2e", payment.EventCompleted, sess)
	req, _ := http.NewRequest("POST", m.URL()+"/portal/stripe/webhook", strings.NewReader(string(event)))
	req.Header.Set("Stripe-Signature", stripetest.Sign(event, whsec, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()

	req, _ = http.NewRequest("GET", m.URL()+"/v1/dashboard/billing/subscription", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sub struct {
		HardLimitUSD float64 `json:"hard_limit_usd"`
		Tollgate     struct {
			BalanceUSD string `json:"balance_usd"`
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&sub)
	resp.Body.Close()
	if sub.Tollgate.BalanceUSD != "30.000000000" || sub.HardLimitUSD != 30 {
		t.Fatalf("subscription %+v", sub)
	}

	// An alert at the balance itself: the first billed call crosses it.
	if code, _ := post("/portal/alerts", url.Values{"csrf_token": {token}, "threshold_usd": {"30"}, "url": {receiver.URL + "/hook"}}); code != http.StatusSeeOther {
		t.Fatalf("alert answered %d", code)
	}
	req, _ = http.NewRequest("POST", m.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}],"max_tokens":20}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("call: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for alerts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alerts.Load() != 1 || !strings.Contains(alertBody.Load().(string), `"type":"balance.low"`) {
		t.Fatalf("%d alerts", alerts.Load())
	}
	a, err := m.Store.BalanceAlert(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if err := alert.Verify(a.Secret, alertSig.Load().(string), []byte(alertBody.Load().(string)), time.Now(), time.Minute); err != nil {
		t.Fatalf("alert signature: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if alerts.Load() != 1 {
		t.Fatalf("%d alerts for one crossing", alerts.Load())
	}
	if ten, _ := m.Store.Tenant(context.Background(), tenantID); ten.Balance >= 30*billing.NanosPerUSD {
		t.Fatalf("the call was not billed: %s", ten.Balance)
	}
}

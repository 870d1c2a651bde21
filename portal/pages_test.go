package portal

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// seedCalls logs served, refused and failed calls of a tenant's key.
func seedCalls(t testing.TB, st *store.Store, ten store.Tenant, k store.APIKey) {
	t.Helper()
	now := time.Now().UnixMilli()
	recs := []store.CallRecord{
		{RequestID: "req_served_" + ten.Name, TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o-mini", ChannelID: "ch_secret", Provider: "openai",
			Status: 200, Usage: billing.Usage{PromptTokens: 1200, CompletionTokens: 300}, Cost: 360_000, LatencyMs: 320, CreatedAt: now - 60_000},
		{RequestID: "req_402_" + ten.Name, TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o", Status: 402, ErrorCode: "insufficient_quota",
			ErrorMessage: "Insufficient credit", CreatedAt: now - 20_000},
		{RequestID: "req_502_" + ten.Name, TenantID: ten.ID, KeyID: k.ID, Endpoint: "chat", Model: "gpt-4o-mini", Status: 502, ErrorCode: "upstream_error", CreatedAt: now - 10_000},
	}
	if err := st.RecordCalls(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func TestEveryScreenRenders(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", 25*usd)
	t.Run("EmptyStatesSayWhatToDo", func(t *testing.T) {
		u.get("/portal/").mustStatus(t, 200).mustContain(t, "No calls in the last 30 days", `id="balance"`, "$25.00")
		u.get("/portal/keys").mustStatus(t, 200).mustContain(t, "No keys yet")
		u.get("/portal/requests").mustStatus(t, 200).mustContain(t, "No calls yet")
		u.get("/portal/usage").mustStatus(t, 200).mustContain(t, "No calls in this period")
		u.get("/portal/alerts").mustStatus(t, 200).mustContain(t, `id="alert-form"`)
		u.get("/portal/credit").mustStatus(t, 200).mustContain(t, `id="redeem-form"`, "Card payments are not set up")
	})
	k, _, err := h.st.CreateKey(context.Background(), store.NewKey{TenantID: u.tenant.ID, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	seedCalls(t, h.st, u.tenant, k)
	calls, _ := h.st.Calls(context.Background(), store.CallFilter{TenantID: u.tenant.ID})
	for _, c := range []struct {
		name  string
		path  string
		wants []string
	}{
		{"OverviewShowsWalletChartAndLedger", "/portal/", []string{`id="balance"`, `id="held"`, `id="available"`, `data-chart="chart-portal"`, `id="ledger-table"`, `id="account-name">acme<`}},
		{"UsageShowsDaysAndModels", "/portal/usage?days=7", []string{`id="usage-by-model"`, `id="usage-by-day-model"`, "gpt-4o-mini", `data-chart="chart-usage"`}},
		{"LedgerListsEntries", "/portal/ledger", []string{`id="ledger-table"`, "topup", "$25.00"}},
		{"KeysListHintsOnly", "/portal/keys", []string{`id="keys-table"`, k.Hint, "app"}},
		{"KeyPageShowsLimits", "/portal/keys/" + k.ID, []string{`id="key-edit-form"`, `id="key-spent"`}},
		{"RequestLogListsOwnCalls", "/portal/requests", []string{`id="requests-table"`, "gpt-4o-mini", "insufficient_quota"}},
		{"RequestLogFilters", "/portal/requests?status=402&key_id=" + k.ID, []string{"insufficient_quota"}},
		{"RequestShowsOneCall", "/portal/requests/" + itoa(calls[0].ID), []string{`id="request-id"`, `id="request-cost"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := u.get(c.path).mustStatus(t, 200).mustContain(t, c.wants...)
			// The operator's routing is not the tenant's business.
			p.mustNotContain(t, "ch_secret")
			if !strings.Contains(p.body, "/portal/static/") || strings.Contains(p.body, "/admin/") {
				t.Fatal("the page does not link the portal's own assets, or links the dashboard")
			}
			if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Fatalf("CSP %q", csp)
			}
		})
	}
	t.Run("BadFilterIs400", func(t *testing.T) {
		u.get("/portal/requests?status=abc").mustStatus(t, 400).mustContain(t, "Pick a status")
	})
	t.Run("StaticAssetsServed", func(t *testing.T) {
		p := u.get("/portal/").mustStatus(t, 200)
		i := strings.Index(p.body, "/portal/static/")
		path := p.body[i : i+strings.Index(p.body[i:], `"`)]
		u.get(path).mustStatus(t, 200)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSignInAndInvites(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	ten, err := h.st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := h.st.CreateInvite(ctx, ten.ID, "new@acme.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	t.Run("ScreensNeedASession", func(t *testing.T) {
		p := b.get("/portal/keys").mustStatus(t, http.StatusSeeOther)
		if !strings.HasPrefix(p.location, "/portal/login?next=") {
			t.Fatalf("redirect to %q", p.location)
		}
		if p := b.postRaw("/portal/keys", url.Values{"name": {"x"}}); p.code != http.StatusSeeOther {
			t.Fatalf("post without session: %d", p.code)
		}
	})
	t.Run("UnknownInviteIs404", func(t *testing.T) {
		b.get("/portal/invite/nope").mustStatus(t, 404).mustContain(t, "unknown, was already used")
	})
	t.Run("InviteNeedsMatchingPasswords", func(t *testing.T) {
		p := b.get("/portal/invite/"+token).mustStatus(t, 200).mustContain(t, "new@acme.example", "Join acme")
		if p.header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatal("the invite page may leak its token in Referer headers")
		}
		csrf := formCSRF(t, p.body)
		b.postRaw("/portal/invite/"+token, url.Values{"csrf_token": {csrf}, "password": {"long enough 1"}, "confirm": {"long enough 2"}}).
			mustStatus(t, 400).mustContain(t, "The two passwords differ")
		b.postRaw("/portal/invite/"+token, url.Values{"csrf_token": {csrf}, "password": {"short"}, "confirm": {"short"}}).mustStatus(t, 400)
		b.postRaw("/portal/invite/"+token, url.Values{"csrf_token": {"forged"}, "password": {"long enough 1"}, "confirm": {"long enough 1"}}).mustStatus(t, 403)
	})
	t.Run("AcceptedInviteSignsIn", func(t *testing.T) {
		csrf := formCSRF(t, b.get("/portal/invite/"+token).body)
		p := b.postRaw("/portal/invite/"+token, url.Values{"csrf_token": {csrf}, "password": {testPassword}, "confirm": {testPassword}})
		if p.code != http.StatusSeeOther || p.location != "/portal/" {
			t.Fatalf("%d → %q", p.code, p.location)
		}
		b.get("/portal/").mustStatus(t, 200).mustContain(t, "new@acme.example", `id="account-name">acme<`)
	})
	t.Run("InviteWorksOnce", func(t *testing.T) {
		b.get("/portal/invite/"+token).mustStatus(t, 404)
	})
	t.Run("SignOutEndsSession", func(t *testing.T) {
		b.csrf = formCSRF(t, b.get("/portal/").body)
		b.postRaw("/portal/logout", nil).mustStatus(t, http.StatusSeeOther)
		b.get("/portal/").mustStatus(t, http.StatusSeeOther)
	})
	t.Run("WrongPasswordRefusedThenThrottled", func(t *testing.T) {
		c := h.browser()
		csrf := formCSRF(t, c.get("/portal/login").body)
		for i := 0; i < loginLimit; i++ {
			c.postRaw("/portal/login", url.Values{"csrf_token": {csrf}, "email": {"new@acme.example"}, "password": {"wrong password"}}).
				mustStatus(t, 401).mustContain(t, "Wrong email or password")
		}
		p := c.postRaw("/portal/login", url.Values{"csrf_token": {csrf}, "email": {"new@acme.example"}, "password": {testPassword}}).mustStatus(t, 429)
		if p.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
	t.Run("AdminSessionCookieDoesNotOpenThePortal", func(t *testing.T) {
		c := h.browser()
		req, _ := http.NewRequest("GET", h.srv.URL+"/portal/", nil)
		req.AddCookie(&http.Cookie{Name: "tollgate_session", Value: "whatever"})
		if p := c.do(req); p.code != http.StatusSeeOther {
			t.Fatalf("status %d", p.code)
		}
	})
	t.Run("NextStaysInsideThePortal", func(t *testing.T) {
		for in, want := range map[string]string{"/portal/keys": "/portal/keys", "//evil.example/": "/portal/", "https://evil.example": "/portal/",
			"/admin/": "/portal/", "/portal/login": "/portal/", `/portal\evil`: "/portal/"} {
			if got := safeNext(in); got != want {
				t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
			}
		}
	})
}

func TestCSRFRequired(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", usd)
	before, _ := h.st.ListKeys(context.Background(), u.tenant.ID)
	u.postRaw("/portal/keys", url.Values{"csrf_token": {"forged"}, "name": {"x"}}).mustStatus(t, 403).mustContain(t, "security token")
	after, _ := h.st.ListKeys(context.Background(), u.tenant.ID)
	if len(after) != len(before) {
		t.Fatal("a forged form created a key")
	}
}

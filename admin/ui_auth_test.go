package admin

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/store"
)

// cookieNamed finds a Set-Cookie of a response by name.
func cookieNamed(p page, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	h := newUIHarness(t)
	if _, err := h.st.CreateAdminUser(context.Background(), testAdminEmail, testAdminPassword); err != nil {
		t.Fatal(err)
	}
	t.Run("PagesRedirectToSignIn", func(t *testing.T) {
		p := h.get("/admin/tenants?q=acme")
		if p.code != http.StatusSeeOther || p.location != "/admin/login?next="+url.QueryEscape("/admin/tenants?q=acme") {
			t.Fatalf("%d → %q", p.code, p.location)
		}
	})
	t.Run("HtmxRequestsGetHXRedirect", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.srv.URL+"/admin/tenants", nil)
		req.Header.Set("HX-Request", "true")
		p := h.do(req)
		if p.code != http.StatusUnauthorized || p.header.Get("HX-Redirect") != "/admin/login" {
			t.Fatalf("%d, HX-Redirect %q", p.code, p.header.Get("HX-Redirect"))
		}
	})
	t.Run("FormWithoutItsCookieTokenIs403", func(t *testing.T) {
		p := h.postRaw("/admin/login", url.Values{csrfField: {"forged"}, "email": {testAdminEmail}, "password": {testAdminPassword}}, nil)
		if p.code != http.StatusForbidden || cookieNamed(p, sessionCookie) != nil {
			t.Fatalf("forged sign-in: %d", p.code)
		}
	})
	t.Run("WrongPasswordIs401AndKeepsTheEmail", func(t *testing.T) {
		login := h.get("/admin/login")
		p := h.postRaw("/admin/login", url.Values{csrfField: {formCSRF(t, login.body)}, "email": {testAdminEmail}, "password": {"nope nope nope"}}, nil)
		p.mustStatus(t, http.StatusUnauthorized).mustContain(t, "Wrong email or password", `value="`+testAdminEmail+`"`)
		if strings.Contains(p.body, "nope nope nope") {
			t.Fatal("the password was echoed into the page")
		}
	})
	t.Run("SessionCookieIsHttpOnlyLaxAndSecureBehindTLS", func(t *testing.T) {
		login := h.get("/admin/login")
		p := h.postRaw("/admin/login", url.Values{csrfField: {formCSRF(t, login.body)}, "email": {testAdminEmail}, "password": {testAdminPassword}},
			http.Header{"X-Forwarded-Proto": {"https"}})
		c := cookieNamed(p, sessionCookie)
		if p.code != http.StatusSeeOther || c == nil {
			t.Fatalf("sign-in %d, cookie %v", p.code, c)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Secure || c.Path != "/admin" || len(c.Value) < 40 {
			t.Fatalf("cookie %+v", c)
		}
		if _, err := h.st.Session(context.Background(), c.Value, h.ui.now()); err != nil {
			t.Fatalf("the cookie names no session: %v", err)
		}
	})
	t.Run("PlainHTTPCookieIsNotSecure", func(t *testing.T) {
		h.client.Jar, _ = cookiejar.New(nil)
		login := h.get("/admin/login")
		p := h.postRaw("/admin/login", url.Values{csrfField: {formCSRF(t, login.body)}, "email": {testAdminEmail}, "password": {testAdminPassword}}, nil)
		if c := cookieNamed(p, sessionCookie); c == nil || c.Secure {
			t.Fatalf("cookie %+v", c)
		}
	})
	t.Run("NextStaysInsideTheDashboard", func(t *testing.T) {
		for next, want := range map[string]string{"/admin/prices": "/admin/prices", "https://evil.example/": "/admin/", "//evil.example": "/admin/", "/admin/login": "/admin/"} {
			if got := safeNext(next); got != want {
				t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
			}
		}
	})
}

func TestCSRF(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	t.Run("PostWithoutTokenIs403", func(t *testing.T) {
		p := h.postRaw("/admin/tenants", url.Values{csrfField: {""}, "name": {"sneaky"}}, nil)
		p.mustStatus(t, http.StatusForbidden).mustContain(t, "security token")
		if ts, _ := h.st.ListTenants(context.Background(), store.TenantFilter{}); len(ts) != 0 {
			t.Fatalf("a tenant was created without the token: %v", ts)
		}
	})
	t.Run("PostWithWrongTokenIs403", func(t *testing.T) {
		h.postRaw("/admin/tenants", url.Values{csrfField: {h.csrf + "x"}, "name": {"sneaky"}}, nil).mustStatus(t, http.StatusForbidden)
	})
	t.Run("HtmxHeaderTokenIsAccepted", func(t *testing.T) {
		p := h.postRaw("/admin/tenants", url.Values{csrfField: {""}, "name": {"via-htmx"}}, http.Header{"X-Csrf-Token": {h.csrf}, "HX-Request": {"true"}})
		if p.code != http.StatusSeeOther {
			t.Fatalf("status %d: %s", p.code, shortBody(p.body))
		}
	})
	t.Run("LayoutSendsTokenOnHtmxRequests", func(t *testing.T) {
		h.get("/admin/").mustContain(t, `hx-headers='{"X-CSRF-Token": "`+h.csrf+`"}'`)
	})
}

func TestSignOut(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	p := h.postRaw("/admin/logout", nil, nil)
	if p.code != http.StatusSeeOther || p.location != "/admin/login" {
		t.Fatalf("sign-out %d → %q", p.code, p.location)
	}
	if c := cookieNamed(p, sessionCookie); c == nil || c.MaxAge >= 0 {
		t.Fatalf("the session cookie was not cleared: %+v", c)
	}
	h.get("/admin/login").mustContain(t, "Signed out.")
	if p := h.get("/admin/"); p.code != http.StatusSeeOther {
		t.Fatalf("after sign-out the overview answered %d", p.code)
	}
}

func TestLoginRateLimit(t *testing.T) {
	h := newUIHarness(t)
	if _, err := h.st.CreateAdminUser(context.Background(), testAdminEmail, testAdminPassword); err != nil {
		t.Fatal(err)
	}
	try := func(email, password string) page {
		h.client.Jar, _ = cookiejar.New(nil) // a fresh browser each time: no session
		login := h.get("/admin/login")
		return h.postRaw("/admin/login", url.Values{csrfField: {formCSRF(t, login.body)}, "email": {email}, "password": {password}}, nil)
	}
	for i := 0; i < loginLimit; i++ {
		try(testAdminEmail, "wrong password "+string(rune('a'+i))).mustStatus(t, http.StatusUnauthorized)
	}
	t.Run("SixthAttemptIs429EvenWithTheRightPassword", func(t *testing.T) {
		p := try(testAdminEmail, testAdminPassword).mustStatus(t, http.StatusTooManyRequests).mustContain(t, "Too many failed attempts")
		if ra := p.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
	})
	t.Run("EmailIsPartOfTheSubject", func(t *testing.T) {
		if _, err := h.st.CreateAdminUser(context.Background(), "other@example.com", testAdminPassword); err != nil {
			t.Fatal(err)
		}
		if p := try("other@example.com", testAdminPassword); p.code != http.StatusSeeOther {
			t.Fatalf("another account from the same address was throttled: %d", p.code)
		}
	})
	t.Run("WindowEndsLimit", func(t *testing.T) {
		h.skew.Store(int64(loginWindow + time.Second))
		defer h.skew.Store(0)
		if p := try(testAdminEmail, testAdminPassword); p.code != http.StatusSeeOther {
			t.Fatalf("after the window: %d", p.code)
		}
	})
}

func TestFirstAdminFromToken(t *testing.T) {
	h := newUIHarness(t)
	setup := func(token, email, password, confirm string) page {
		login := h.get("/admin/login")
		return h.postRaw("/admin/setup", url.Values{csrfField: {formCSRF(t, login.body)}, "admin_token": {token}, "email": {email},
			"password": {password}, "confirm": {confirm}}, nil)
	}
	t.Run("FormOfferedWhileNoUserExists", func(t *testing.T) {
		h.get("/admin/login").mustStatus(t, 200).mustContain(t, `id="setup-form"`, "admin token")
	})
	t.Run("WrongTokenIs401OnItsField", func(t *testing.T) {
		p := setup("not-the-token-at-all", testAdminEmail, testAdminPassword, testAdminPassword)
		p.mustStatus(t, http.StatusUnauthorized).mustContain(t, "This is not the admin token", `value="`+testAdminEmail+`"`)
		if strings.Contains(p.body, "not-the-token-at-all") {
			t.Fatal("the token attempt was echoed")
		}
	})
	t.Run("FieldErrorsAre400AndKeepInput", func(t *testing.T) {
		setup(testToken, "not an email", "short", "short").mustStatus(t, http.StatusBadRequest).
			mustContain(t, "is not an email address", "at least 10 characters", `value="not an email"`)
		setup(testToken, testAdminEmail, testAdminPassword, "something else").mustStatus(t, http.StatusBadRequest).mustContain(t, "The two passwords differ")
	})
	t.Run("RightTokenCreatesUserAndSignsIn", func(t *testing.T) {
		p := setup(testToken, testAdminEmail, testAdminPassword, testAdminPassword)
		if p.code != http.StatusSeeOther || cookieNamed(p, sessionCookie) == nil {
			t.Fatalf("setup: %d %s", p.code, shortBody(p.body))
		}
		h.get("/admin/").mustStatus(t, 200).mustContain(t, testAdminEmail)
	})
	t.Run("OnlyOnce", func(t *testing.T) {
		h.get("/admin/login").mustStatus(t, http.StatusSeeOther) // signed in: sent on
		h.client.Jar, _ = cookiejar.New(nil)
		h.get("/admin/login").mustContain(t, `id="login-form"`)
		p := setup(testToken, "second@example.com", testAdminPassword, testAdminPassword)
		p.mustStatus(t, http.StatusConflict).mustContain(t, "already exists")
		if n, _ := h.st.AdminUserCount(context.Background()); n != 1 {
			t.Fatalf("%d admin users", n)
		}
	})
}

// TestJSONAPIStillUsesBearerToken: the dashboard's session does not open the JSON
// API, and the token still does.
func TestJSONAPIStillUsesBearerToken(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	if p := h.get(Prefix + "/tenants"); p.code != http.StatusUnauthorized {
		t.Fatalf("session cookie opened the JSON API: %d", p.code)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+Prefix+"/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if p := h.do(req); p.code != http.StatusOK || !strings.Contains(p.body, `"data"`) {
		t.Fatalf("bearer token: %d %s", p.code, p.body)
	}
}

// TestDashboardChangesAreAudited: a change made in the dashboard lands in the audit
// log under the signed-in admin, with secrets redacted, like the JSON API's.
func TestDashboardChangesAreAudited(t *testing.T) {
	h := newUIHarness(t, func(u *UI) { u.AllowPrivateUpstreams(true) })
	h.signIn()
	h.post("/admin/tenants", url.Values{"name": {"audited"}}).mustStatus(t, 200)
	h.post("/admin/channels", channelForm("ch", "http://127.0.0.1:9/v1", "sk-very-secret", "m")).mustStatus(t, 200)
	entries, err := h.st.AuditLog(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var tenant, channel *store.AuditEntry
	for i, e := range entries {
		switch e.Action {
		case "POST /admin/tenants":
			tenant = &entries[i]
		case "POST /admin/channels":
			channel = &entries[i]
		}
	}
	if tenant == nil || tenant.Actor != "user:"+testAdminEmail || tenant.Detail["name"] != "audited" || tenant.Status != http.StatusSeeOther {
		t.Fatalf("tenant entry %+v (all: %+v)", tenant, entries)
	}
	if channel == nil || channel.Detail["api_key"] != "[redacted]" || channel.Detail[csrfField] != "" {
		t.Fatalf("channel entry %+v", channel)
	}
}

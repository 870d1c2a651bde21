package portal

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

func init() { gin.SetMode(gin.TestMode) }

const usd = billing.NanosPerUSD

// forgetter records the keys the portal evicted from the gateway's cache.
type forgetter struct {
	mu   sync.Mutex
	keys []string
}

func (f *forgetter) ForgetKey(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, id)
}

func (f *forgetter) forgotten() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...)
}

// harness is the portal on a fresh SQLite store, served over HTTP.
type harness struct {
	t      testing.TB
	st     *store.Store
	portal *Portal
	keys   *forgetter
	srv    *httptest.Server
	engine *gin.Engine
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "portal.db"), SecretKey: secret})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	st := openStore(t)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	keys := &forgetter{}
	p := New(st, keys, cfg)
	e := gin.New()
	p.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &harness{t: t, st: st, portal: p, keys: keys, srv: srv, engine: e}
}

// user is one browser: a cookie jar signed in as a tenant's user.
type user struct {
	h      *harness
	client *http.Client
	csrf   string
	tenant store.Tenant
	email  string
}

// page is a fetched page.
type page struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (p page) mustStatus(t testing.TB, code int) page {
	t.Helper()
	if p.code != code {
		t.Fatalf("status %d, want %d:\n%s", p.code, code, short(p.body))
	}
	return p
}

func (p page) mustContain(t testing.TB, snippets ...string) page {
	t.Helper()
	for _, s := range snippets {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page (%d) lacks %q:\n%s", p.code, s, short(p.body))
		}
	}
	return p
}

func (p page) mustNotContain(t testing.TB, snippets ...string) page {
	t.Helper()
	for _, s := range snippets {
		if strings.Contains(p.body, s) {
			t.Fatalf("page (%d) shows %q:\n%s", p.code, s, short(p.body))
		}
	}
	return p
}

func short(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

func (h *harness) browser() *user {
	jar, _ := cookiejar.New(nil)
	return &user{h: h, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (u *user) do(req *http.Request) page {
	u.h.t.Helper()
	resp, err := u.client.Do(req)
	if err != nil {
		u.h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (u *user) get(path string) page {
	u.h.t.Helper()
	req, _ := http.NewRequest("GET", u.h.srv.URL+path, nil)
	return u.do(req)
}

// postRaw sends a form with the session's CSRF token (unless it sets its own).
func (u *user) postRaw(path string, form url.Values) page {
	u.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf_token") && u.csrf != "" {
		form.Set("csrf_token", u.csrf)
	}
	req, _ := http.NewRequest("POST", u.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

// post sends a form and follows one redirect inside the portal, as a browser would.
func (u *user) post(path string, form url.Values) page {
	u.h.t.Helper()
	p := u.postRaw(path, form)
	if p.code == http.StatusSeeOther && strings.HasPrefix(p.location, "/portal") {
		return u.get(p.location)
	}
	return p
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func formCSRF(t testing.TB, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", short(body))
	}
	return m[1]
}

const testPassword = "tenant password 1"

// tenantUser creates a tenant with credit and a user of it (through an invite), and
// returns a browser signed in as that user.
func (h *harness) tenantUser(name string, credit billing.Nanos) *user {
	h.t.Helper()
	ctx := context.Background()
	ten, err := h.st.CreateTenant(ctx, name)
	if err != nil {
		h.t.Fatal(err)
	}
	if credit > 0 {
		if _, _, err := h.st.Topup(ctx, ten.ID, credit, "seed", "seed-"+name); err != nil {
			h.t.Fatal(err)
		}
	}
	email := "dev@" + name + ".example"
	_, token, err := h.st.CreateInvite(ctx, ten.ID, email, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.st.AcceptInvite(ctx, token, testPassword); err != nil {
		h.t.Fatal(err)
	}
	u := h.browser()
	u.tenant, u.email = ten, email
	u.signIn()
	return u
}

func (u *user) signIn() {
	u.h.t.Helper()
	login := u.get("/portal/login")
	p := u.postRaw("/portal/login", url.Values{"csrf_token": {formCSRF(u.h.t, login.body)}, "email": {u.email}, "password": {testPassword}})
	if p.code != http.StatusSeeOther || p.location != "/portal/" {
		u.h.t.Fatalf("sign-in answered %d → %q:\n%s", p.code, p.location, short(p.body))
	}
	home := u.get("/portal/")
	if home.code != http.StatusOK {
		u.h.t.Fatalf("overview after sign-in: %d", home.code)
	}
	u.csrf = formCSRF(u.h.t, home.body)
}

// balance reads the tenant's wallet and checks balance == Σ ledger.
func (u *user) balance() billing.Nanos {
	u.h.t.Helper()
	ctx := context.Background()
	t, err := u.h.st.Tenant(ctx, u.tenant.ID)
	if err != nil {
		u.h.t.Fatal(err)
	}
	sum, err := u.h.st.LedgerSum(ctx, t.ID)
	if err != nil {
		u.h.t.Fatal(err)
	}
	if sum != t.Balance {
		u.h.t.Fatalf("balance %s != Σ ledger %s", t.Balance, sum)
	}
	return t.Balance
}

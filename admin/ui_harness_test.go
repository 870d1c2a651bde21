package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// fakeGateway is the dashboard's view of a gateway: the API's fake notifier plus
// programmable channel health.
type fakeGateway struct {
	*fakeNotifier
	mu     sync.Mutex
	health []router.ChannelHealth
}

func (g *fakeGateway) ChannelHealth() []router.ChannelHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]router.ChannelHealth(nil), g.health...)
}

func (g *fakeGateway) setHealth(h ...router.ChannelHealth) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.health = h
}

// uiHarness is the dashboard (and the JSON API beside it) on a fresh SQLite store,
// served over HTTP to a client with a cookie jar, as a browser would use it.
type uiHarness struct {
	t      testing.TB
	st     *store.Store
	gw     *fakeGateway
	ui     *UI
	srv    *httptest.Server
	client *http.Client
	csrf   string
	skew   *atomic.Int64 // added to the dashboard's clock, to step over time windows
}

const (
	testAdminEmail    = "ops@example.com"
	testAdminPassword = "correct horse battery"
)

func newUIHarness(t testing.TB, opts ...func(*UI)) *uiHarness {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "ui.db"), SecretKey: secret})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return newUIHarnessOn(t, st, opts...)
}

// newUIHarnessOn serves the dashboard over st; opts adjust it before it serves.
func newUIHarnessOn(t testing.TB, st *store.Store, opts ...func(*UI)) *uiHarness {
	t.Helper()
	gw := &fakeGateway{fakeNotifier: &fakeNotifier{}}
	authorize := func(tok string) bool { return subtle.ConstantTimeCompare([]byte(tok), []byte(testToken)) == 1 }
	e := gin.New()
	New(st, gw, authorize).Register(e)
	ui := NewUI(st, gw, authorize)
	skew := &atomic.Int64{}
	ui.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	for _, o := range opts {
		o(ui)
	}
	ui.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &uiHarness{t: t, st: st, gw: gw, ui: ui, srv: srv, client: client, skew: skew}
}

// page is a fetched page.
type page struct {
	code     int
	header   http.Header
	body     string
	location string
}

func (h *uiHarness) do(req *http.Request) page {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, header: resp.Header, body: string(b), location: resp.Header.Get("Location")}
}

// get fetches a page without following redirects.
func (h *uiHarness) get(path string) page {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	return h.do(req)
}

// post sends a form with the session's CSRF token (unless the form sets its own)
// and follows one redirect, as a browser would.
func (h *uiHarness) post(path string, form url.Values) page {
	h.t.Helper()
	p := h.postRaw(path, form, nil)
	if p.code == http.StatusSeeOther {
		return h.get(strings.TrimPrefix(p.location, h.srv.URL))
	}
	return p
}

// postRaw sends a form as given, with extra headers, and follows nothing.
func (h *uiHarness) postRaw(path string, form url.Values, header http.Header) page {
	h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has(csrfField) && h.csrf != "" {
		form.Set(csrfField, h.csrf)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return h.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// formCSRF reads the CSRF token a page's forms carry.
func formCSRF(t testing.TB, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", shortBody(body))
	}
	return m[1]
}

func shortBody(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// signIn creates the test admin (once) and signs in through the form.
func (h *uiHarness) signIn() {
	h.t.Helper()
	if n, _ := h.st.AdminUserCount(context.Background()); n == 0 {
		if _, err := h.st.CreateAdminUser(context.Background(), testAdminEmail, testAdminPassword); err != nil {
			h.t.Fatal(err)
		}
	}
	login := h.get("/admin/login")
	p := h.postRaw("/admin/login", url.Values{csrfField: {formCSRF(h.t, login.body)}, "email": {testAdminEmail}, "password": {testAdminPassword}}, nil)
	if p.code != http.StatusSeeOther || p.location != "/admin/" {
		h.t.Fatalf("sign-in answered %d → %q:\n%s", p.code, p.location, shortBody(p.body))
	}
	home := h.get("/admin/")
	if home.code != http.StatusOK {
		h.t.Fatalf("overview after sign-in: %d", home.code)
	}
	h.csrf = formCSRF(h.t, home.body)
}

// mustContain fails unless the page has every snippet.
func (p page) mustContain(t testing.TB, snippets ...string) page {
	t.Helper()
	for _, s := range snippets {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page (%d) lacks %q:\n%s", p.code, s, shortBody(p.body))
		}
	}
	return p
}

// mustStatus fails unless the page answered code.
func (p page) mustStatus(t testing.TB, code int) page {
	t.Helper()
	if p.code != code {
		t.Fatalf("status %d, want %d:\n%s", p.code, code, shortBody(p.body))
	}
	return p
}

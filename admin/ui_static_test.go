package admin

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/web"
)

func TestStaticAssets(t *testing.T) {
	h := newUIHarness(t)
	t.Run("ChecksummedURLIsImmutable", func(t *testing.T) {
		for _, a := range assets {
			p := h.get(assetURL(a)).mustStatus(t, http.StatusOK)
			if cc := p.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s: Cache-Control %q", a, cc)
			}
			want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[a[strings.LastIndex(a, "."):]]
			if ct := p.header.Get("Content-Type"); ct != want {
				t.Errorf("%s: Content-Type %q, want %q", a, ct, want)
			}
		}
	})
	t.Run("StaleChecksumIsServedUncached", func(t *testing.T) {
		p := h.get("/admin/static/000000000000/tollgate.css").mustStatus(t, http.StatusOK)
		if cc := p.header.Get("Cache-Control"); cc != "no-cache" {
			t.Fatalf("Cache-Control %q", cc)
		}
	})
	t.Run("UnknownAndEscapingPathsAre404", func(t *testing.T) {
		for _, path := range []string{"/admin/static/abc/nope.css", "/admin/static/abc/../../web.go", "/admin/static/abc/%2e%2e/web.go"} {
			if p := h.get(path); p.code != http.StatusNotFound {
				t.Errorf("%s answered %d", path, p.code)
			}
		}
	})
	t.Run("ETagRevalidates", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.srv.URL+assetURL("tollgate.js"), nil)
		req.Header.Set("If-None-Match", `"`+web.Checksum("tollgate.js")+`"`)
		if p := h.do(req); p.code != http.StatusNotModified {
			t.Fatalf("status %d", p.code)
		}
	})
	t.Run("PagesLinkChecksummedAssetsAndSetCSP", func(t *testing.T) {
		p := h.get("/admin/login").mustStatus(t, http.StatusOK)
		for _, a := range assets {
			p.mustContain(t, `"`+assetURL(a)+`"`)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Fatalf("CSP %q", csp)
		}
		if p.header.Get("X-Frame-Options") != "DENY" {
			t.Fatal("pages may be framed")
		}
		if regexp.MustCompile(`<script>|style="`).MatchString(p.body) {
			t.Fatal("inline script or style would be refused by the CSP")
		}
	})
}

// TestTemplatesParse: every page template parses with the layout and is found by name.
func TestTemplatesParse(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "error", "overview", "tenants", "tenant", "channels", "channel", "prices", "price", "requests", "request", "topology"} {
		if pages[name] == nil || pages[name].Lookup("layout") == nil {
			t.Errorf("page %s is missing or has no layout", name)
		}
	}
	if pages["channels"].Lookup("channel-test") == nil {
		t.Error("the channel test fragment is missing")
	}
}

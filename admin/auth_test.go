package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	h := newHarness(t)
	t.Run("MissingTokenIs401", func(t *testing.T) {
		r := h.do("GET", "/tenants", "", "Authorization", "")
		msg := r.wantError(t, http.StatusUnauthorized, "")
		if !strings.Contains(msg, "Authorization: Bearer") {
			t.Fatalf("message does not say how to send the token: %q", msg)
		}
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
	})
	t.Run("WrongTokenIs401AndNotEchoed", func(t *testing.T) {
		r := h.do("GET", "/tenants", "", "Authorization", "Bearer wrong-token-xyz")
		r.wantError(t, http.StatusUnauthorized, "")
		if strings.Contains(r.raw, "wrong-token-xyz") {
			t.Fatalf("the presented token is echoed: %s", r.raw)
		}
	})
	t.Run("OtherSchemeIs401", func(t *testing.T) {
		h.do("GET", "/tenants", "", "Authorization", "Basic "+testToken).wantError(t, http.StatusUnauthorized, "")
	})
	t.Run("TokenInQueryIsNotEnough", func(t *testing.T) {
		h.do("GET", "/tenants?token="+testToken, "", "Authorization", "").wantError(t, http.StatusUnauthorized, "")
	})
	t.Run("EveryRouteIsGuarded", func(t *testing.T) {
		for _, rt := range h.engine.Routes() {
			path := strings.NewReplacer(":id", "x", "*model", "m").Replace(rt.Path)
			req := strings.TrimPrefix(path, Prefix)
			r := h.do(rt.Method, req, "", "Authorization", "")
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: status %d, want 401", rt.Method, rt.Path, r.code)
			}
		}
	})
	t.Run("RightTokenIsAdmitted", func(t *testing.T) {
		r := h.do("GET", "/tenants", "").must(t, http.StatusOK)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
		}
	})
}

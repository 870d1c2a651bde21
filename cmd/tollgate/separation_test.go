package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// TestAdminAndTenantSeparation walks every route the gateway serves: a tenant's API
// key opens no admin route, the admin token opens no tenant route, and the dashboard
// answers nothing but its sign-in without a session.
func TestAdminAndTenantSeparation(t *testing.T) {
	up := providertest.NewOpenAI()
	defer up.Close()
	m, _ := startMain(t, t.TempDir(), testAdminToken)
	defer m.Close()
	tenantID, tenantKey := setupTenant(t, m, up.URL(), "1")

	routes := m.Server.Handler.(*gin.Engine).Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	checked := 0
	for _, r := range routes {
		path := strings.NewReplacer(":id", tenantID, "*model", "gpt-4o-mini", ":model", "gpt-4o-mini", ":code", "x", ":token", "x").Replace(r.Path)
		var auth string
		var allowed func(int) bool
		switch {
		case strings.HasPrefix(r.Path, "/admin/api/"):
			auth, allowed = "Bearer "+tenantKey, func(s int) bool { return s == 401 }
		case strings.HasPrefix(r.Path, "/v1/"):
			auth, allowed = "Bearer "+testAdminToken, func(s int) bool { return s == 401 }
		case strings.HasPrefix(r.Path, "/admin/"):
			// The dashboard: without a session only sign-in, its assets and the
			// refusals are served; every screen redirects to sign-in.
			if strings.Contains(r.Path, "/login") || strings.Contains(r.Path, "/static/") || strings.Contains(r.Path, "/logout") {
				continue
			}
			auth, allowed = "Bearer "+testAdminToken, func(s int) bool { return s == 303 || s == 302 || s == 401 || s == 403 }
		case strings.HasPrefix(r.Path, "/portal/"):
			// The tenant portal: neither credential opens a screen without a tenant
			// session; sign-in, invites, assets and Stripe's signed webhook are open.
			if strings.Contains(r.Path, "/login") || strings.Contains(r.Path, "/static/") || strings.Contains(r.Path, "/invite/") ||
				strings.Contains(r.Path, "/stripe/webhook") {
				continue
			}
			auth, allowed = "Bearer "+tenantKey, func(s int) bool { return s == 303 }
		case strings.HasPrefix(r.Path, "/dashboard/"):
			auth, allowed = "Bearer "+testAdminToken, func(s int) bool { return s == 401 }
		default:
			continue
		}
		req, _ := http.NewRequest(r.Method, m.URL()+path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !allowed(resp.StatusCode) {
			t.Errorf("%s %s with the wrong credential: %d %.200s", r.Method, r.Path, resp.StatusCode, body)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("checked only %d routes", checked)
	}
	if up.CallCount() != 0 {
		t.Fatal("a wrongly authenticated call reached the upstream")
	}
}

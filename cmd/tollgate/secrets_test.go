package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// TestSecretsNeverLeak runs a gateway through successes and every kind of failure
// and greps everything it said — logs at debug level, every response body and
// header, the request log — for each secret it was given.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		adminToken  = "admin-token-SECRET-9f8e7d6c5b4a"
		secretKey   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		upstreamKey = "sk-upstream-SECRET-a1b2c3d4e5f6"
	)
	up := providertest.NewOpenAI()
	defer up.Close()
	up.RequireAPIKey(upstreamKey)

	out := &lockedBuffer{}
	dir := t.TempDir()
	cfg, _, err := ParseFlags("serve", []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "debug", "--allow-private-upstreams"},
		func(k string) string {
			return map[string]string{"TOLLGATE_ADMIN_TOKEN": adminToken, "TOLLGATE_SECRET_KEY": secretKey}[k]
		}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Out: out}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	var seen bytes.Buffer // every response the run produced, except the one that hands out the tenant key
	call := func(method, path, auth string, body any, record bool) []byte {
		var r io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			r = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, m.URL()+path, r)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if record {
			resp.Header.Write(&seen)
			seen.Write(raw)
		}
		return raw
	}
	admin := func(method, path string, body any) []byte {
		return call(method, "/admin/api/v1"+path, adminToken, body, true)
	}

	var tenant struct{ ID string }
	json.Unmarshal(admin("POST", "/tenants", map[string]any{"name": "acme"}), &tenant)
	admin("POST", "/tenants/"+tenant.ID+"/topups", map[string]any{"amount_usd": "1"})
	admin("PUT", "/prices/gpt-4o-mini", map[string]any{"input_usd_per_mtok": "0.15", "output_usd_per_mtok": "0.6"})
	admin("POST", "/channels", map[string]any{"name": "up", "provider": "openai", "base_url": up.URL(), "api_key": upstreamKey, "models": []string{"gpt-4o-mini"}})
	var k struct{ Key string }
	json.Unmarshal(call("POST", "/admin/api/v1/tenants/"+tenant.ID+"/keys", adminToken, map[string]any{"name": "app"}, false), &k)
	tenantKey := k.Key
	if tenantKey == "" {
		t.Fatal("no key")
	}

	chat := map[string]any{"model": "gpt-4o-mini", "messages": []map[string]any{{"role": "user", "content": "hi"}}}
	call("POST", "/v1/chat/completions", tenantKey, chat, true)                                            // served
	call("POST", "/v1/chat/completions", tenantKey, map[string]any{"model": "gpt-4o-mini", "stream": true, // streamed
		"messages": []map[string]any{{"role": "user", "content": "hi"}}}, true)
	call("POST", "/v1/chat/completions", tenantKey[:len(tenantKey)-2]+"xx", chat, true) // a near-miss key
	call("POST", "/v1/chat/completions?api_key="+tenantKey, "", chat, true)             // key in the URL
	call("GET", "/admin/api/v1/tenants", adminToken[:len(adminToken)-1]+"X", nil, true)
	up.SetBehavior(providertest.Behavior{Error: providertest.AuthError()})
	call("POST", "/v1/chat/completions", tenantKey, chat, true) // the upstream refuses its key
	up.SetBehavior(providertest.Behavior{Error: providertest.ServerError()})
	call("POST", "/v1/chat/completions", tenantKey, chat, true)
	admin("GET", "/channels", nil)
	admin("GET", "/requests?limit=100", nil)
	admin("GET", "/tenants/"+tenant.ID+"/keys", nil)
	admin("PATCH", "/channels/bogus", map[string]any{"api_key": upstreamKey})

	everything := out.String() + seen.String()
	db, _ := os.ReadFile(filepath.Join(dir, "tollgate.db"))
	for name, secret := range map[string]string{"admin token": adminToken, "secret key": secretKey, "upstream key": upstreamKey, "tenant key": tenantKey} {
		if strings.Contains(everything, secret) {
			t.Errorf("the %s appears in the run's output", name)
		}
		if bytes.Contains(db, []byte(secret)) {
			t.Errorf("the %s is stored in clear in the database", name)
		}
	}
	if !strings.Contains(out.String(), `"request_id"`) || seen.Len() < 1000 {
		t.Fatalf("the run produced too little output to prove anything (%d bytes of responses)", seen.Len())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

const testAdminToken = "test-admin-token-0123456789"

// startMain runs a whole gateway like `tollgate serve`, on a free port and a temp dir.
func startMain(t *testing.T, dataDir string, adminToken string, flags ...string) (*Main, *bytes.Buffer) {
	t.Helper()
	out := &lockedBuffer{}
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir, "--shutdown-grace", "2s", "--log-level", "warn", "--allow-private-upstreams"}, flags...)
	cfg, _, err := ParseFlags("serve", args,
		func(k string) string {
			if k == "TOLLGATE_ADMIN_TOKEN" {
				return adminToken
			}
			return ""
		}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Out: out}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, &out.buf
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// adminCall calls the admin API and decodes the answer into out.
func adminCall(t *testing.T, m *Main, token, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, m.URL()+"/admin/api/v1"+path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// TestEndToEnd: an operator sets up a tenant through the admin API, an app calls
// through the gateway with go-openai, and the wallet shows the exact debit.
func TestEndToEnd(t *testing.T) {
	up := providertest.NewOpenAI()
	defer up.Close()
	up.SetBehavior(providertest.Behavior{PromptTokens: 1000, CompletionTokens: 500})
	m, _ := startMain(t, t.TempDir(), testAdminToken)
	defer m.Close()

	var tenant struct{ ID, BalanceUSD string }
	if st := adminCall(t, m, testAdminToken, "POST", "/tenants", map[string]any{"name": "acme"}, &tenant); st != 201 {
		t.Fatalf("create tenant: %d", st)
	}
	var topup map[string]any
	if st := adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenant.ID+"/topups", map[string]any{"amount_usd": "5", "idempotency_key": "t1"}, &topup); st != 201 {
		t.Fatalf("topup: %d %v", st, topup)
	}
	if st := adminCall(t, m, testAdminToken, "PUT", "/prices/gpt-4o-mini", map[string]any{"input_usd_per_mtok": "0.15", "output_usd_per_mtok": "0.6"}, nil); st != 200 {
		t.Fatalf("price: %d", st)
	}
	if st := adminCall(t, m, testAdminToken, "POST", "/channels", map[string]any{"name": "fake", "provider": "openai", "base_url": up.URL(),
		"api_key": "sk-up", "models": []string{"gpt-4o-mini"}}, nil); st != 201 {
		t.Fatalf("channel: %d", st)
	}
	var key struct{ ID, Key string }
	if st := adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenant.ID+"/keys", map[string]any{"name": "app"}, &key); st != 201 || !strings.HasPrefix(key.Key, "sk-tg-") {
		t.Fatalf("key: %d %+v", st, key)
	}

	cfg := goopenai.DefaultConfig(key.Key)
	cfg.BaseURL = m.URL() + "/v1"
	client := goopenai.NewClientWithConfig(cfg)
	resp, err := client.CreateChatCompletion(context.Background(), goopenai.ChatCompletionRequest{Model: "gpt-4o-mini",
		Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != 1000 {
		t.Fatalf("usage %+v", resp.Usage)
	}
	// 1000 × $0.15/M + 500 × $0.60/M = $0.00015 + $0.0003 = $0.00045.
	var after struct {
		BalanceUSD string `json:"balance_usd"`
		HeldUSD    string `json:"held_usd"`
	}
	adminCall(t, m, testAdminToken, "GET", "/tenants/"+tenant.ID, nil, &after)
	if after.BalanceUSD != "4.999550000" || after.HeldUSD != "0.000000000" {
		t.Fatalf("balance %s held %s, want 4.999550000 and 0", after.BalanceUSD, after.HeldUSD)
	}
	// The upstream got OpenAI's own output-limit field and the operator's key.
	if c := up.Calls()[0]; !strings.Contains(string(c.Body), `"max_completion_tokens"`) || c.Header.Get("Authorization") != "Bearer sk-up" {
		t.Fatalf("upstream request %s %v", c.Body, c.Header)
	}

	// The channel's health, as this gateway saw it, is visible in the admin API.
	var channels struct {
		Data []struct {
			Name   string
			Health *struct {
				State     string
				Successes int64
			}
		}
	}
	adminCall(t, m, testAdminToken, "GET", "/channels", nil, &channels)
	if len(channels.Data) != 1 || channels.Data[0].Health == nil || channels.Data[0].Health.State != "closed" || channels.Data[0].Health.Successes != 1 {
		t.Fatalf("channel health %+v", channels.Data)
	}

	// Revocation through the admin API takes effect on the very next call.
	if st := adminCall(t, m, testAdminToken, "DELETE", "/keys/"+key.ID, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	_, err = client.CreateChatCompletion(context.Background(), goopenai.ChatCompletionRequest{Model: "gpt-4o-mini",
		Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}}})
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 401 {
		t.Fatalf("revoked key: %v", err)
	}

	t.Run("AdminNeedsToken", func(t *testing.T) {
		if st := adminCall(t, m, "wrong-token-wrong-token", "GET", "/tenants", nil, nil); st != 401 {
			t.Fatalf("status %d", st)
		}
	})
	t.Run("MetricsNeedTheAdminToken", func(t *testing.T) {
		resp, err := http.Get(m.URL() + "/metrics")
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("unauthenticated /metrics: %v %v", resp, err)
		}
		resp.Body.Close()
		req, _ := http.NewRequest("GET", m.URL()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `tollgate_calls_total{code="200",endpoint="chat",model="gpt-4o-mini"`) {
			t.Fatalf("metrics %d: %.500s", resp.StatusCode, body)
		}
	})
	t.Run("HealthAndReady", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(m.URL() + path)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("%s: %v %v", path, resp, err)
			}
			resp.Body.Close()
		}
	})
}

// TestAdminTokenGeneratedOnce: without TOLLGATE_ADMIN_TOKEN the first start prints a
// token once and keeps only its digest; later starts print nothing and accept it.
func TestAdminTokenGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	m, out := startMain(t, dir, "")
	token := regexp.MustCompile(`tga-[0-9a-f]{48}`).FindString(out.String())
	if token == "" {
		t.Fatalf("no token printed: %q", out.String())
	}
	if st := adminCall(t, m, token, "GET", "/tenants", nil, nil); st != 200 {
		t.Fatalf("generated token refused: %d", st)
	}
	digest, err := m.Store.Setting(context.Background(), adminDigestSetting)
	if err != nil || len(digest) != 64 || strings.Contains(digest, token) {
		t.Fatalf("stored credential %q, %v: want only a SHA-256 digest", digest, err)
	}
	m.Close()

	m2, out2 := startMain(t, dir, "")
	defer m2.Close()
	if strings.Contains(out2.String(), "tga-") {
		t.Fatal("the token was printed again")
	}
	if st := adminCall(t, m2, token, "GET", "/tenants", nil, nil); st != 200 {
		t.Fatalf("token not accepted after restart: %d", st)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "tollgate.db"))
	if bytes.Contains(db, []byte(token)) {
		t.Fatal("the admin token itself was stored")
	}
}

// TestGracefulShutdownSettlesInFlight: a stream running at SIGTERM finishes within
// the grace period and is billed; nothing stays held.
func TestGracefulShutdownSettlesInFlight(t *testing.T) {
	up := providertest.NewOpenAI()
	defer up.Close()
	up.SetBehavior(providertest.Behavior{Text: strings.Repeat("tick ", 20), ChunkDelay: 20 * time.Millisecond})
	dir := t.TempDir()
	m, _ := startMain(t, dir, testAdminToken)
	tenantID, key := setupTenant(t, m, up.URL(), "2")

	started := make(chan struct{})
	done := make(chan string)
	go func() {
		req, _ := http.NewRequest("POST", m.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		last, once := "", sync.Once{}
		for sc.Scan() {
			once.Do(func() { close(started) })
			if sc.Text() != "" {
				last = sc.Text()
			}
		}
		done <- last
	}()
	<-started
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if last := <-done; last != "data: [DONE]" {
		t.Fatalf("in-flight stream cut at shutdown: last line %q", last)
	}
	m2, _ := startMain(t, dir, testAdminToken)
	defer m2.Close()
	var ten struct {
		BalanceUSD string `json:"balance_usd"`
		HeldUSD    string `json:"held_usd"`
	}
	adminCall(t, m2, testAdminToken, "GET", "/tenants/"+tenantID, nil, &ten)
	if ten.HeldUSD != "0.000000000" || ten.BalanceUSD == "2.000000000" {
		t.Fatalf("after shutdown: balance %s held %s; want the stream billed and nothing held", ten.BalanceUSD, ten.HeldUSD)
	}
}

// setupTenant creates a priced channel to the upstream, a tenant with credit and a key.
func setupTenant(t *testing.T, m *Main, upstreamURL, credit string) (tenantID, key string) {
	t.Helper()
	var tenant struct{ ID string }
	adminCall(t, m, testAdminToken, "POST", "/tenants", map[string]any{"name": fmt.Sprintf("t-%d", time.Now().UnixNano())}, &tenant)
	adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenant.ID+"/topups", map[string]any{"amount_usd": credit}, nil)
	adminCall(t, m, testAdminToken, "POST", "/channels", map[string]any{"name": "up", "provider": "openai-compatible", "base_url": upstreamURL,
		"models": []string{"gpt-4o-mini"}}, nil)
	var k struct{ Key string }
	adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenant.ID+"/keys", map[string]any{"name": "k"}, &k)
	if k.Key == "" {
		t.Fatal("no key")
	}
	return tenant.ID, k.Key
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The audit log's client address comes from X-Forwarded-For only when the
// connection is from a proxy the operator named; from anyone else the header is
// the client's own invention.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name, proxies, want string
	}{
		{"NoneByDefault", "", "127.0.0.1"},
		{"NotThisProxy", "10.0.0.0/8", "127.0.0.1"},
		{"ThisProxy", "10.0.0.1, 127.0.0.1", "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var flags []string
			if tc.proxies != "" {
				flags = []string{"--trusted-proxies", tc.proxies}
			}
			m, _ := startMain(t, t.TempDir(), testAdminToken, flags...)
			defer m.Close()
			req, _ := http.NewRequest(http.MethodPost, m.URL()+"/admin/api/v1/tenants", strings.NewReader(`{"name":"acme"}`))
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create tenant: %d", resp.StatusCode)
			}
			entries, err := m.Store.AuditLog(context.Background(), 0, 10)
			if err != nil || len(entries) == 0 {
				t.Fatalf("audit log %v %v", entries, err)
			}
			if got := entries[0].Remote; got != tc.want {
				t.Fatalf("audit entry's address %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLeanHTTPSwitch: --lean-http=false leaves every request to net/http (no
// hang-up watch means h1.Server hands each connection over), and the API answers
// the same either way.
func TestLeanHTTPSwitch(t *testing.T) {
	for _, lean := range []bool{true, false} {
		t.Run(fmt.Sprint("lean=", lean), func(t *testing.T) {
			m, _ := startMain(t, t.TempDir(), testAdminToken, fmt.Sprintf("--lean-http=%v", lean))
			defer m.Close()
			if got := m.front.WatchHangUp != nil; got != lean {
				t.Fatalf("lean server on: %v, want %v", got, lean)
			}
			req, _ := http.NewRequest(http.MethodGet, m.URL()+"/v1/models", nil)
			req.Header.Set("Authorization", "Bearer tg-not-a-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid_api_key"`) ||
				resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

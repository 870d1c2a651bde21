package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/store"
)

func withLimiter(l ratelimit.Limiter) func(*Config) { return func(c *Config) { c.Limiter = l } }

// limiters are the limiter back ends every rate-limit test runs on.
func limiters(t *testing.T) map[string]func() ratelimit.Limiter {
	out := map[string]func() ratelimit.Limiter{"memory": func() ratelimit.Limiter { return ratelimit.NewMemory() }}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	if err := client.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is not reachable in CI: %v", err)
		}
		t.Logf("Redis rate-limit tests skipped: %v", err)
		return out
	}
	t.Cleanup(func() { client.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tollgate-test-" + hex.EncodeToString(b[:]) + ":"
	out["redis"] = func() ratelimit.Limiter { return ratelimit.NewRedis(client, prefix) }
	return out
}

func TestRateLimits(t *testing.T) {
	for name, newLimiter := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("RequestsPerMinute/429WithHeaders", func(t *testing.T) {
				h := newHarness(t, usd, withLimiter(newLimiter()))
				if err := h.store.SetKeyLimits(context.Background(), h.keyID, store.RateLimits{RequestsPerMinute: 2}); err != nil {
					t.Fatal(err)
				}
				h.gw.ForgetKey(h.keyID)
				for i := 0; i < 2; i++ {
					resp, body := h.post("/v1/chat/completions", chatBody(nil))
					if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-limit-requests") != "2" {
						t.Fatalf("call %d: %d %v %s", i, resp.StatusCode, resp.Header, body)
					}
				}
				resp, body := h.post("/v1/chat/completions", chatBody(nil))
				e := errorOf(t, body)
				if resp.StatusCode != 429 || e.Type != "rate_limit_error" || *e.Code != "rate_limit_exceeded" ||
					resp.Header.Get("Retry-After") == "" || resp.Header.Get("x-ratelimit-remaining-requests") != "0" {
					t.Fatalf("third call: %d %v %s", resp.StatusCode, resp.Header, body)
				}
				if h.upstream.CallCount() != 2 {
					t.Fatal("a rate-limited call reached the upstream")
				}
				if w := h.wallet(); w.Held != 0 {
					t.Fatal("a rate-limited call holds credit")
				}
			})
			t.Run("TenantTokensPerMinute", func(t *testing.T) {
				h := newHarness(t, usd, withLimiter(newLimiter()))
				// Each call is estimated at its prompt bound + max_tokens (100).
				if err := h.store.SetTenantLimits(context.Background(), h.tenant.ID, store.RateLimits{TokensPerMinute: 250}); err != nil {
					t.Fatal(err)
				}
				h.gw.ForgetKey(h.keyID)
				h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 5})
				served := 0
				for i := 0; i < 10; i++ {
					resp, _ := h.post("/v1/chat/completions", chatBody(map[string]any{"max_tokens": 100}))
					if resp.StatusCode == 200 {
						served++
					} else if resp.StatusCode != 429 {
						t.Fatalf("status %d", resp.StatusCode)
					}
				}
				// Actual use (15 tokens) replaces each estimate, so more calls fit than
				// the estimates alone would allow — but not all ten.
				if served < 2 || served >= 10 {
					t.Fatalf("%d of 10 calls served under 250 tokens/min", served)
				}
			})
			t.Run("ConcurrentStreams", func(t *testing.T) {
				h := newHarness(t, usd, withLimiter(newLimiter()))
				if err := h.store.SetKeyLimits(context.Background(), h.keyID, store.RateLimits{ConcurrentStreams: 1}); err != nil {
					t.Fatal(err)
				}
				h.gw.ForgetKey(h.keyID)
				h.upstream.SetBehavior(providertest.Behavior{Chunks: 10, ChunkDelay: 40 * time.Millisecond})
				done := make(chan int)
				go func() { resp, _ := h.stream(chatBody(map[string]any{"stream": true})); done <- resp.StatusCode }()
				time.Sleep(100 * time.Millisecond)
				resp, body := h.post("/v1/chat/completions", chatBody(map[string]any{"stream": true}))
				if resp.StatusCode != 429 || !strings.Contains(string(body), "concurrent streams") || resp.Header.Get("Retry-After") != "1" {
					t.Fatalf("second stream: %d %s", resp.StatusCode, body)
				}
				if st := <-done; st != 200 {
					t.Fatalf("first stream %d", st)
				}
				if resp, _ := h.stream(chatBody(map[string]any{"stream": true})); resp.StatusCode != 200 {
					t.Fatalf("the slot was not given back: %d", resp.StatusCode)
				}
			})
		})
	}
}

// TestRateLimitsSharedAcrossNodes: two gateways (two "nodes") on one store and one
// Redis share a key's limit.
func TestRateLimitsSharedAcrossNodes(t *testing.T) {
	lims := limiters(t)
	newRedis, ok := lims["redis"]
	if !ok {
		t.Skip("Redis not reachable: the shared rate-limit test needs it")
	}
	h := newHarness(t, usd, withLimiter(newRedis()))
	if err := h.store.SetKeyLimits(context.Background(), h.keyID, store.RateLimits{RequestsPerMinute: 4}); err != nil {
		t.Fatal(err)
	}
	h.gw.ForgetKey(h.keyID)
	gw2, err := New(context.Background(), Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowPrivateUpstreams: true, Limiter: newRedis()}, h.store)
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	gw2.Register(e)
	node2 := httptest.NewServer(e)
	defer node2.Close()

	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		base := []string{h.srv.URL, node2.URL}[i%2]
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{"model":"test-model","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+h.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		codes[resp.StatusCode]++
		mu.Unlock()
	}
	if codes[200] != 4 || codes[429] != 2 {
		t.Fatalf("across two nodes: %v, want 4 served and 2 limited", codes)
	}
}

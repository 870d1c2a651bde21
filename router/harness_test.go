package router

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/internal/h1"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

// testModel is priced by each harness so costs are easy to compute by hand:
// input 1 USD per 1M tokens (1,000 nano-USD a token), output 2 USD per 1M (2,000).
const testModel = "test-model"

// harness is a running gateway over a real SQLite store in front of a fake OpenAI
// upstream, with one tenant and one key.
type harness struct {
	t        testing.TB
	store    *store.Store
	gw       *Gateway
	srv      *testServer
	upstream *providertest.OpenAIServer
	tenant   store.Tenant
	keyID    string
	key      string
	channel  store.Channel
	dbPath   string
	outbox   *store.Outbox
}

func ptr[T any](v T) *T { return &v }

func newHarness(t testing.TB, credit billing.Nanos, opts ...func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tollgate.db")
	st, err := store.Open(ctx, store.Options{DSN: dbPath, SecretKey: secret, BusyTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	up := providertest.NewOpenAI()
	t.Cleanup(up.Close)

	outbox, err := store.OpenOutbox(filepath.Join(dir, "outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, upstream: up, dbPath: dbPath, outbox: outbox}
	st.UseOutbox(outbox)
	if err := st.PutPrice(ctx, billing.Price{Model: testModel, Input: 1_000_000, Output: 2_000_000, ContextWindow: 100_000, MaxOutput: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPrice(ctx, billing.Price{Model: "test-embed", Input: 100_000}); err != nil {
		t.Fatal(err)
	}
	h.channel, err = st.CreateChannel(ctx, store.ChannelInput{Name: ptr("fake"), Provider: ptr("openai-compatible"), BaseURL: ptr(up.URL()),
		APIKey: ptr("sk-upstream-secret"), Models: &[]string{testModel, "test-embed", "unpriced-model"},
		ModelMap: &map[string]string{testModel: "upstream-model"}})
	if err != nil {
		t.Fatal(err)
	}
	h.tenant, err = st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if credit > 0 {
		if _, _, err := st.Topup(ctx, h.tenant.ID, credit, "seed", "seed"); err != nil {
			t.Fatal(err)
		}
	}
	k, secretKey, err := st.CreateKey(ctx, store.NewKey{TenantID: h.tenant.ID, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	h.keyID, h.key = k.ID, secretKey

	cfg := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Outbox: outbox, AllowPrivateUpstreams: true}
	for _, o := range opts {
		o(&cfg)
	}
	h.gw, err = New(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.Use(RequestID, Recover(h.gw.log))
	h.gw.Register(e)
	e.NoRoute(NotFound)
	h.srv = serveLean(t, e)
	// As tollgate serve does: detached streams hand their connection back.
	h.gw.HandBackTo(h.srv.front.Return)
	t.Cleanup(func() {
		h.srv.Close()
		h.gw.CutStreams() // detached streams are not the server's to wait for
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.gw.Wait(ctx); err != nil {
			t.Errorf("calls still running after the server closed: %v", err)
		}
	})
	return h
}

// testServer serves a handler as tollgate serve does: /v1 on h1.Server, the rest
// on net/http.
type testServer struct {
	URL   string
	front *h1.Server
}

func serveLean(t testing.TB, h http.Handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &h1.Server{Handler: h, Serves: ServedLean, Fallback: &http.Server{Handler: h}, WatchHangUp: WatchHangUp(),
		BaseContext: context.Background(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = front.Serve(ln) }()
	return &testServer{URL: "http://" + ln.Addr().String(), front: front}
}

func (s *testServer) Close() { _ = s.front.Close() }

// post sends a JSON body with the harness key and returns status, headers and body.
func (h *harness) post(path string, body any) (*http.Response, []byte) {
	h.t.Helper()
	return h.do(http.MethodPost, path, body, h.key)
}

func (h *harness) do(method, path string, body any, key string) (*http.Response, []byte) {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// wallet returns the tenant and asserts balance == Σ ledger and no overdraft.
func (h *harness) wallet() store.Tenant {
	h.t.Helper()
	ctx := context.Background()
	ten, err := h.store.Tenant(ctx, h.tenant.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	sum, err := h.store.LedgerSum(ctx, h.tenant.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if sum != ten.Balance {
		h.t.Fatalf("balance %s != Σ ledger %s", ten.Balance, sum)
	}
	if ten.Available() < -ten.CreditLimit {
		h.t.Fatalf("overdrawn: %+v", ten)
	}
	return ten
}

func (h *harness) calls() []store.CallRecord {
	h.t.Helper()
	recs, err := h.store.Calls(context.Background(), store.CallFilter{TenantID: h.tenant.ID, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

func errorOf(t *testing.T, body []byte) ErrorDetail {
	t.Helper()
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	return eb.Error
}

func chatBody(extra map[string]any) map[string]any {
	b := map[string]any{"model": testModel, "messages": []map[string]any{{"role": "user", "content": "Say hello."}}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// costOf prices usage at the test model's rates, in nano-USD.
func costOf(prompt, completion int64) billing.Nanos {
	p := billing.Price{Input: 1_000_000, Output: 2_000_000}
	c, _ := p.Cost(billing.Usage{PromptTokens: prompt, CompletionTokens: completion})
	return c
}

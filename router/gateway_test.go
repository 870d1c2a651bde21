package router

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

const usd = billing.NanosPerUSD

func TestChatExactDebit(t *testing.T) {
	h := newHarness(t, 10*usd)
	h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 100, CompletionTokens: 50})
	resp, body := h.post("/v1/chat/completions", chatBody(map[string]any{"unknown_vendor_field": map[string]any{"x": 1}}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := costOf(100, 50) // 100×1,000 + 50×2,000 = 200,000 nano-USD
	if want != 200_000 {
		t.Fatalf("test arithmetic: %s", want)
	}
	if got := h.wallet(); got.Balance != 10*usd-want || got.Held != 0 {
		t.Fatalf("balance %s held %s, want %s and 0", got.Balance, got.Held, 10*usd-want)
	}
	if resp.Header.Get("X-Tollgate-Cost-Usd") != want.String() || resp.Header.Get("X-Request-Id") == "" ||
		resp.Header.Get("X-Tollgate-Channel") != "fake" || resp.Header.Get("X-Tollgate-Attempts") != "1" {
		t.Fatalf("headers %v", resp.Header)
	}
	recs := h.calls()
	if len(recs) != 1 || recs[0].Cost != want || recs[0].Usage.PromptTokens != 100 || recs[0].Usage.CompletionTokens != 50 ||
		recs[0].Estimated || recs[0].Model != testModel || recs[0].UpstreamModel != "upstream-model" || recs[0].Status != 200 {
		t.Fatalf("request log %+v", recs)
	}
	entries, _ := h.store.LedgerPage(context.Background(), h.tenant.ID, 0, 10)
	if len(entries) != 2 || entries[0].Amount != -want || entries[0].Kind != store.LedgerUsage {
		t.Fatalf("ledger %+v", entries)
	}
	calls := h.upstream.Calls()
	if len(calls) != 1 {
		t.Fatalf("upstream calls %d", len(calls))
	}
	up := calls[0]
	if up.Model != "upstream-model" || up.MaxTokens != 1000 || up.Header.Get("Authorization") != "Bearer sk-upstream-secret" {
		t.Fatalf("upstream got model %q max_tokens %d auth %q", up.Model, up.MaxTokens, up.Header.Get("Authorization"))
	}
	if !strings.Contains(string(up.Body), `"unknown_vendor_field":{"x":1}`) {
		t.Fatalf("unknown client field dropped: %s", up.Body)
	}
}

func TestInsufficientCredit(t *testing.T) {
	t.Run("ErrInsufficientCredit/NoUpstreamCall", func(t *testing.T) {
		h := newHarness(t, 1000) // one micro-dollar: not even one output token plus the prompt
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != http.StatusPaymentRequired {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		e := errorOf(t, body)
		if e.Type != "insufficient_quota" || e.Code == nil || *e.Code != "insufficient_quota" || resp.Header.Get("x-should-retry") != "false" {
			t.Fatalf("402 shape: %+v headers %v", e, resp.Header)
		}
		for _, want := range []string{"may cost up to", "0.000001000 USD", "/admin/api/v1/tenants/{id}/topups"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("402 message %q lacks %q", e.Message, want)
			}
		}
		if n := h.upstream.CallCount(); n != 0 {
			t.Fatalf("upstream called %d times", n)
		}
		if got := h.wallet(); got.Balance != 1000 || got.Held != 0 {
			t.Fatalf("wallet changed: %+v", got)
		}
		recs := h.calls()
		if len(recs) != 1 || recs[0].Status != 402 || recs[0].ErrorCode != "insufficient_quota" {
			t.Fatalf("402 not logged: %+v", recs)
		}
	})
	t.Run("MaxTokensTooLarge/SaysWhatIsAffordable", func(t *testing.T) {
		h := newHarness(t, usd/100) // 1 cent = 10,000,000 nano
		resp, body := h.post("/v1/chat/completions", chatBody(map[string]any{"max_tokens": 900_000}))
		if resp.StatusCode != http.StatusPaymentRequired {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		msg := errorOf(t, body).Message
		if !strings.Contains(msg, "lower max_tokens to") {
			t.Fatalf("message does not say what is affordable: %q", msg)
		}
		if h.upstream.CallCount() != 0 {
			t.Fatal("upstream called")
		}
	})
	t.Run("NoMaxTokens/InjectsWhatIsAffordable", func(t *testing.T) {
		h := newHarness(t, 100_000) // covers the prompt and a few dozen output tokens
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		up := h.upstream.Calls()[0]
		if up.MaxTokens < 1 || up.MaxTokens >= 1000 {
			t.Fatalf("injected max_tokens %d, want between 1 and the cap", up.MaxTokens)
		}
		if got := h.wallet(); got.Balance < 0 {
			t.Fatalf("overdrawn: %s", got.Balance)
		}
	})
	t.Run("KeyBudget", func(t *testing.T) {
		h := newHarness(t, 10*usd)
		budget := billing.Nanos(1000)
		_, key, err := h.store.CreateKey(context.Background(), store.NewKey{TenantID: h.tenant.ID, Name: "small", Budget: &budget})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := h.do(http.MethodPost, "/v1/chat/completions", chatBody(map[string]any{"max_tokens": 10}), key)
		if resp.StatusCode != http.StatusPaymentRequired || !strings.Contains(errorOf(t, body).Message, "key's remaining budget") {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if h.upstream.CallCount() != 0 {
			t.Fatal("upstream called")
		}
	})
}

// TestConcurrentCallsNeverOverdraw: 200 clients race for a wallet that covers
// exactly 50 calls.
func TestConcurrentCallsNeverOverdraw(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	// Input is free and the fake reports completion = max_tokens, so each call
	// costs exactly its hold: 10 tokens × 2,000 nano.
	if err := h.store.PutPrice(ctx, billing.Price{Model: testModel, Output: 2_000_000, MaxOutput: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := h.gw.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	const perCall = 10 * 2_000
	if _, _, err := h.store.Topup(ctx, h.tenant.ID, 50*perCall, "", ""); err != nil {
		t.Fatal(err)
	}
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := h.post("/v1/chat/completions", chatBody(map[string]any{"max_tokens": 10}))
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusPaymentRequired:
				refused.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 50 || refused.Load() != 150 || other.Load() != 0 {
		t.Fatalf("served %d, refused %d, other %d; want 50/150/0", ok.Load(), refused.Load(), other.Load())
	}
	if got := h.wallet(); got.Balance != 0 || got.Held != 0 {
		t.Fatalf("balance %s held %s, want 0/0", got.Balance, got.Held)
	}
	if n := h.upstream.CallCount(); n != 50 {
		t.Fatalf("upstream served %d calls, want 50", n)
	}
}

func TestUpstreamFailureCostsNothing(t *testing.T) {
	for name, b := range map[string]providertest.Behavior{
		"ServerError":     {Error: providertest.ServerError()},
		"UpstreamQuota":   {Error: providertest.QuotaError()},
		"UpstreamPayment": {Error: providertest.PaymentRequiredError()},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, usd)
			h.upstream.SetBehavior(b)
			resp, body := h.post("/v1/chat/completions", chatBody(nil))
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if e := errorOf(t, body); e.Type != "upstream_error" {
				t.Fatalf("error %+v", e)
			}
			if got := h.wallet(); got.Balance != usd || got.Held != 0 {
				t.Fatalf("charged for a failed call: %+v", got)
			}
			recs := h.calls()
			if len(recs) != 1 || recs[0].Cost != 0 || recs[0].Status != 502 || len(recs[0].Attempts) != 1 {
				t.Fatalf("log %+v", recs)
			}
		})
	}
}

// streamLines posts a streaming chat call and returns its data lines.
func (h *harness) stream(body map[string]any) (*http.Response, []string) {
	h.t.Helper()
	resp, raw := h.post("/v1/chat/completions", body)
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "data: ") {
			lines = append(lines, strings.TrimPrefix(l, "data: "))
		}
	}
	return resp, lines
}

func TestStream(t *testing.T) {
	t.Run("UsageChunkStrippedWhenNotAsked", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 20, CompletionTokens: 7})
		resp, lines := h.stream(chatBody(map[string]any{"stream": true}))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if len(lines) < 3 || lines[len(lines)-1] != "[DONE]" {
			t.Fatalf("stream %q", lines)
		}
		for _, l := range lines {
			if strings.Contains(l, `"usage":{`) {
				t.Fatalf("usage chunk reached a client that did not ask: %s", l)
			}
		}
		if up := h.upstream.Calls()[0]; !up.IncludeUsage || !up.Stream {
			t.Fatal("include_usage not forced upstream")
		}
		if got := h.wallet(); got.Balance != usd-costOf(20, 7) {
			t.Fatalf("balance %s, want %s", got.Balance, usd-costOf(20, 7))
		}
	})
	t.Run("UsageChunkKeptWhenAsked", func(t *testing.T) {
		h := newHarness(t, usd)
		_, lines := h.stream(chatBody(map[string]any{"stream": true, "stream_options": map[string]any{"include_usage": true}}))
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, `"usage":{`)
		}
		if !found {
			t.Fatalf("usage chunk missing: %q", lines)
		}
	})
	t.Run("NoUpstreamUsage/BilledByTiktoken", func(t *testing.T) {
		h := newHarness(t, usd)
		text := "The quick brown fox jumps over the lazy dog, twice over."
		h.upstream.SetBehavior(providertest.Behavior{NoUsage: true, Text: text})
		body := chatBody(map[string]any{"stream": true})
		resp, lines := h.stream(body)
		if resp.StatusCode != 200 || lines[len(lines)-1] != "[DONE]" {
			t.Fatalf("stream %d %q", resp.StatusCode, lines)
		}
		recs := h.calls()
		if len(recs) != 1 || !recs[0].Estimated {
			t.Fatalf("usage not marked estimated: %+v", recs)
		}
		wantCompletion := billing.CountTokens(testModel, text)
		if recs[0].Usage.CompletionTokens != wantCompletion || recs[0].Usage.PromptTokens < 5 {
			t.Fatalf("estimated usage %+v, want completion %d", recs[0].Usage, wantCompletion)
		}
		want := costOf(recs[0].Usage.PromptTokens, wantCompletion)
		if got := h.wallet(); got.Balance != usd-want || recs[0].Cost != want {
			t.Fatalf("balance %s cost %s, want debit %s", got.Balance, recs[0].Cost, want)
		}
	})
	t.Run("ClientDisconnect/BilledForWhatWasGenerated", func(t *testing.T) {
		h := newHarness(t, usd)
		words := strings.Repeat("word ", 200)
		h.upstream.SetBehavior(providertest.Behavior{Text: words, ChunkDelay: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		raw, _ := json.Marshal(chatBody(map[string]any{"stream": true}))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(string(raw)))
		req.Header.Set("Authorization", "Bearer "+h.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		got := 0
		for sc.Scan() && got < 10 {
			if strings.HasPrefix(sc.Text(), "data: ") {
				got++
			}
		}
		cancel()
		resp.Body.Close()
		rec := waitForCall(t, h)
		if rec.ErrorCode != "client_disconnected" || !rec.Estimated {
			t.Fatalf("record %+v", rec)
		}
		if rec.Cost <= 0 || rec.Cost >= rec.HoldAmount {
			t.Fatalf("billed %s for a hold of %s: want more than 0 and less than the hold", rec.Cost, rec.HoldAmount)
		}
		if rec.Usage.CompletionTokens >= 200 || rec.Usage.CompletionTokens < 9 {
			t.Fatalf("completion tokens %d: want what was generated before the disconnect", rec.Usage.CompletionTokens)
		}
		if w := h.wallet(); w.Held != 0 || w.Balance != usd-rec.Cost {
			t.Fatalf("wallet %+v", w)
		}
	})
	t.Run("UpstreamCutMidStream/ErrorEventAndPartialBill", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Text: strings.Repeat("word ", 20), Fault: providertest.FaultCut, FaultAfter: 5})
		resp, lines := h.stream(chatBody(map[string]any{"stream": true}))
		if resp.StatusCode != 200 || len(lines) == 0 || !strings.Contains(lines[len(lines)-1], `"error"`) {
			t.Fatalf("want an error event last: %d %q", resp.StatusCode, lines)
		}
		rec := h.calls()[0]
		if rec.Cost <= 0 || rec.Cost >= rec.HoldAmount || rec.ErrorCode == "" {
			t.Fatalf("record %+v", rec)
		}
	})
	t.Run("CutAfterRoleChunk/ErrorEventNoCharge", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Fault: providertest.FaultCut, FaultAfter: 0})
		resp, lines := h.stream(chatBody(map[string]any{"stream": true}))
		if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"upstream_unreachable"`) {
			t.Fatalf("status %d: %q", resp.StatusCode, lines)
		}
		if w := h.wallet(); w.Balance != usd || w.Held != 0 {
			t.Fatalf("charged for a stream that produced nothing: %+v", w)
		}
	})
	t.Run("UpstreamErrorBeforeStream/502NoCharge", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Error: providertest.RateLimitError("1")})
		resp, body := h.post("/v1/chat/completions", chatBody(map[string]any{"stream": true}))
		if resp.StatusCode != http.StatusBadGateway || *errorOf(t, body).Code != "upstream_rate_limited" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if w := h.wallet(); w.Balance != usd || w.Held != 0 {
			t.Fatalf("charged: %+v", w)
		}
	})
}

// waitForCall polls the request log for the one call a test made: a handler whose
// client has gone settles after the client stops waiting.
// TestClientLeavesDuringPlainCall: the upstream answers after 5 s; the client
// leaves at 0.4 s. The server watches calls that run past 0.1 s, so the call is
// cancelled well before the upstream would have answered, and nothing is charged.
func TestClientLeavesDuringPlainCall(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{HeaderDelay: 5 * time.Second, PromptTokens: 10, CompletionTokens: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	raw, _ := json.Marshal(chatBody(nil))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+h.key)
	start := time.Now()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("status %d: the client should have given up", resp.StatusCode)
	}
	rec := waitForCall(t, h)
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Fatalf("the call settled %v after it began: the upstream call ran on after the client left", took)
	}
	if rec.Status == http.StatusOK || rec.Cost != 0 {
		t.Fatalf("record %+v: a call whose client left before the answer is not charged", rec)
	}
	if w := h.wallet(); w.Held != 0 || w.Balance != usd {
		t.Fatalf("wallet %+v", w)
	}
}

func waitForCall(t *testing.T, h *harness) store.CallRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if recs := h.calls(); len(recs) == 1 {
			return recs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the call was never settled")
	return store.CallRecord{}
}

func TestRefusalsBeforeHold(t *testing.T) {
	h := newHarness(t, usd)
	limited, limitedKey, err := h.store.CreateKey(context.Background(), store.NewKey{TenantID: h.tenant.ID, Name: "lim", Models: []string{"test-embed"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = limited
	cases := []struct {
		name   string
		key    string
		path   string
		body   any
		status int
		code   string
	}{
		{"ErrModelNotPriced", h.key, "/v1/chat/completions", chatBody(map[string]any{"model": "unpriced-model"}), 400, "model_not_priced"},
		{"ErrModelNotFound", h.key, "/v1/chat/completions", chatBody(map[string]any{"model": "no-such-model"}), 404, "model_not_found"},
		{"ErrModelNotAllowed", limitedKey, "/v1/chat/completions", chatBody(nil), 403, "model_not_allowed"},
		{"ErrInvalidJSON", h.key, "/v1/chat/completions", `{"model":`, 400, "invalid_request"},
		{"ErrConcatenatedJSON", h.key, "/v1/chat/completions", `{"model":"x","messages":[]}{"a":1}`, 400, "invalid_request"},
		{"ErrEmptyMessages", h.key, "/v1/chat/completions", chatBody(map[string]any{"messages": []any{}}), 400, "invalid_request"},
		{"ErrMaxTokensZero", h.key, "/v1/chat/completions", chatBody(map[string]any{"max_tokens": 0}), 400, "invalid_request"},
		{"ErrMaxTokensString", h.key, "/v1/chat/completions", chatBody(map[string]any{"max_tokens": "100"}), 400, "invalid_request"},
		{"ErrHugeN", h.key, "/v1/chat/completions", chatBody(map[string]any{"n": 100000}), 400, "invalid_request"},
		{"ErrContextLength", h.key, "/v1/chat/completions", chatBody(map[string]any{"messages": []map[string]any{{"role": "user", "content": strings.Repeat("hello world ", 60_000)}}}), 400, "context_length_exceeded"},
		{"ErrNoKey", "", "/v1/chat/completions", chatBody(nil), 401, "invalid_api_key"},
		{"ErrMalformedKey", "sk-tg-notarealkey", "/v1/chat/completions", chatBody(nil), 401, "invalid_api_key"},
		{"ErrUnknownRoute", h.key, "/v1/nope", chatBody(nil), 404, "unknown_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(http.MethodPost, tc.path, tc.body, tc.key)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if e := errorOf(t, body); e.Code == nil || *e.Code != tc.code {
				t.Fatalf("code %v, want %s: %s", e.Code, tc.code, body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
		})
	}
	if n := h.upstream.CallCount(); n != 0 {
		t.Fatalf("refused calls reached the upstream %d times", n)
	}
	if w := h.wallet(); w.Balance != usd || w.Held != 0 {
		t.Fatalf("refusals changed the wallet: %+v", w)
	}
	t.Run("KeyInQueryString", func(t *testing.T) {
		resp, body := h.do(http.MethodGet, "/v1/models?api_key="+h.key, nil, "")
		if resp.StatusCode != 401 || !strings.Contains(errorOf(t, body).Message, "not accepted in the URL") {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("ErrRequestTooLarge", func(t *testing.T) {
		big := `{"model":"test-model","messages":[{"role":"user","content":"` + strings.Repeat("a", 17<<20) + `"}]}`
		resp, body := h.do(http.MethodPost, "/v1/chat/completions", big, h.key)
		if resp.StatusCode != 413 {
			t.Fatalf("status %d: %.200s", resp.StatusCode, body)
		}
	})
	t.Run("DuplicateModelKey/BilledModelIsSentModel", func(t *testing.T) {
		h.upstream.Reset()
		resp, body := h.do(http.MethodPost, "/v1/chat/completions", `{"model":"unpriced-model","model":"test-model","messages":[{"role":"user","content":"hi"}]}`, h.key)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		up := h.upstream.Calls()[0]
		if strings.Count(string(up.Body), `"model"`) != 1 || up.Model != "upstream-model" {
			t.Fatalf("upstream body %s", up.Body)
		}
		if recs := h.calls(); recs[0].Model != testModel {
			t.Fatalf("billed model %q", recs[0].Model)
		}
	})
}

func TestRevokedKeyRefusedAtOnce(t *testing.T) {
	h := newHarness(t, usd)
	if resp, body := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if _, err := h.store.RevokeKey(context.Background(), h.keyID); err != nil {
		t.Fatal(err)
	}
	h.gw.ForgetKey(h.keyID)
	resp, body := h.post("/v1/chat/completions", chatBody(nil))
	if resp.StatusCode != 401 || !strings.Contains(errorOf(t, body).Message, "revoked") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if h.upstream.CallCount() != 1 {
		t.Fatal("a revoked key reached the upstream")
	}
}

func TestEmbeddingsBilled(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 42})
	resp, body := h.post("/v1/embeddings", map[string]any{"model": "test-embed", "input": []string{strings.Repeat("a ", 40), strings.Repeat("b ", 40)}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// 42 tokens × 100 nano-USD (0.1 USD per 1M tokens).
	if w := h.wallet(); w.Balance != usd-4200 {
		t.Fatalf("balance %s, want %s", w.Balance, usd-4200)
	}
	resp, body = h.post("/v1/embeddings", map[string]any{"model": "test-embed", "input": []any{}})
	if resp.StatusCode != 400 {
		t.Fatalf("empty input: status %d: %s", resp.StatusCode, body)
	}
}

func TestModelsListsPricedModelsTheKeyMayUse(t *testing.T) {
	h := newHarness(t, usd)
	resp, body := h.do(http.MethodGet, "/v1/models", nil, h.key)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var list struct {
		Data []modelObject `json:"data"`
	}
	_ = json.Unmarshal(body, &list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "test-embed,test-model" {
		t.Fatalf("models %v (unpriced models must not be listed)", ids)
	}
	resp, _ = h.do(http.MethodGet, "/v1/models/unpriced-model", nil, h.key)
	if resp.StatusCode != 404 {
		t.Fatalf("unpriced model: status %d", resp.StatusCode)
	}
}

var contentChunk = regexp.MustCompile(`"content":"[^"]`)

// TestStreamHoldsNoChunkBack: chunks that arrive together leave in one flush, but a
// chunk is never kept while the gateway waits for the next one. The upstream pauses
// before each chunk; each must reach the client before the next is even produced.
func TestStreamHoldsNoChunkBack(t *testing.T) {
	h := newHarness(t, usd)
	const pause = 250 * time.Millisecond
	h.upstream.SetBehavior(providertest.Behavior{Text: "one two three four", ChunkDelay: pause})
	raw, _ := json.Marshal(chatBody(map[string]any{"stream": true}))
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var arrived []time.Time
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && contentChunk.MatchString(sc.Text()) {
			arrived = append(arrived, time.Now())
		}
	}
	if len(arrived) != 4 {
		t.Fatalf("%d content chunks, want 4", len(arrived))
	}
	for i := 1; i < len(arrived); i++ {
		if gap := arrived[i].Sub(arrived[i-1]); gap < pause*3/4 {
			t.Fatalf("chunk %d arrived %s after chunk %d: it was held back until the next one came", i-1, gap, i)
		}
	}
}

// TestWatchSeesChangesMadeBeforeItStarted: a channel added after the gateway loaded
// its configuration but before Watch began (another node, during start-up) is
// picked up, not lost.
func TestWatchSeesChangesMadeBeforeItStarted(t *testing.T) {
	h := newHarness(t, usd)
	ctx := context.Background()
	if err := h.store.PutPrice(ctx, billing.Price{Model: "late-model", Input: 1, Output: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.CreateChannel(ctx, store.ChannelInput{Name: ptr("late"), Provider: ptr("openai-compatible"),
		BaseURL: ptr(h.upstream.URL()), APIKey: ptr("sk-late"), Models: &[]string{"late-model"}}); err != nil {
		t.Fatal(err)
	}
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	go h.gw.Watch(watchCtx, 20*time.Millisecond)
	waitFor(t, 2*time.Second, "the gateway to serve a model added before Watch started", func() bool {
		return len(h.gw.catalog.Load().plan("late-model")) > 0
	})
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := NewRequestID()
		if len(id) != 28 || !strings.HasPrefix(id, "req_") || strings.Trim(id[4:], "0123456789abcdef") != "" {
			t.Fatalf("id %q: want req_ and 24 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q came twice", id)
		}
		seen[id] = true
		if id[:16] < prev { // the first 12 hex digits are the time in milliseconds
			t.Fatalf("id %q sorts before the earlier %q", id, prev)
		}
		prev = id[:16]
	}
}

package router

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

// addChannel adds a channel to a second fake upstream serving testModel.
func (h *harness) addChannel(name string, priority, weight int, modelMap map[string]string) *providertest.OpenAIServer {
	h.t.Helper()
	up := providertest.NewOpenAI()
	h.t.Cleanup(up.Close)
	in := store.ChannelInput{Name: ptr(name), Provider: ptr("openai-compatible"), BaseURL: ptr(up.URL()), Models: &[]string{testModel},
		Priority: ptr(priority), Weight: ptr(weight)}
	if modelMap != nil {
		in.ModelMap = &modelMap
	}
	if _, err := h.store.CreateChannel(context.Background(), in); err != nil {
		h.t.Fatal(err)
	}
	if err := h.gw.Reload(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return up
}

func TestFailover(t *testing.T) {
	for name, failure := range map[string]*providertest.APIError{
		"ServerError":     providertest.ServerError(),
		"RateLimited":     providertest.RateLimitError("2"),
		"UpstreamQuota":   providertest.QuotaError(),
		"UpstreamPayment": providertest.PaymentRequiredError(),
		"UpstreamAuth":    providertest.AuthError(),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, usd)
			h.upstream.SetBehavior(providertest.Behavior{Error: failure}) // "fake", priority 0
			primary := h.addChannel("primary", 10, 1, nil)
			primary.SetBehavior(providertest.Behavior{Error: failure})
			backup := h.addChannel("backup", 5, 1, nil)
			backup.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 10})

			resp, body := h.post("/v1/chat/completions", chatBody(nil))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if resp.Header.Get("X-Tollgate-Channel") != "backup" || resp.Header.Get("X-Tollgate-Attempts") != "2" {
				t.Fatalf("trace headers %v", resp.Header)
			}
			if primary.CallCount() != 1 || backup.CallCount() != 1 || h.upstream.CallCount() != 0 {
				t.Fatalf("calls: primary %d backup %d third %d", primary.CallCount(), backup.CallCount(), h.upstream.CallCount())
			}
			rec := h.calls()[0]
			if len(rec.Attempts) != 2 || rec.Attempts[0].Status != failure.Status || rec.Attempts[1].Status != 200 || rec.Cost != costOf(10, 10) {
				t.Fatalf("record %+v", rec)
			}
			if w := h.wallet(); w.Balance != usd-costOf(10, 10) {
				t.Fatalf("billed %s, want exactly one attempt's cost", usd-w.Balance)
			}
		})
	}
	t.Run("ClientErrorIsNotRetried", func(t *testing.T) {
		h := newHarness(t, usd)
		primary := h.addChannel("primary", 10, 1, nil)
		primary.SetBehavior(providertest.Behavior{Error: &providertest.APIError{Status: 400, Type: "invalid_request_error", Message: "bad tool schema"}})
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != 400 || h.upstream.CallCount() != 0 {
			t.Fatalf("status %d, backup calls %d: %s", resp.StatusCode, h.upstream.CallCount(), body)
		}
		if w := h.wallet(); w.Balance != usd {
			t.Fatal("charged for a refused request")
		}
	})
	t.Run("UpstreamQuotaNeverA402", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Error: providertest.PaymentRequiredError()})
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != http.StatusBadGateway || *errorOf(t, body).Code != "upstream_insufficient_quota" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Tollgate-Channel") != "fake" || resp.Header.Get("X-Tollgate-Attempts") != "1" {
			t.Fatalf("failed answers must be traceable too: %v", resp.Header)
		}
	})
}

func TestCircuitBreaker(t *testing.T) {
	h := newHarness(t, usd)
	broken := h.addChannel("broken", 10, 1, nil)
	broken.SetBehavior(providertest.Behavior{Error: providertest.ServerError()})
	for i := 0; i < breakerThreshold+5; i++ {
		if resp, body := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d: %s", i, resp.StatusCode, body)
		}
	}
	if n := broken.CallCount(); n != breakerThreshold {
		t.Fatalf("broken channel tried %d times, want %d before its circuit opened", n, breakerThreshold)
	}
	var state string
	for _, ch := range h.gw.ChannelHealth() {
		if ch.Failures > 0 {
			state = ch.State
		}
	}
	if state != CircuitOpen {
		t.Fatalf("circuit %q, want open", state)
	}
	// Cooldown over: one probe goes through, succeeds, and closes the circuit.
	h.gw.health.mu.Lock()
	for _, s := range h.gw.health.m {
		if s.State == CircuitOpen {
			s.OpenUntil = s.OpenUntil.Add(-2 * breakerCooldown)
		}
	}
	h.gw.health.mu.Unlock()
	broken.SetBehavior(providertest.Behavior{})
	if resp, _ := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 || resp.Header.Get("X-Tollgate-Channel") != "broken" {
		t.Fatalf("probe did not go to the recovered channel: %v", resp.Header)
	}
	for _, ch := range h.gw.ChannelHealth() {
		if ch.State != CircuitClosed {
			t.Fatalf("channel %s still %s after a good probe", ch.ChannelID, ch.State)
		}
	}
}

func TestWeightsSplitTrafficAmongEqualPriorities(t *testing.T) {
	h := newHarness(t, 10*usd)
	heavy := h.addChannel("heavy", 0, 9, nil) // same priority as "fake" (weight 1)
	const calls = 200
	for i := 0; i < calls; i++ {
		if resp, _ := h.post("/v1/chat/completions", chatBody(map[string]any{"max_tokens": 5})); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	share := float64(heavy.CallCount()) / calls
	if share < 0.8 || share > 0.97 {
		t.Fatalf("weight 9:1 gave the heavy channel %.0f%% of calls", share*100)
	}
}

func TestBilledAtServedModelsPrice(t *testing.T) {
	h := newHarness(t, usd)
	ctx := context.Background()
	// The backup maps the client's model to a cheaper priced model.
	if err := h.store.PutPrice(ctx, billing.Price{Model: "cheap-model", Input: 100_000, Output: 200_000}); err != nil {
		t.Fatal(err)
	}
	h.upstream.SetBehavior(providertest.Behavior{Error: providertest.ServerError()})
	backup := h.addChannel("backup", -1, 1, map[string]string{testModel: "cheap-model"})
	backup.SetBehavior(providertest.Behavior{PromptTokens: 100, CompletionTokens: 100})
	if resp, body := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := billing.Nanos(100*100 + 100*200) // cheap-model's rates
	if rec := h.calls()[0]; rec.Cost != want || rec.UpstreamModel != "cheap-model" {
		t.Fatalf("cost %s upstream %q, want %s at the served model's price", rec.Cost, rec.UpstreamModel, want)
	}
}

// TestUpstreamRetryAfterIsHonoured: a channel that answers 429 with a Retry-After is
// left alone that long. The client hears the wait; with no other channel the next
// call is refused at once (503, nothing charged, no upstream call) and hears what
// is left of it; with another channel, the calls go there at the first attempt.
func TestUpstreamRetryAfterIsHonoured(t *testing.T) {
	t.Run("OnlyChannel", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Error: providertest.RateLimitError("30")})
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != http.StatusBadGateway || *errorOf(t, body).Code != "upstream_rate_limited" || resp.Header.Get("Retry-After") != "30" {
			t.Fatalf("status %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		resp, body = h.post("/v1/chat/completions", chatBody(nil))
		if ra := resp.Header.Get("Retry-After"); resp.StatusCode != http.StatusServiceUnavailable ||
			*errorOf(t, body).Code != "no_channel_available" || (ra != "30" && ra != "29") {
			t.Fatalf("second call: status %d, Retry-After %q: %s", resp.StatusCode, ra, body)
		}
		if n := h.upstream.CallCount(); n != 1 {
			t.Fatalf("the channel was called %d times within its Retry-After, want 1", n)
		}
		if w := h.wallet(); w.Balance != usd || w.Held != 0 {
			t.Fatalf("balance %s, held %s: refused calls must cost nothing", w.Balance, w.Held)
		}
	})
	t.Run("AnotherChannelServes", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Error: providertest.RateLimitError("30")}) // "fake", priority 0
		backup := h.addChannel("backup", -1, 1, nil)
		for i, wantAttempts := range []string{"2", "1", "1"} {
			resp, body := h.post("/v1/chat/completions", chatBody(nil))
			if resp.StatusCode != 200 || resp.Header.Get("X-Tollgate-Channel") != "backup" || resp.Header.Get("X-Tollgate-Attempts") != wantAttempts {
				t.Fatalf("call %d: status %d, channel %q, attempts %q: %s", i, resp.StatusCode,
					resp.Header.Get("X-Tollgate-Channel"), resp.Header.Get("X-Tollgate-Attempts"), body)
			}
		}
		if h.upstream.CallCount() != 1 || backup.CallCount() != 3 {
			t.Fatalf("calls: rate-limited %d, backup %d", h.upstream.CallCount(), backup.CallCount())
		}
	})
}

func TestHealthBookRetryAfter(t *testing.T) {
	var b healthBook
	now := time.Now()
	b.record("a", outcomeFailed, time.Millisecond, "429", 2*time.Second, now)
	if b.allow("a", now.Add(time.Second)) {
		t.Fatal("a channel that asked for 2 s was called after 1 s")
	}
	if got := b.reopensIn([]string{"a"}, now.Add(500*time.Millisecond)); got != 1500*time.Millisecond {
		t.Fatalf("reopens in %v, want 1.5s", got)
	}
	if !b.allow("a", now.Add(2*time.Second)) {
		t.Fatal("the channel was not let back in once its wait was over")
	}
	b.record("b", outcomeFailed, time.Millisecond, "429", 24*time.Hour, now)
	b.record("c", outcomeFailed, time.Millisecond, "503", 3*time.Second, now)
	if got := b.reopensIn([]string{"b", "c"}, now); got != 3*time.Second {
		t.Fatalf("reopens in %v, want the sooner channel's 3s", got)
	}
	if got := b.reopensIn([]string{"b"}, now); got != providers.MaxRetryAfter {
		t.Fatalf("reopens in %v: a day-long Retry-After is capped at %v", got, providers.MaxRetryAfter)
	}
	if !b.allow("b", now.Add(providers.MaxRetryAfter)) {
		t.Fatal("a day-long Retry-After kept the channel out beyond MaxRetryAfter")
	}
}

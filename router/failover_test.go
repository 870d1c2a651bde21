package router

import (
	"context"
	"net/http"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
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

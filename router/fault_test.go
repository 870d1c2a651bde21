package router

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

func withTimeout(d time.Duration) func(*Config) { return func(c *Config) { c.UpstreamTimeout = d } }

// outcome checks the exact ledger result of one call: what it cost (from its own
// request-log row), that the wallet moved by exactly that, and that nothing is held.
func (h *harness) exactOutcome(t *testing.T, wantCharge bool) store.CallRecord {
	t.Helper()
	rec := waitForCall(t, h)
	w := h.wallet()
	if w.Held != 0 {
		t.Fatalf("%s still held", w.Held)
	}
	if w.Balance != usd-rec.Cost {
		t.Fatalf("balance %s, want %s − cost %s", w.Balance, usd, rec.Cost)
	}
	if !wantCharge && rec.Cost != 0 {
		t.Fatalf("a failed call was charged %s", rec.Cost)
	}
	if wantCharge {
		if rec.Cost <= 0 || rec.Cost > rec.HoldAmount {
			t.Fatalf("charged %s for a hold of %s: want more than 0, at most the hold", rec.Cost, rec.HoldAmount)
		}
		if rec.Cost != costOf(rec.Usage.PromptTokens, rec.Usage.CompletionTokens) && rec.Cost != rec.HoldAmount {
			t.Fatalf("charged %s but its usage %+v prices at %s", rec.Cost, rec.Usage, costOf(rec.Usage.PromptTokens, rec.Usage.CompletionTokens))
		}
	}
	entries, _ := h.store.LedgerPage(t.Context(), h.tenant.ID, 0, 10)
	debits := 0
	for _, e := range entries {
		if e.Kind == store.LedgerUsage {
			debits++
		}
	}
	if want := map[bool]int{true: 1, false: 0}[wantCharge]; debits != want {
		t.Fatalf("%d ledger debits, want %d", debits, want)
	}
	return rec
}

// resetServer accepts connections and resets them at once, before any byte.
func resetServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0) // RST, not FIN
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/v1"
}

func TestUpstreamFaults(t *testing.T) {
	streamBody := chatBody(map[string]any{"stream": true, "max_tokens": 200})
	t.Run("SlowFirstByteBeyondTimeout/504NoCharge", func(t *testing.T) {
		h := newHarness(t, usd, withTimeout(300*time.Millisecond))
		h.upstream.SetBehavior(providertest.Behavior{HeaderDelay: 2 * time.Second})
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != http.StatusGatewayTimeout || *errorOf(t, body).Code != "upstream_timeout" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		h.exactOutcome(t, false)
	})
	t.Run("SlowFirstByteWithinTimeout/Billed", func(t *testing.T) {
		h := newHarness(t, usd, withTimeout(2*time.Second))
		h.upstream.SetBehavior(providertest.Behavior{HeaderDelay: 150 * time.Millisecond, PromptTokens: 30, CompletionTokens: 40})
		if resp, body := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if rec := h.exactOutcome(t, true); rec.Cost != costOf(30, 40) || rec.Estimated {
			t.Fatalf("record %+v", rec)
		}
	})
	t.Run("StallMidStream/TimeoutEventPartialBill", func(t *testing.T) {
		h := newHarness(t, usd, withTimeout(500*time.Millisecond))
		h.upstream.SetBehavior(providertest.Behavior{Text: strings.Repeat("word ", 50), Fault: providertest.FaultStall, FaultAfter: 5})
		resp, lines := h.stream(streamBody)
		if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"upstream_timeout"`) {
			t.Fatalf("%d %q", resp.StatusCode, lines)
		}
		lo, hi := billing.CountTokens(testModel, strings.Repeat("word ", 4)), billing.CountTokens(testModel, strings.Repeat("word ", 6))
		if rec := h.exactOutcome(t, true); !rec.Estimated || rec.Usage.CompletionTokens < lo || rec.Usage.CompletionTokens > hi {
			t.Fatalf("billed for %d completion tokens; the upstream produced 5 words (%d–%d tokens)", rec.Usage.CompletionTokens, lo, hi)
		}
	})
	t.Run("ResetBeforeHeaders/502NoCharge", func(t *testing.T) {
		h := newHarness(t, usd)
		url := resetServer(t)
		if _, err := h.store.UpdateChannel(t.Context(), h.channel.ID, store.ChannelInput{BaseURL: &url}); err != nil {
			t.Fatal(err)
		}
		h.gw.Reload(t.Context())
		for _, body := range []map[string]any{chatBody(nil), streamBody} {
			resp, raw := h.post("/v1/chat/completions", body)
			if resp.StatusCode != http.StatusBadGateway || *errorOf(t, raw).Code != "upstream_unreachable" {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
		}
		if w := h.wallet(); w.Balance != usd || w.Held != 0 {
			t.Fatalf("charged: %+v", w)
		}
	})
	t.Run("ResetMidStream/ErrorEventPartialBill", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Text: strings.Repeat("word ", 30), Fault: providertest.FaultCut, FaultAfter: 8})
		resp, lines := h.stream(streamBody)
		if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"error"`) {
			t.Fatalf("%d %q", resp.StatusCode, lines)
		}
		h.exactOutcome(t, true)
	})
	t.Run("ErrorBursts/OnlyServedCallsBilled", func(t *testing.T) {
		h := newHarness(t, usd)
		var n atomic.Int64
		statuses := []int{500, 502, 0, 503, 429, 0, 500, 0} // never 5 in a row: the circuit stays closed
		h.upstream.SetRespond(func(providertest.RecordedRequest) *providertest.Behavior {
			s := statuses[int(n.Add(1)-1)%len(statuses)]
			if s == 0 {
				return &providertest.Behavior{PromptTokens: 5, CompletionTokens: 5}
			}
			return &providertest.Behavior{Error: &providertest.APIError{Status: s, Type: "server_error", Message: "burst"}}
		})
		served := 0
		for range statuses {
			resp, _ := h.post("/v1/chat/completions", chatBody(nil))
			if resp.StatusCode == 200 {
				served++
			} else if resp.StatusCode != 502 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if w := h.wallet(); served != 3 || w.Balance != usd-3*costOf(5, 5) || w.Held != 0 {
			t.Fatalf("served %d, balance %s", served, w.Balance)
		}
	})
	t.Run("MalformedSSE/ErrorEventPartialBill", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Text: strings.Repeat("word ", 20), Fault: providertest.FaultMalformed, FaultAfter: 4})
		resp, lines := h.stream(streamBody)
		if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"error"`) {
			t.Fatalf("%d %q", resp.StatusCode, lines)
		}
		h.exactOutcome(t, true)
	})
	t.Run("UsageFrameMissing/EstimatedBill", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{NoUsage: true})
		if resp, lines := h.stream(streamBody); resp.StatusCode != 200 || lines[len(lines)-1] != "[DONE]" {
			t.Fatalf("%d %q", resp.StatusCode, lines)
		}
		if rec := h.exactOutcome(t, true); !rec.Estimated {
			t.Fatal("not marked estimated")
		}
	})
	t.Run("UsageLargerThanHold/ChargedTheHold", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 1_000_000})
		if resp, body := h.post("/v1/chat/completions", chatBody(map[string]any{"max_tokens": 10})); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		// Policy: never charge more than the hold the client's limits allowed.
		if rec := h.exactOutcome(t, true); rec.Cost != rec.HoldAmount {
			t.Fatalf("charged %s, want the hold %s", rec.Cost, rec.HoldAmount)
		}
	})
	t.Run("NeverEnds/TimeoutEventPartialBill", func(t *testing.T) {
		h := newHarness(t, usd, withTimeout(400*time.Millisecond))
		h.upstream.SetBehavior(providertest.Behavior{Text: strings.Repeat("word ", 100000), Chunks: 100000, ChunkDelay: time.Millisecond})
		resp, lines := h.stream(chatBody(map[string]any{"stream": true, "max_tokens": 100000}))
		if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"upstream_timeout"`) {
			t.Fatalf("%d last %q", resp.StatusCode, lines[len(lines)-1])
		}
		if rec := h.exactOutcome(t, true); rec.Cost >= rec.HoldAmount {
			t.Fatalf("charged the whole hold %s for a cut stream", rec.Cost)
		}
	})
}

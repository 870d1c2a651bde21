package router

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// vendorFake is an Anthropic or Gemini fake behind a channel of the harness.
type vendorFake struct {
	name  string
	model string
	setup func(h *harness, text string, fault providertest.Fault, after int, chunkDelay time.Duration, noFinal bool)
}

var vendorFakes = []vendorFake{
	{"anthropic", claude, func(h *harness, text string, fault providertest.Fault, after int, delay time.Duration, noFinal bool) {
		f := providertest.NewAnthropic()
		h.t.Cleanup(f.Close)
		f.SetBehavior(providertest.AnthropicBehavior{Text: text, Chunks: len(strings.Fields(text)), InputTokens: 20, OutputTokens: 8,
			Fault: fault, FaultAfter: after, ChunkDelay: delay, NoMessageStop: noFinal, UnknownEvents: true})
		h.addProviderChannel("anthropic", f.URL(), "sk-ant", claude)
	}},
	{"gemini", "gemini-2.5-flash", func(h *harness, text string, fault providertest.Fault, after int, delay time.Duration, noFinal bool) {
		f := providertest.NewGemini()
		h.t.Cleanup(f.Close)
		b := providertest.GeminiBehavior{Text: text, Chunks: len(strings.Fields(text)), PromptTokens: 20, CandidatesTokens: 8,
			Fault: fault, FaultAfter: after, ChunkDelay: delay}
		if noFinal { // the stream stops before the event that carries finishReason
			b.Fault, b.FaultAfter = providertest.FaultCut, len(strings.Fields(text))-1
		}
		f.SetBehavior(b)
		h.addProviderChannel("gemini", f.URL(), "gk", "gemini-2.5-flash")
	}},
}

// TestBrokenVendorStreams: a vendor stream that breaks — malformed JSON, an error
// event, no final event — reaches an OpenAI-format client as an error event after
// what was produced, billed for that much only, with nothing left held.
func TestBrokenVendorStreams(t *testing.T) {
	faults := []struct {
		name    string
		fault   providertest.Fault
		noFinal bool
	}{
		{"MalformedJSON", providertest.FaultMalformed, false},
		{"ErrorEventMidStream", providertest.FaultErrorEvent, false},
		{"CutMidStream", providertest.FaultCut, false},
		{"NoFinalEvent", providertest.FaultNone, true},
	}
	for _, v := range vendorFakes {
		for _, f := range faults {
			t.Run(v.name+"/"+f.name, func(t *testing.T) {
				h := newHarness(t, usd)
				v.setup(h, "one two three four five six seven eight", f.fault, 4, 0, f.noFinal)
				resp, lines := h.stream(chatBody(map[string]any{"model": v.model, "stream": true}))
				if resp.StatusCode != 200 || len(lines) == 0 || !strings.Contains(lines[len(lines)-1], `"error"`) {
					t.Fatalf("%d: want an error event last, got %q", resp.StatusCode, lines)
				}
				rec := waitForCall(t, h)
				w := h.wallet()
				if w.Held != 0 || w.Balance != usd-rec.Cost || rec.Cost <= 0 || rec.Cost >= rec.HoldAmount || rec.ErrorCode == "" {
					t.Fatalf("record %+v wallet %+v: want a partial bill below the hold", rec, w)
				}
			})
		}
	}
	t.Run("anthropic/UnknownEventsSkipped", func(t *testing.T) {
		h := newHarness(t, usd)
		vendorFakes[0].setup(h, "alpha beta gamma", providertest.FaultNone, 0, 0, false)
		resp, lines := h.stream(chatBody(map[string]any{"model": claude, "stream": true}))
		if resp.StatusCode != 200 || lines[len(lines)-1] != "[DONE]" {
			t.Fatalf("%d %q", resp.StatusCode, lines)
		}
	})
}

// TestFirstTokenNotHeldBack: through an Anthropic or Gemini channel the first token
// reaches the client while the upstream is still producing the rest — each event is
// translated as it arrives, never after the whole answer.
func TestFirstTokenNotHeldBack(t *testing.T) {
	const gap = 300 * time.Millisecond // between upstream chunks
	for _, v := range vendorFakes {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t, usd)
			v.setup(h, "first second third", providertest.FaultNone, 0, gap, false)
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions",
				strings.NewReader(`{"model":"`+v.model+`","stream":true,"messages":[{"role":"user","content":"go"}]}`))
			req.Header.Set("Authorization", "Bearer "+h.key)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"content":"first`) {
					break
				}
			}
			// The fake waits one gap before each chunk: the first token is due after one
			// gap, the whole answer after three.
			if ttft := time.Since(start); ttft > gap+gap/2 {
				t.Fatalf("first token after %v: held back until more of the answer arrived", ttft)
			}
		})
	}
}

// BenchmarkTimeToFirstToken compares the first streamed token's arrival straight
// from a vendor fake with its arrival through the gateway (auth, hold, translation
// of the first event): the difference is what the gateway adds.
func BenchmarkTimeToFirstToken(b *testing.B) {
	direct := map[string]func(url string) *http.Request{
		"anthropic": func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url+"/messages", strings.NewReader(`{"model":"`+claude+`","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"go"}]}`))
			r.Header.Set("x-api-key", "sk-ant")
			r.Header.Set("anthropic-version", "2023-06-01")
			r.Header.Set("content-type", "application/json")
			return r
		},
		"gemini": func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url+"/models/gemini-2.5-flash:streamGenerateContent?alt=sse", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"go"}]}]}`))
			r.Header.Set("x-goog-api-key", "gk")
			r.Header.Set("content-type", "application/json")
			return r
		},
	}
	firstToken := func(b *testing.B, r *http.Request, marker string) time.Duration {
		start := time.Now()
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				return time.Since(start)
			}
		}
		b.Fatalf("no first token (status %d)", resp.StatusCode)
		return 0
	}
	for _, v := range vendorFakes {
		b.Run(v.name, func(b *testing.B) {
			h := newHarness(b, 1000*usd)
			var url string
			switch v.name {
			case "anthropic":
				f := providertest.NewAnthropic()
				b.Cleanup(f.Close)
				f.SetBehavior(providertest.AnthropicBehavior{Text: "first second", Chunks: 2})
				h.addProviderChannel("anthropic", f.URL(), "sk-ant", claude)
				url = f.URL()
			case "gemini":
				f := providertest.NewGemini()
				b.Cleanup(f.Close)
				f.SetBehavior(providertest.GeminiBehavior{Text: "first second", Chunks: 2})
				h.addProviderChannel("gemini", f.URL(), "gk", "gemini-2.5-flash")
				url = f.URL()
			}
			var viaDirect, viaGateway time.Duration
			for i := 0; i < b.N; i++ {
				viaDirect += firstToken(b, direct[v.name](url), "first")
				r, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions",
					strings.NewReader(`{"model":"`+v.model+`","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"go"}]}`))
				r.Header.Set("Authorization", "Bearer "+h.key)
				viaGateway += firstToken(b, r, `"content":"first`)
			}
			n := float64(b.N)
			b.ReportMetric(float64(viaDirect.Microseconds())/n, "direct-ttft-µs")
			b.ReportMetric(float64(viaGateway.Microseconds())/n, "gateway-ttft-µs")
			b.ReportMetric(float64((viaGateway-viaDirect).Microseconds())/n, "added-µs")
		})
	}
}

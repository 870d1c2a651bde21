package router

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

// hotPathBody is the chat body of the hot-path benchmark and its allocation guard.
func hotPathBody(stream bool) []byte {
	body := []byte(`{"model":"test-model","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16`)
	if stream {
		body = append(body, `,"stream":true`...)
	}
	return append(body, '}')
}

// hotPathCall makes one billed call through the harness and reads its answer.
func hotPathCall(tb testing.TB, h *harness, client *http.Client, body []byte) bool {
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := client.Do(req)
	if err != nil {
		tb.Error(err)
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("status %d", resp.StatusCode)
		return false
	}
	return true
}

// newHotPathHarness is a harness whose fake streams 20 chunks and keeps no record of
// the calls, with the tokenizer loaded.
func newHotPathHarness(tb testing.TB) *harness {
	h := newHarness(tb, store.MaxTopup)
	h.upstream.SetRecording(false)
	h.upstream.SetBehavior(providertest.Behavior{Chunks: 20})
	billing.CountTokens(testModel, "warm up")
	return h
}

// BenchmarkChatHotPath measures one billed call end to end through the gateway on
// SQLite: auth (cached key), parse, hold, relay to the fake upstream, settle, log.
// TestChatHotPathAllocationBudget guards its allocations in every test run.
func BenchmarkChatHotPath(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name := "plain"
		if stream {
			name = "stream"
		}
		b.Run(name, func(b *testing.B) {
			h := newHotPathHarness(b)
			body := hotPathBody(stream)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !hotPathCall(b, h, client, body) {
						return
					}
				}
			})
		})
	}
}

// TestChatHotPathAllocationBudget is the hot path's regression guard among the
// tests: the allocations of one billed call (the gateway with the in-process client
// and fake), a count that, unlike a time, does not drift with the machine. Budgets
// are today's counts (plain 260, stream 401) plus about 10 %.
func TestChatHotPathAllocationBudget(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates on its own; `make test` runs this test again without it")
	}
	for _, tc := range []struct {
		name   string
		stream bool
		budget float64
	}{{"plain", false, 290}, {"stream", true, 440}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHotPathHarness(t)
			body := hotPathBody(tc.stream)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for range 20 { // connections, pools and caches warm
				hotPathCall(t, h, client, body)
			}
			n := testing.AllocsPerRun(200, func() { hotPathCall(t, h, client, body) })
			t.Logf("%s call: %.0f allocations (budget %.0f)", tc.name, n, tc.budget)
			if n > tc.budget {
				t.Errorf("a %s call allocates %.0f times, over its budget of %.0f: find the new allocations with `go test -bench ChatHotPath -memprofile`", tc.name, n, tc.budget)
			}
		})
	}
}

// benchChatBody is a typical chat completion body of about 1.5 KB: a system prompt,
// a short conversation, one tool and the usual sampling parameters.
var benchChatBody = []byte(`{
  "model": "test-model",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant for an online bookshop. Answer briefly, cite the catalogue when you can, and never invent prices or stock levels. If a question is not about books, orders or deliveries, say so politely and offer to help with something else."},
    {"role": "user", "content": "Hello! I am looking for a novel set in Lisbon, preferably translated from Portuguese, not too long."},
    {"role": "assistant", "content": "Good choice of city. Two candidates: \"The Year of the Death of Ricardo Reis\" by José Saramago (about 360 pages) and \"Pereira Maintains\" by Antonio Tabucchi (about 200 pages, written in Italian but set in Lisbon in 1938). Shall I check stock for either?"},
    {"role": "user", "content": [{"type": "text", "text": "The shorter one, please. Is it in stock in paperback, and could it be delivered before Friday to Porto?"}]}
  ],
  "tools": [{"type": "function", "function": {"name": "check_stock", "description": "Stock and delivery estimate for one title", "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "format": {"type": "string", "enum": ["paperback", "hardcover", "ebook"]}, "city": {"type": "string"}}, "required": ["title"]}}}],
  "temperature": 0.3,
  "top_p": 0.9,
  "user": "customer-81723",
  "max_tokens": 400
}`)

// BenchmarkParseChatUpstreamBody measures the gateway's JSON work on one chat call:
// validating and reading the client's body, and rendering the upstream's.
func BenchmarkParseChatUpstreamBody(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name, body := "plain", benchChatBody
		if stream {
			name = "stream"
			body = append(bytes.TrimSuffix(bytes.TrimSpace(benchChatBody), []byte("}")), `, "stream": true}`...)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := parseChat(body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.upstreamBody("upstream-model", "", 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

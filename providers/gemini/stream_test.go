package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// drain reads a stream to its end and returns the chunks and the final error.
func drain(t *testing.T, s providers.ChatStream) ([]providers.Chunk, error) {
	t.Helper()
	defer s.Close()
	var chunks []providers.Chunk
	for range 10000 {
		ch, err := s.Recv()
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, ch)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

func openStream(t *testing.T, c *Client, ctx context.Context, body string) providers.ChatStream {
	t.Helper()
	s, err := c.ChatStream(ctx, chatReq(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// chunkJSON is the part of a chat.completion.chunk the tests read.
type chunkJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role             string  `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent string  `json:"reasoning_content"`
			ToolCalls        []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *json.RawMessage `json:"usage"`
}

func decodeChunk(t *testing.T, data []byte) chunkJSON {
	t.Helper()
	var c chunkJSON
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("chunk is not JSON: %v: %s", err, data)
	}
	return c
}

func TestChatStream(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.GeminiBehavior{Text: "one two three", Thoughts: "hmm", PromptTokens: 11, CandidatesTokens: 3,
		CachedTokens: 4, ThoughtsTokens: 6})
	chunks, err := drain(t, openStream(t, c, context.Background(), chatBody))
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF after the final event", err)
	}
	// thought, 3 text events (the last with the finish reason), usage
	if len(chunks) != 5 {
		t.Fatalf("got %d chunks, want 5", len(chunks))
	}
	var text strings.Builder
	for i, ch := range chunks[:4] {
		text.WriteString(ch.Text)
		if ch.Usage != nil || ch.UsageOnly {
			t.Errorf("chunk %d has usage: %s", i, ch.Data)
		}
		cj := decodeChunk(t, ch.Data)
		if cj.Object != "chat.completion.chunk" || cj.ID != "chatcmpl-fakeGeminiResp1" || cj.Model != "gemini-2.5-flash" || len(cj.Choices) != 1 {
			t.Errorf("chunk %d = %s", i, ch.Data)
		}
		if (cj.Choices[0].Delta.Role == "assistant") != (i == 0) {
			t.Errorf("chunk %d role = %q; only the first carries it", i, cj.Choices[0].Delta.Role)
		}
		if fr := cj.Choices[0].FinishReason; (fr != nil) != (i == 3) || (fr != nil && *fr != "stop") {
			t.Errorf("chunk %d finish_reason = %v", i, fr)
		}
	}
	if text.String() != "hmmone two three" {
		t.Errorf("text = %q", text.String())
	}
	if cj := decodeChunk(t, chunks[0].Data); cj.Choices[0].Delta.ReasoningContent != "hmm" || cj.Choices[0].Delta.Content != nil {
		t.Errorf("thought chunk = %s", chunks[0].Data)
	}
	last := chunks[4]
	want := providers.Usage{InputTokens: 11, CachedInputTokens: 4, OutputTokens: 9, ReasoningTokens: 6}
	if !last.UsageOnly || last.Usage == nil || *last.Usage != want || last.Text != "" {
		t.Errorf("usage chunk = %+v (%+v)", last, last.Usage)
	}
	cj := decodeChunk(t, last.Data)
	if len(cj.Choices) != 0 || cj.Usage == nil || cj.ID != "chatcmpl-fakeGeminiResp1" {
		t.Errorf("usage chunk = %s", last.Data)
	}
	jsonEqual(t, *cj.Usage, `{"prompt_tokens":11,"completion_tokens":9,"total_tokens":20,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":6}}`)
	if call := fake.Calls()[0]; call.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || call.RawQuery != "alt=sse" ||
		call.Header.Get("Accept") != "text/event-stream" || !call.Stream {
		t.Errorf("request: %s?%s Accept %q", call.Path, call.RawQuery, call.Header.Get("Accept"))
	}
}

// TestChatStreamEventByEvent proves each event is translated and handed out as it
// arrives, not when the stream ends: chunk i is returned within a few milliseconds
// of the upstream sending event i, well before event i+1 is sent.
func TestChatStreamEventByEvent(t *testing.T) {
	const gap = 150 * time.Millisecond
	events := []string{
		`{"candidates": [{"content": {"parts": [{"text": "a"}],"role": "model"},"index": 0}]}`,
		`{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"index": 0}]}`,
		`{"candidates": [{"content": {"parts": [{"text": "c"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 2,"candidatesTokenCount": 3,"totalTokenCount": 5}}`,
	}
	sent := make([]time.Time, len(events))
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i, e := range events {
			if i > 0 {
				time.Sleep(gap)
			}
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			io.WriteString(w, "data: "+e+"\r\n\r\n")
			rc.Flush()
		}
	}))
	defer srv.Close()
	s := openStream(t, New(Config{BaseURL: srv.URL}), context.Background(), chatBody)
	for i := range events {
		ch, err := s.Recv()
		got := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		lag, next := got.Sub(sent[i]), time.Time{}
		if i+1 < len(sent) {
			next = sent[i+1]
		}
		mu.Unlock()
		if lag > 50*time.Millisecond {
			t.Errorf("chunk %d (%q) returned %v after its event was sent", i, ch.Text, lag)
		}
		if !next.IsZero() {
			t.Errorf("chunk %d returned after event %d was sent: events are buffered", i, i+1)
		}
	}
	if ch, err := s.Recv(); err != nil || !ch.UsageOnly {
		t.Fatalf("usage chunk: %+v, %v", ch, err)
	}

	t.Run("FakeChunkDelay", func(t *testing.T) {
		fake, c := newFake(t)
		fake.SetBehavior(providertest.GeminiBehavior{Text: "a b c d", ChunkDelay: 80 * time.Millisecond})
		start := time.Now()
		s := openStream(t, c, context.Background(), chatBody)
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		first := time.Since(start)
		chunks, err := drain(t, s)
		total := time.Since(start)
		if err != io.EOF || len(chunks) != 4 {
			t.Fatalf("%d more chunks, err %v", len(chunks), err)
		}
		// A first chunk held back until the next one was sent would come at 160 ms or
		// later; the race detector on a busy machine can add tens of ms to 80.
		if first >= 2*80*time.Millisecond || total-first < 3*80*time.Millisecond*8/10 {
			t.Errorf("first chunk after %v, stream took %v: chunks were not handed out as they came", first, total)
		}
	})
}

// TestChatStreamEvents plays event sequences Gemini sends and checks each chunk.
func TestChatStreamEvents(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		chunks []string // expected chunk JSON (id, object, created and model left out)
		text   []string
		usage  *providers.Usage
	}{
		{
			name: "TextAndFinishInOneEvent",
			events: []string{`{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],
				"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}`},
			chunks: []string{`{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":"stop"}]}`},
			text:   []string{"Hi"},
			usage:  &providers.Usage{InputTokens: 3, OutputTokens: 1},
		},
		{
			name: "UsageIsCumulativeLastWins",
			events: []string{
				`{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}}`,
				`{"candidates":[{"content":{"parts":[{"text":"b"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"thoughtsTokenCount":7,"totalTokenCount":13}}`,
				`{"candidates":[{"content":{"parts":[{"text":""}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"cachedContentTokenCount":2,"candidatesTokenCount":2,"thoughtsTokenCount":7,"totalTokenCount":14}}`,
			},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"content":"b"},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
			},
			text:  []string{"a", "b", ""},
			usage: &providers.Usage{InputTokens: 5, CachedInputTokens: 2, OutputTokens: 9, ReasoningTokens: 7},
		},
		{
			name: "EmptyEventsSkippedAndUsageAfterFinish",
			events: []string{
				`{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}`,
				`{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"c2ln"}]}}]}`,
				`{"usageMetadata":{"promptTokenCount":1,"totalTokenCount":1}}`,
				`{"candidates":[{"content":{"parts":[{"text":"y"}]},"finishReason":"MAX_TOKENS"}]}`,
				`{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"totalTokenCount":3}}`,
			},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":"x"},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"content":"y"},"logprobs":null,"finish_reason":"length"}]}`,
			},
			text:  []string{"x", "y"},
			usage: &providers.Usage{InputTokens: 1, OutputTokens: 2},
		},
		{
			name: "ToolCalls",
			events: []string{
				`{"candidates":[{"content":{"parts":[{"text":"Let me check."}],"role":"model"}}]}`,
				`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},{"functionCall":{"name":"time","args":{}}}],"role":"model"},"finishReason":"STOP","finishMessage":"Model generated function call(s)."}]}`,
			},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me check."},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"},"extra_content":{"google":{"thought_signature":"c2ln"}}},{"index":1,"id":"call_1","type":"function","function":{"name":"time","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]}`,
			},
			text: []string{"Let me check.", `{"city":"Paris"}{}`},
		},
		{
			name: "ThoughtsThenText",
			events: []string{
				`{"candidates":[{"content":{"parts":[{"text":"Plan: greet.","thought":true}]}}]}`,
				`{"candidates":[{"content":{"parts":[{"text":"more","thought":true},{"text":"Hello"}]},"finishReason":"STOP"}]}`,
			},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Plan: greet."},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"content":"Hello","reasoning_content":"more"},"logprobs":null,"finish_reason":"stop"}]}`,
			},
			text: []string{"Plan: greet.", "Hellomore"},
		},
		{
			name: "SeveralCandidates",
			events: []string{
				`{"candidates":[{"content":{"parts":[{"text":"A"}]}},{"content":{"parts":[{"text":"B"}]},"index":1}]}`,
				`{"candidates":[{"content":{"parts":[{"text":"."}]},"index":1,"finishReason":"STOP"}]}`,
				`{"candidates":[{"content":{"parts":[{"text":"!"}]},"finishReason":"STOP"}]}`,
			},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":"A"},"logprobs":null,"finish_reason":null},{"index":1,"delta":{"role":"assistant","content":"B"},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":1,"delta":{"content":"."},"logprobs":null,"finish_reason":"stop"}]}`,
				`{"choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":"stop"}]}`,
			},
			text: []string{"AB", ".", "!"},
		},
		{
			name:   "PromptBlocked",
			events: []string{`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8}}`},
			chunks: []string{`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"content_filter"}]}`},
			text:   []string{""},
			usage:  &providers.Usage{InputTokens: 8},
		},
		{
			name:   "SafetyStopWithoutContent",
			events: []string{`{"candidates":[{"content":{"parts":[{"text":"par"}]}}]}`, `{"candidates":[{"finishReason":"SAFETY","safetyRatings":[]}]}`},
			chunks: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":"par"},"logprobs":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"content_filter"}]}`,
			},
			text: []string{"par", ""},
		},
		{
			name:   "EscapesAndUnicode",
			events: []string{`{"candidates":[{"content":{"parts":[{"text":"line\nnext \"q\" \u00e9 \ud83d\ude00 \u003c日本\u2028"}]},"finishReason":"STOP"}]}`},
			chunks: []string{`{"choices":[{"index":0,"delta":{"role":"assistant","content":"line\nnext \"q\" é 😀 <日本\u2028"},"logprobs":null,"finish_reason":"stop"}]}`},
			text:   []string{"line\nnext \"q\" é 😀 <日本\u2028"},
		},
	}
	fake, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make([]string, len(tt.events))
			for i, e := range tt.events {
				events[i] = strings.ReplaceAll(strings.ReplaceAll(e, "\n", ""), "\t", "")
			}
			fake.SetBehavior(providertest.GeminiBehavior{RawEvents: events})
			chunks, err := drain(t, openStream(t, c, context.Background(), chatBody))
			if err != io.EOF {
				t.Fatalf("err = %v", err)
			}
			want := len(tt.chunks)
			if tt.usage != nil {
				want++
			}
			if len(chunks) != want {
				t.Fatalf("got %d chunks, want %d", len(chunks), want)
			}
			for i, exp := range tt.chunks {
				var m map[string]any
				if err := json.Unmarshal(chunks[i].Data, &m); err != nil {
					t.Fatalf("chunk %d: %v: %s", i, err, chunks[i].Data)
				}
				if m["object"] != "chat.completion.chunk" || m["id"] == nil || m["created"] == nil || m["model"] == nil {
					t.Errorf("chunk %d head = %s", i, chunks[i].Data)
				}
				delete(m, "id")
				delete(m, "object")
				delete(m, "created")
				delete(m, "model")
				rest, _ := json.Marshal(m)
				jsonEqual(t, rest, exp)
				if chunks[i].Text != tt.text[i] {
					t.Errorf("chunk %d text = %q, want %q", i, chunks[i].Text, tt.text[i])
				}
				if chunks[i].Usage != nil {
					t.Errorf("chunk %d has usage", i)
				}
			}
			if tt.usage != nil {
				last := chunks[len(chunks)-1]
				if !last.UsageOnly || last.Usage == nil || *last.Usage != *tt.usage {
					t.Errorf("usage chunk = %+v (%+v), want %+v", last, last.Usage, tt.usage)
				}
			}
		})
	}
}

// TestChatStreamFailures is the broken-upstream table: every way a stream can go
// wrong ends in an error the router understands, never in a silent io.EOF.
func TestChatStreamFailures(t *testing.T) {
	fake, c := newFake(t)
	tests := []struct {
		name     string
		behavior providertest.GeminiBehavior
		chunks   int
		check    func(t *testing.T, ue *providers.UpstreamError)
	}{
		{"CutMidStream", providertest.GeminiBehavior{Text: "a b c", Fault: providertest.FaultCut, FaultAfter: 2}, 2,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "stream_truncated" || ue.Status != 0 || !ue.Retryable() {
					t.Errorf("got %+v", ue)
				}
			}},
		{"CutBeforeFirstEvent", providertest.GeminiBehavior{Text: "a b", Fault: providertest.FaultCut}, 0,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "stream_truncated" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"ErrorEventMidStream", providertest.GeminiBehavior{Text: "a b c", Fault: providertest.FaultErrorEvent, FaultAfter: 1}, 1,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "INTERNAL" || !strings.Contains(ue.Message, "internal error") {
					t.Errorf("got %+v", ue)
				}
			}},
		{"MalformedEvent", providertest.GeminiBehavior{Text: "a b", Fault: providertest.FaultMalformed, FaultAfter: 1}, 1,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "invalid_chunk" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"EndWithoutFinishReason", providertest.GeminiBehavior{RawEvents: []string{`{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}`}}, 1,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "stream_truncated" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"OneCandidateUnfinished", providertest.GeminiBehavior{RawEvents: []string{
			`{"candidates":[{"content":{"parts":[{"text":"A"}]}},{"content":{"parts":[{"text":"B"}]},"index":1}]}`,
			`{"candidates":[{"content":{"parts":[{"text":"."}]},"finishReason":"STOP"}]}`}}, 2,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "stream_truncated" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"NotJSONEvent", providertest.GeminiBehavior{RawEvents: []string{`[DONE]`}}, 0,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "invalid_chunk" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"ArrayEvent", providertest.GeminiBehavior{RawEvents: []string{`[{"candidates":[]}]`}}, 0,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "invalid_chunk" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"CandidateIndexOutOfRange", providertest.GeminiBehavior{RawEvents: []string{`{"candidates":[{"index":100000,"content":{"parts":[{"text":"x"}]}}]}`}}, 0,
			func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Code != "invalid_chunk" {
					t.Errorf("got %+v", ue)
				}
			}},
		{"QuotaErrorEvent", providertest.GeminiBehavior{RawEvents: []string{`{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED"}}`}}, 0,
			func(t *testing.T, ue *providers.UpstreamError) {
				if !ue.Quota || ue.Code != "RESOURCE_EXHAUSTED" {
					t.Errorf("got %+v", ue)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetBehavior(tt.behavior)
			s := openStream(t, c, context.Background(), chatBody)
			chunks, err := drain(t, s)
			if err == io.EOF {
				t.Fatal("stream ended with io.EOF")
			}
			tt.check(t, upstreamError(t, err))
			if len(chunks) != tt.chunks {
				t.Errorf("%d chunks before the error, want %d", len(chunks), tt.chunks)
			}
			if _, again := s.Recv(); again != err {
				t.Errorf("second Recv = %v, want the same error", again)
			}
		})
	}

	t.Run("StallThenCancelIsContextError", func(t *testing.T) {
		fake.SetBehavior(providertest.GeminiBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		ctx, cancel := context.WithCancel(context.Background())
		s := openStream(t, c, ctx, chatBody)
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("StallThenDeadlineIsTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.GeminiBehavior{Fault: providertest.FaultStall})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := drain(t, openStream(t, c, ctx, chatBody))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Fatalf("err %+v, want a timeout", ue)
		}
	})
	t.Run("StallHitsIdleTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.GeminiBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		c := New(Config{BaseURL: fake.URL(), APIKey: testKey, HTTPClient: fake.Client(), StreamIdleTimeout: 100 * time.Millisecond})
		chunks, err := drain(t, openStream(t, c, context.Background(), chatBody))
		if ue := upstreamError(t, err); !ue.Timeout || len(chunks) != 1 || !strings.Contains(ue.Message, "stalled") {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
	})
	t.Run("SlowButSteadyWithinIdleTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.GeminiBehavior{Text: "a b c d", ChunkDelay: 40 * time.Millisecond})
		c := New(Config{BaseURL: fake.URL(), APIKey: testKey, HTTPClient: fake.Client(), StreamIdleTimeout: 300 * time.Millisecond})
		if _, err := drain(t, openStream(t, c, context.Background(), chatBody)); err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	})
	t.Run("NoUsageEndsWithoutUsageChunk", func(t *testing.T) {
		fake.SetBehavior(providertest.GeminiBehavior{Text: "a b", NoUsage: true})
		chunks, err := drain(t, openStream(t, c, context.Background(), chatBody))
		if err != io.EOF || len(chunks) != 2 || chunks[1].Usage != nil || chunks[1].UsageOnly {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
	})
}

// TestChatStreamFraming covers what the event stream itself may look like.
func TestChatStreamFraming(t *testing.T) {
	serve := func(contentType, body string, status int) *Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return New(Config{BaseURL: srv.URL})
	}
	final := `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]}`
	t.Run("LFFraming", func(t *testing.T) {
		c := serve("text/event-stream", ": keep-alive\n\ndata: "+final+"\n\n", 200)
		if chunks, err := drain(t, openStream(t, c, context.Background(), chatBody)); err != io.EOF || len(chunks) != 1 {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
	})
	t.Run("FinalEventWithoutBlankLine", func(t *testing.T) {
		c := serve("text/event-stream", "data: "+final+"\r\n", 200)
		if chunks, err := drain(t, openStream(t, c, context.Background(), chatBody)); err != io.EOF || len(chunks) != 1 {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
	})
	t.Run("NamedEventsIgnored", func(t *testing.T) {
		c := serve("text/event-stream", "event: ping\ndata: {}\n\ndata: "+final+"\n\n", 200)
		if chunks, err := drain(t, openStream(t, c, context.Background(), chatBody)); err != io.EOF || len(chunks) != 1 {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
	})
	t.Run("JSONErrorWith200", func(t *testing.T) {
		c := serve("application/json; charset=UTF-8", `[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`, 200)
		_, err := c.ChatStream(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); !ue.Quota || ue.Code != "RESOURCE_EXHAUSTED" {
			t.Fatalf("err %+v", ue)
		}
	})
	t.Run("JSONAnswerInsteadOfStream", func(t *testing.T) {
		c := serve("application/json", `[`+final+`]`, 200)
		_, err := c.ChatStream(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Code != "invalid_response" {
			t.Fatalf("err %+v", ue)
		}
	})
	t.Run("ArrayWrappedErrorStatus", func(t *testing.T) {
		c := serve("application/json", `[{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}]`, 503)
		_, err := c.ChatStream(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 503 || ue.Code != "UNAVAILABLE" || !ue.Retryable() {
			t.Fatalf("err %+v", ue)
		}
	})
}

func TestChatStreamClose(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.GeminiBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
	s := openStream(t, c, context.Background(), chatBody)
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var recvErr error
	wg.Go(func() { _, recvErr = s.Recv() })
	time.Sleep(30 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if recvErr != errStreamClosed {
		t.Errorf("Recv after Close = %v, want errStreamClosed", recvErr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

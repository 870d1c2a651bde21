package openai

import (
	"context"
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

const streamBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`

// drain reads a stream to its end and returns the chunks and the final error.
func drain(t *testing.T, s providers.ChatStream) ([]providers.Chunk, error) {
	t.Helper()
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

func openStream(t *testing.T, c *Client, ctx context.Context) providers.ChatStream {
	t.Helper()
	s, err := c.ChatStream(ctx, chatReq(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestChatStream(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.Behavior{Text: "one two three", PromptTokens: 11, CompletionTokens: 3, CachedTokens: 4, ReasoningTokens: 1})
	chunks, err := drain(t, openStream(t, c, context.Background()))
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF after [DONE]", err)
	}
	// role, 3 content chunks, finish, usage
	if len(chunks) != 6 {
		t.Fatalf("got %d chunks, want 6", len(chunks))
	}
	var text strings.Builder
	for _, ch := range chunks[:5] {
		text.WriteString(ch.Text)
		if ch.Usage != nil || ch.UsageOnly {
			t.Errorf("chunk %s has usage", ch.Data)
		}
	}
	if text.String() != "one two three" {
		t.Errorf("text = %q", text.String())
	}
	last := chunks[5]
	want := providers.Usage{InputTokens: 11, CachedInputTokens: 4, OutputTokens: 3, ReasoningTokens: 1}
	if !last.UsageOnly || last.Usage == nil || *last.Usage != want || last.Text != "" {
		t.Errorf("usage chunk = %+v (%+v)", last, last.Usage)
	}
	if call := fake.Calls()[0]; call.Header.Get("Accept") != "text/event-stream" || string(call.Body) != streamBody {
		t.Errorf("request: Accept %q, body %s", call.Header.Get("Accept"), call.Body)
	}
}

// TestChatStreamChunks plays chunk sequences that OpenAI-compatible hosts send.
func TestChatStreamChunks(t *testing.T) {
	tests := []struct {
		name      string
		events    []string
		text      []string
		usage     []*providers.Usage
		usageOnly []bool
	}{
		{
			name:   "ReasoningContent",
			events: []string{`{"choices":[{"index":0,"delta":{"reasoning_content":"Let me think.","content":null}}]}`, `{"choices":[{"index":0,"delta":{"content":"42"}}]}`},
			text:   []string{"Let me think.", "42"},
		},
		{
			name:   "ReasoningField",
			events: []string{`{"choices":[{"delta":{"reasoning":"hmm"}}]}`},
			text:   []string{"hmm"},
		},
		{
			name:   "ReasoningContentWinsOverDuplicate",
			events: []string{`{"choices":[{"delta":{"reasoning":"same","reasoning_content":"same"}}]}`},
			text:   []string{"same"},
		},
		{
			name: "ToolCalls",
			events: []string{
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}},{"index":1,"function":{"arguments":"{}"}}]}}]}`,
			},
			text: []string{"", `{"city":`, `"Paris"}{}`},
		},
		{
			name:   "LegacyFunctionCall",
			events: []string{`{"choices":[{"delta":{"function_call":{"name":"f","arguments":"{\"a\":1}"}}}]}`},
			text:   []string{`{"a":1}`},
		},
		{
			name:   "SeveralChoices",
			events: []string{`{"choices":[{"index":0,"delta":{"content":"A"}},{"index":1,"delta":{"content":"B"}}]}`},
			text:   []string{"AB"},
		},
		{
			name:   "EscapesAndUnicode",
			events: []string{`{"choices":[{"delta":{"content":"line\nnext \"q\" \u00e9 \ud83d\ude00 日本"}}]}`},
			text:   []string{"line\nnext \"q\" é 😀 日本"},
		},
		{
			name:      "UsageOnLastContentChunk",
			events:    []string{`{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`},
			text:      []string{"x"},
			usage:     []*providers.Usage{{InputTokens: 3, OutputTokens: 1}},
			usageOnly: []bool{false},
		},
		{
			name:      "UsageWithNullChoices",
			events:    []string{`{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_cache_hit_tokens":2}}`},
			text:      []string{""},
			usage:     []*providers.Usage{{InputTokens: 3, CachedInputTokens: 2, OutputTokens: 1}},
			usageOnly: []bool{true},
		},
		{
			name:      "UsageWithoutChoicesMember",
			events:    []string{`{"id":"x","usage":{"prompt_tokens":5,"completion_tokens":0}}`},
			text:      []string{""},
			usage:     []*providers.Usage{{InputTokens: 5}},
			usageOnly: []bool{true},
		},
		{
			name:   "UsageNullIsNoUsage",
			events: []string{`{"choices":[],"usage":null}`},
			text:   []string{""},
		},
	}
	fake, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetBehavior(providertest.Behavior{RawEvents: tt.events})
			chunks, err := drain(t, openStream(t, c, context.Background()))
			if err != io.EOF {
				t.Fatalf("err = %v", err)
			}
			if len(chunks) != len(tt.events) {
				t.Fatalf("got %d chunks, want %d", len(chunks), len(tt.events))
			}
			for i, ch := range chunks {
				if string(ch.Data) != tt.events[i] {
					t.Errorf("chunk %d data = %s, want the exact upstream bytes", i, ch.Data)
				}
				if ch.Text != tt.text[i] {
					t.Errorf("chunk %d text = %q, want %q", i, ch.Text, tt.text[i])
				}
				var wantUsage *providers.Usage
				if tt.usage != nil {
					wantUsage = tt.usage[i]
				}
				if (ch.Usage == nil) != (wantUsage == nil) || (wantUsage != nil && *ch.Usage != *wantUsage) {
					t.Errorf("chunk %d usage = %+v, want %+v", i, ch.Usage, wantUsage)
				}
				if tt.usageOnly != nil && ch.UsageOnly != tt.usageOnly[i] {
					t.Errorf("chunk %d UsageOnly = %v", i, ch.UsageOnly)
				}
			}
		})
	}
}

func TestChatStreamFailures(t *testing.T) {
	fake, c := newFake(t)

	t.Run("ConnectionCutIsUpstreamError", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b c", Fault: providertest.FaultCut, FaultAfter: 2})
		s := openStream(t, c, context.Background())
		chunks, err := drain(t, s)
		ue := upstreamError(t, err)
		if len(chunks) != 3 || ue.Status != 0 || ue.Code != "stream_truncated" || err == io.EOF {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
		if _, again := s.Recv(); again != err {
			t.Errorf("second Recv = %v, want the same error", again)
		}
	})
	t.Run("EndWithoutDoneIsUpstreamError", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
		}))
		defer srv.Close()
		s := openStream(t, New(Config{BaseURL: srv.URL}), context.Background())
		chunks, err := drain(t, s)
		if ue := upstreamError(t, err); len(chunks) != 1 || ue.Code != "stream_truncated" {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
	})
	t.Run("ErrorEventMidStream", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b c", Fault: providertest.FaultErrorEvent, FaultAfter: 1})
		chunks, err := drain(t, openStream(t, c, context.Background()))
		ue := upstreamError(t, err)
		if len(chunks) != 2 || ue.Code != "server_error" || !strings.Contains(ue.Message, "server had an error") {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
	})
	t.Run("NamedErrorEvent", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": keep-alive\n\nevent: ping\ndata: {}\n\nevent: error\ndata: {\"message\":\"overloaded\"}\n\n")
		}))
		defer srv.Close()
		chunks, err := drain(t, openStream(t, New(Config{BaseURL: srv.URL}), context.Background()))
		if ue := upstreamError(t, err); len(chunks) != 0 || ue.Message != "overloaded" {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
	})
	t.Run("MalformedChunk", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b", Fault: providertest.FaultMalformed, FaultAfter: 1})
		chunks, err := drain(t, openStream(t, c, context.Background()))
		if ue := upstreamError(t, err); len(chunks) != 2 || ue.Code != "invalid_chunk" {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
	})
	t.Run("StallThenCancelIsContextError", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		ctx, cancel := context.WithCancel(context.Background())
		s := openStream(t, c, ctx)
		for range 2 {
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
		}
		time.AfterFunc(50*time.Millisecond, cancel) // while Recv waits on the stalled upstream
		if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("StallThenDeadlineIsTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Fault: providertest.FaultStall})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := drain(t, openStream(t, c, ctx))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Fatalf("err %+v, want a timeout", ue)
		}
	})
	t.Run("StallHitsIdleTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		c := New(Config{BaseURL: fake.URL(), HTTPClient: fake.Client(), StreamIdleTimeout: 100 * time.Millisecond})
		start := time.Now()
		chunks, err := drain(t, openStream(t, c, context.Background()))
		if ue := upstreamError(t, err); !ue.Timeout || len(chunks) != 2 || !strings.Contains(ue.Message, "stalled") {
			t.Fatalf("%d chunks, err %+v", len(chunks), ue)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("idle timeout took %v", d)
		}
	})
	t.Run("SlowButSteadyWithinIdleTimeout", func(t *testing.T) {
		fake.SetBehavior(providertest.Behavior{Text: "a b c d", ChunkDelay: 40 * time.Millisecond})
		c := New(Config{BaseURL: fake.URL(), HTTPClient: fake.Client(), StreamIdleTimeout: 300 * time.Millisecond})
		if _, err := drain(t, openStream(t, c, context.Background())); err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	})
	t.Run("JSONErrorWith200", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"error":{"message":"quota exhausted","code":"insufficient_quota"}}`)
		}))
		defer srv.Close()
		_, err := New(Config{BaseURL: srv.URL}).ChatStream(context.Background(), chatReq(streamBody))
		if ue := upstreamError(t, err); !ue.Quota || ue.Message != "quota exhausted" {
			t.Fatalf("err %+v", ue)
		}
	})
	t.Run("JSONCompletionInsteadOfStream", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, `{"choices":[]}`)
		}))
		defer srv.Close()
		_, err := New(Config{BaseURL: srv.URL}).ChatStream(context.Background(), chatReq(streamBody))
		if ue := upstreamError(t, err); ue.Code != "invalid_response" {
			t.Fatalf("err %+v", ue)
		}
	})
}

func TestChatStreamClose(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.Behavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
	s := openStream(t, c, context.Background())
	for range 2 {
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var recvErr error
	wg.Go(func() { _, recvErr = s.Recv() }) // blocks: the upstream stalls
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

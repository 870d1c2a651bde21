package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

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
	s, err := c.ChatStream(ctx, chatReq(chatBody))
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
	Created int64  `json:"created"`
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
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		TotalTokens         int64 `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

// summary is what an OpenAI client would assemble from the chunks.
type summary struct {
	role, content, reasoning, finish string
	tools                            []string // id:name:arguments per tool call index
	text                             string   // the Chunk.Text fields joined
	usage                            *providers.Usage
	usageChunks                      int
}

func summarize(t *testing.T, chunks []providers.Chunk) summary {
	t.Helper()
	var s summary
	for i, ch := range chunks {
		c := decode[chunkJSON](t, ch.Data)
		if c.Object != "chat.completion.chunk" || c.ID == "" || c.Created == 0 || c.Model == "" {
			t.Errorf("chunk %d lacks its head: %s", i, ch.Data)
		}
		s.text += ch.Text
		if ch.Usage != nil {
			s.usage = ch.Usage
			s.usageChunks++
			if !ch.UsageOnly || len(c.Choices) != 0 || c.Usage == nil || c.Usage.PromptTokens != ch.Usage.InputTokens ||
				c.Usage.PromptTokensDetails.CachedTokens != ch.Usage.CachedInputTokens || c.Usage.CompletionTokens != ch.Usage.OutputTokens {
				t.Errorf("usage chunk %s does not match %+v", ch.Data, ch.Usage)
			}
			continue
		}
		if ch.UsageOnly || len(c.Choices) != 1 {
			t.Errorf("chunk %d: %s", i, ch.Data)
			continue
		}
		ch0 := c.Choices[0]
		s.role += ch0.Delta.Role
		if ch0.Delta.Content != nil {
			s.content += *ch0.Delta.Content
		}
		s.reasoning += ch0.Delta.ReasoningContent
		for _, tc := range ch0.Delta.ToolCalls {
			for len(s.tools) <= tc.Index {
				s.tools = append(s.tools, "")
			}
			if tc.ID != "" {
				s.tools[tc.Index] += tc.ID + ":" + tc.Function.Name + ":"
			}
			s.tools[tc.Index] += tc.Function.Arguments
		}
		if ch0.FinishReason != nil {
			if s.finish != "" {
				t.Errorf("second finish_reason in %s", ch.Data)
			}
			s.finish = *ch0.FinishReason
		}
	}
	return s
}

func TestChatStream(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "one two three", InputTokens: 11, CacheReadTokens: 40, CacheCreationTokens: 9, OutputTokens: 3})
	s := openStream(t, c, context.Background())
	chunks, err := drain(t, s)
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF after message_stop", err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("Recv after the end = %v, want io.EOF again", err)
	}
	// role, 3 content chunks, finish, usage
	if len(chunks) != 6 {
		t.Fatalf("got %d chunks, want 6", len(chunks))
	}
	sum := summarize(t, chunks)
	if sum.role != "assistant" || sum.content != "one two three" || sum.text != "one two three" || sum.finish != "stop" {
		t.Errorf("summary = %+v", sum)
	}
	want := providers.Usage{InputTokens: 60, CachedInputTokens: 40, CacheWriteTokens: 9, OutputTokens: 3}
	if sum.usageChunks != 1 || *sum.usage != want || chunks[5].Usage == nil {
		t.Errorf("usage = %+v in %d chunks, want %+v on the last", sum.usage, sum.usageChunks, want)
	}
	if pu := s.(PartialUsager).PartialUsage(); pu == nil || *pu != want {
		t.Errorf("PartialUsage = %+v", pu)
	}
	call := fake.Calls()[0]
	if call.Header.Get("Accept") != "text/event-stream" || !call.Stream || !bytes.Contains(call.Body, []byte(`"stream":true`)) {
		t.Errorf("request: Accept %q, body %s", call.Header.Get("Accept"), call.Body)
	}
}

func TestChatStreamBlocks(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.AnthropicBehavior{Thinking: "Need the weather.", Text: "Checking.",
		ToolUse: &providertest.AnthropicToolUse{ID: "toolu_7", Name: "get_weather", Input: `{"city":"Paris"}`, Pieces: 3}})
	chunks, err := drain(t, openStream(t, c, context.Background()))
	if err != io.EOF {
		t.Fatal(err)
	}
	sum := summarize(t, chunks)
	if sum.reasoning != "Need the weather." || sum.content != "Checking." || sum.finish != "tool_calls" {
		t.Errorf("summary = %+v", sum)
	}
	if len(sum.tools) != 1 || sum.tools[0] != `toolu_7:get_weather:{"city":"Paris"}` {
		t.Errorf("tools = %q", sum.tools)
	}
	if sum.text != `Need the weather.Checking.{"city":"Paris"}` {
		t.Errorf("Chunk.Text = %q", sum.text)
	}
	// The first tool chunk names the call, as OpenAI's does, with type and empty arguments.
	for _, ch := range chunks {
		if bytes.Contains(ch.Data, []byte(`"id":"toolu_7"`)) {
			if !bytes.Contains(ch.Data, []byte(`{"tool_calls":[{"index":0,"id":"toolu_7","type":"function","function":{"name":"get_weather","arguments":""}}]}`)) {
				t.Errorf("tool head chunk = %s", ch.Data)
			}
			break
		}
	}
}

// captureEvents reads a capture of an Anthropic stream into events the fake replays.
func captureEvents(t *testing.T, name string) []providertest.AnthropicEvent {
	t.Helper()
	b, err := os.ReadFile("../providertest/testdata/anthropic/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []providertest.AnthropicEvent
	r := sse.NewReader(bytes.NewReader(b))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, providertest.AnthropicEvent{Name: ev.Name, Data: string(ev.Data)})
	}
}

func TestChatStreamCapture(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.AnthropicBehavior{RawEvents: captureEvents(t, "message_stream_tool_use.txt")})
	chunks, err := drain(t, openStream(t, c, context.Background()))
	if err != io.EOF {
		t.Fatal(err)
	}
	sum := summarize(t, chunks)
	if sum.content != "I'll look up the weather in Paris." || sum.finish != "tool_calls" ||
		len(sum.tools) != 1 || sum.tools[0] != `toolu_01Vb7cRt2MzP9xQ4LwEk3nYs:get_weather:{"city": "Paris", "unit": "celsius"}` {
		t.Errorf("summary = %+v", sum)
	}
	want := providers.Usage{InputTokens: 412 + 1536, CachedInputTokens: 1536, OutputTokens: 71}
	if sum.usage == nil || *sum.usage != want {
		t.Errorf("usage = %+v, want %+v", sum.usage, want)
	}
	if m := decode[chunkJSON](t, chunks[0].Data); m.ID != "msg_01Kd3Ws8nVq6TyBf2GhL5pXa" || m.Model != "claude-sonnet-4-5-20250929" {
		t.Errorf("head = %s", chunks[0].Data)
	}
}

// TestChatStreamFirstChunkEarly checks that the translation never waits for more of
// the answer: the first content chunk reaches the caller while the upstream still
// holds back the rest.
func TestChatStreamFirstChunkEarly(t *testing.T) {
	var sentAt atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		sw := sse.NewWriter(w)
		sw.WriteEvent("message_start", []byte(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}`))
		sw.WriteEvent("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`))
		sentAt.Store(time.Now().UnixNano())
		sw.WriteEvent("content_block_delta", []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"first"}}`))
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		sw.WriteEvent("content_block_delta", []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" rest"}}`))
		sw.WriteEvent("content_block_stop", []byte(`{"type":"content_block_stop","index":0}`))
		sw.WriteEvent("message_delta", []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`))
		sw.WriteEvent("message_stop", []byte(`{"type":"message_stop"}`))
	}))
	defer srv.Close()
	c := New(Config{BaseURL: srv.URL, APIKey: testKey})
	s := openStream(t, c, context.Background())
	if ch, err := s.Recv(); err != nil || ch.Text != "" {
		t.Fatalf("role chunk: %v %q", err, ch.Text)
	}
	ch, err := s.Recv()
	got := time.Now()
	if err != nil || ch.Text != "first" {
		t.Fatalf("first content: %v %q", err, ch.Text)
	}
	lag := got.Sub(time.Unix(0, sentAt.Load()))
	t.Logf("first content chunk returned %v after the upstream sent it", lag)
	// That Recv returned at all proves nothing is buffered (the rest is held back
	// until release); the bound only catches a translation that polls or sleeps.
	if lag > 500*time.Millisecond {
		t.Errorf("first content chunk took %v after it was sent", lag)
	}
	close(release)
	chunks, err := drain(t, s)
	if err != io.EOF || summarize(t, chunks).content != " rest" {
		t.Errorf("rest: %v %+v", err, summarize(t, chunks))
	}
}

// TestChatStreamBroken plays upstreams that break the protocol: each must end in a
// clear error (or be read past, when the protocol allows it), never in a silent EOF.
func TestChatStreamBroken(t *testing.T) {
	ev := func(name, data string) providertest.AnthropicEvent {
		return providertest.AnthropicEvent{Name: name, Data: data}
	}
	start := ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}`)
	text := func(i int, s string) providertest.AnthropicEvent {
		return ev("content_block_delta", `{"type":"content_block_delta","index":`+string(rune('0'+i))+`,"delta":{"type":"text_delta","text":"`+s+`"}}`)
	}
	delta := ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}`)
	stop := ev("message_stop", `{"type":"message_stop"}`)
	tests := []struct {
		name     string
		behavior providertest.AnthropicBehavior
		content  string // content the client saw
		code     string // "" means io.EOF
		check    func(*testing.T, *providers.UpstreamError)
	}{
		{name: "MalformedJSON", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{start, text(0, "a"), ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cu`)}},
			content: "a", code: "invalid_chunk"},
		{name: "DataNotAnObject", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{start, ev("content_block_delta", `[1,2]`)}},
			code: "invalid_chunk"},
		{name: "FakeMalformedFault", behavior: providertest.AnthropicBehavior{Text: "a b c", Fault: providertest.FaultMalformed, FaultAfter: 1},
			content: "a", code: "invalid_chunk"},
		{name: "UnknownEventsSkipped", behavior: providertest.AnthropicBehavior{Text: "a b", UnknownEvents: true},
			content: "a b"},
		{name: "OutOfOrderSkipped", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{
			text(0, "before-start"), delta, // nothing can be placed before message_start
			start,
			ev("message_start", `{"type":"message_start","message":{"id":"msg_2","model":"other","usage":{"input_tokens":999}}}`), // a second start is ignored
			text(3, "x"), // no content_block_start: the text still counts
			ev("content_block_delta", `{"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"{}"}}`), // no tool block to attach to
			ev("content_block_stop", `{"type":"content_block_stop","index":4000000}`),
			ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"char_location"}}}`),
			ev("", `{"type":"ping"}`),
			delta, stop}},
			content: "x", check: nil},
		{name: "ErrorEventMidStream", behavior: providertest.AnthropicBehavior{Text: "a b c", Fault: providertest.FaultErrorEvent, FaultAfter: 2},
			content: "a b", code: "overloaded_error",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Status != 529 || !ue.Retryable() || ue.Message != "Overloaded" {
					t.Errorf("%+v", ue)
				}
			}},
		{name: "ErrorEventOfUnknownType", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{start, ev("error", `{"type":"error","error":{"type":"brand_new_error","message":"?"}}`)}},
			code: "brand_new_error",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Status != 0 || !ue.Retryable() {
					t.Errorf("%+v", ue)
				}
			}},
		{name: "NoMessageStop", behavior: providertest.AnthropicBehavior{Text: "a b", NoMessageStop: true},
			content: "a b", code: "stream_truncated"},
		{name: "Cut", behavior: providertest.AnthropicBehavior{Text: "a b c", Fault: providertest.FaultCut, FaultAfter: 1},
			content: "a", code: "stream_truncated"},
		{name: "OnlyPings", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{ev("ping", `{"type": "ping"}`)}},
			code: "stream_truncated"},
		{name: "EventTooLarge", behavior: providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{start, text(0, strings.Repeat("x", sse.DefaultMaxEventSize))}},
			code: "invalid_response"},
	}
	fake, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetBehavior(tt.behavior)
			chunks, err := drain(t, openStream(t, c, context.Background()))
			if got := summarize(t, chunks).content; got != tt.content {
				t.Errorf("content = %q, want %q", got, tt.content)
			}
			if tt.code == "" {
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				return
			}
			ue := upstreamError(t, err)
			if ue.Code != tt.code {
				t.Errorf("code = %q, want %q: %v", ue.Code, tt.code, ue)
			}
			if tt.check != nil {
				tt.check(t, ue)
			}
		})
	}
	t.Run("OutOfOrderUsage", func(t *testing.T) {
		fake.SetBehavior(tests[4].behavior)
		chunks, _ := drain(t, openStream(t, c, context.Background()))
		want := providers.Usage{InputTokens: 15, CachedInputTokens: 5, OutputTokens: 4}
		if u := chunks[len(chunks)-1].Usage; u == nil || *u != want {
			t.Errorf("usage = %+v, want %+v", u, want)
		}
	})
	t.Run("ErrorEventFirst", func(t *testing.T) {
		fake.SetBehavior(providertest.AnthropicBehavior{RawEvents: []providertest.AnthropicEvent{ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)}})
		s := openStream(t, c, context.Background())
		_, err := s.Recv()
		if ue := upstreamError(t, err); ue.Status != 529 || !ue.Retryable() {
			t.Errorf("%+v", ue)
		}
		if pu := s.(PartialUsager).PartialUsage(); pu != nil {
			t.Errorf("PartialUsage before message_start = %+v", pu)
		}
	})
	t.Run("PartialUsageAfterBreak", func(t *testing.T) {
		fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b c", InputTokens: 10, CacheReadTokens: 90, Fault: providertest.FaultCut, FaultAfter: 2})
		s := openStream(t, c, context.Background())
		chunks, err := drain(t, s)
		upstreamError(t, err)
		for _, ch := range chunks {
			if ch.Usage != nil {
				t.Errorf("a broken stream reported usage %+v in a chunk", ch.Usage)
			}
		}
		want := providers.Usage{InputTokens: 100, CachedInputTokens: 90, OutputTokens: 1}
		if pu := s.(PartialUsager).PartialUsage(); pu == nil || *pu != want {
			t.Errorf("PartialUsage = %+v, want %+v", pu, want)
		}
	})
	t.Run("JSONInsteadOfStream", func(t *testing.T) {
		for body, code := range map[string]string{
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`: "overloaded_error",
			`{"id":"msg_1","type":"message"}`:                                             "invalid_response",
		} {
			fake.SetBehavior(providertest.AnthropicBehavior{RawBody: body})
			_, err := c.ChatStream(context.Background(), &providers.ChatRequest{Body: []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)})
			if ue := upstreamError(t, err); ue.Code != code {
				t.Errorf("%s: %+v", body, ue)
			}
		}
	})
}

func TestChatStreamIdleAndClose(t *testing.T) {
	t.Run("IdleTimeout", func(t *testing.T) {
		fake, _ := newFake(t)
		c := New(Config{BaseURL: fake.URL(), APIKey: testKey, HTTPClient: fake.Client(), StreamIdleTimeout: 50 * time.Millisecond})
		fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		chunks, err := drain(t, openStream(t, c, context.Background()))
		if ue := upstreamError(t, err); !ue.Timeout || summarize(t, chunks).content != "a" {
			t.Errorf("%+v", ue)
		}
	})
	t.Run("CloseUnblocksRecv", func(t *testing.T) {
		fake, c := newFake(t)
		fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		s := openStream(t, c, context.Background())
		time.AfterFunc(30*time.Millisecond, func() { s.Close() })
		_, err := drain(t, s)
		if !errors.Is(err, errStreamClosed) {
			t.Errorf("err = %v", err)
		}
		if s.Close() != nil {
			t.Error("second Close failed")
		}
	})
	t.Run("ClientGone", func(t *testing.T) {
		fake, c := newFake(t)
		fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		ctx, cancel := context.WithCancel(context.Background())
		s := openStream(t, c, ctx)
		time.AfterFunc(30*time.Millisecond, cancel)
		if _, err := drain(t, s); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		fake, c := newFake(t)
		fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultStall, FaultAfter: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := drain(t, openStream(t, c, ctx))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Errorf("%+v", ue)
		}
	})
}

// TestChatStreamChunksAreJSON checks every chunk of a varied stream is valid JSON
// and that text with escapes survives the raw copy.
func TestChatStreamChunksAreJSON(t *testing.T) {
	fake, c := newFake(t)
	text := "quote \" backslash \\ newline \n tab \t unicode é 😀 <html> \u2028"
	fake.SetBehavior(providertest.AnthropicBehavior{Text: text, Chunks: 7, Thinking: "a\"b",
		ToolUse: &providertest.AnthropicToolUse{Name: "f", Input: `{"s":"a\"b\\c\n"}`, Pieces: 5}})
	chunks, err := drain(t, openStream(t, c, context.Background()))
	if err != io.EOF {
		t.Fatal(err)
	}
	for _, ch := range chunks {
		if !json.Valid(ch.Data) {
			t.Errorf("invalid JSON chunk: %s", ch.Data)
		}
	}
	sum := summarize(t, chunks)
	if sum.content != text || sum.reasoning != "a\"b" || sum.tools[0] != `toolu_fake01:f:{"s":"a\"b\\c\n"}` {
		t.Errorf("summary = %+v", sum)
	}
	if sum.text != "a\"b"+text+`{"s":"a\"b\\c\n"}` {
		t.Errorf("Chunk.Text = %q", sum.text)
	}
}

// TestEmptyToolInput checks a tool call without input still gets "{}" as arguments.
func TestEmptyToolInput(t *testing.T) {
	fake, c := newFake(t)
	events := []providertest.AnthropicEvent{
		{Name: "message_start", Data: `{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}`},
		{Name: "content_block_start", Data: `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}`},
		{Name: "content_block_delta", Data: `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}`},
		{Name: "content_block_stop", Data: `{"type":"content_block_stop","index":0}`},
		{Name: "message_delta", Data: `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}}`},
		{Name: "message_stop", Data: `{"type":"message_stop"}`},
	}
	fake.SetBehavior(providertest.AnthropicBehavior{RawEvents: events})
	chunks, err := drain(t, openStream(t, c, context.Background()))
	if err != io.EOF {
		t.Fatal(err)
	}
	if sum := summarize(t, chunks); len(sum.tools) != 1 || sum.tools[0] != "toolu_1:now:{}" || sum.finish != "tool_calls" {
		t.Errorf("summary = %+v", sum)
	}
}

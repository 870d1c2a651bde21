package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// encodeAll feeds chunks to a new encoder, then Finish(u), and returns copies of
// every event.
func encodeAll(t *testing.T, chunks []string, u *providers.Usage) []Event {
	t.Helper()
	e := NewEventEncoder("claude-alias", 42)
	var out []Event
	keep := func(evs []Event) {
		for _, ev := range evs {
			if !json.Valid(ev.Data) {
				t.Errorf("%s event is not JSON: %s", ev.Name, ev.Data)
			}
			out = append(out, Event{Name: ev.Name, Data: bytes.Clone(ev.Data)})
		}
	}
	for _, c := range chunks {
		evs, err := e.Encode([]byte(c))
		if err != nil {
			t.Fatalf("Encode(%s): %v", c, err)
		}
		keep(evs)
	}
	keep(e.Finish(u))
	if evs := e.Finish(u); len(evs) != 0 {
		t.Errorf("a second Finish sent %d events", len(evs))
	}
	return out
}

func names(events []Event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.Name)
	}
	return out
}

// message assembles the Anthropic message a client would build from events.
type assembled struct {
	id, model, stop   string
	blocks            []string // type:text or type:id:name:input
	input, output     int64
	cacheRead         int64
	startInput        int64
	sawStart, sawStop bool
}

func assemble(t *testing.T, events []Event) assembled {
	t.Helper()
	var a assembled
	for _, ev := range events {
		var e struct {
			Type    string `json:"type"`
			Index   int    `json:"index"`
			Message struct {
				ID    string `json:"id"`
				Model string `json:"model"`
				Usage struct {
					InputTokens int64 `json:"input_tokens"`
				} `json:"usage"`
			} `json:"message"`
			ContentBlock struct {
				Type string `json:"type"`
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"content_block"`
			Delta struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage struct {
				InputTokens          int64 `json:"input_tokens"`
				CacheReadInputTokens int64 `json:"cache_read_input_tokens"`
				OutputTokens         int64 `json:"output_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil || e.Type != ev.Name {
			t.Fatalf("event %s: %v %s", ev.Name, err, ev.Data)
		}
		switch e.Type {
		case "message_start":
			a.sawStart, a.id, a.model, a.startInput = true, e.Message.ID, e.Message.Model, e.Message.Usage.InputTokens
		case "content_block_start":
			if e.Index != len(a.blocks) {
				t.Errorf("block %d started as index %d", len(a.blocks), e.Index)
			}
			b := e.ContentBlock.Type + ":"
			if e.ContentBlock.Type == "tool_use" {
				b += e.ContentBlock.ID + ":" + e.ContentBlock.Name + ":"
			}
			a.blocks = append(a.blocks, b)
		case "content_block_delta":
			if e.Index >= len(a.blocks) {
				t.Fatalf("delta for unstarted block %d", e.Index)
			}
			a.blocks[e.Index] += e.Delta.Text + e.Delta.PartialJSON
		case "message_delta":
			a.stop, a.input, a.output, a.cacheRead = e.Delta.StopReason, e.Usage.InputTokens, e.Usage.OutputTokens, e.Usage.CacheReadInputTokens
		case "message_stop":
			a.sawStop = true
		}
	}
	return a
}

func TestEventEncoder(t *testing.T) {
	const head = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[`
	role := head + `{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`
	content := func(s string) string {
		return head + `{"index":0,"delta":{"content":` + string(jsonString(s)) + `},"finish_reason":null}]}`
	}
	finish := func(r string) string { return head + `{"index":0,"delta":{},"finish_reason":"` + r + `"}]}` }
	usage := `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":30}}}`
	tool := func(i int, id, name, args string) string {
		head := `{"index":` + string(rune('0'+i))
		if id != "" {
			head += `,"id":"` + id + `","type":"function","function":{"name":"` + name + `","arguments":` + string(jsonString(args)) + `}}`
		} else {
			head += `,"function":{"arguments":` + string(jsonString(args)) + `}}`
		}
		return `{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[` + head + `]},"finish_reason":null}]}`
	}
	tests := []struct {
		name   string
		chunks []string
		finish *providers.Usage
		names  []string
		want   assembled
	}{
		{name: "TextWithUsageChunk", chunks: []string{role, content("Hel"), content("lo."), finish("stop"), usage, "[DONE]"},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "end_turn", blocks: []string{"text:Hello."}, input: 20, cacheRead: 30, output: 7, startInput: 42}},
		{name: "NoUsageChunkFinishGetsTheEstimate", chunks: []string{role, content("Hi"), finish("length")}, finish: &providers.Usage{InputTokens: 40, OutputTokens: 3},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "max_tokens", blocks: []string{"text:Hi"}, input: 40, output: 3, startInput: 42}},
		{name: "UsageInTheFinishChunk", chunks: []string{content("x"), head + `{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1}}`},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "end_turn", blocks: []string{"text:x"}, input: 9, output: 1, startInput: 42}},
		{name: "UsageBeforeFinish", chunks: []string{content("x"), usage, finish("stop")},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "end_turn", blocks: []string{"text:x"}, input: 20, cacheRead: 30, output: 7, startInput: 42}},
		{name: "TextThenTools", chunks: []string{role, content("Checking."), tool(0, "call_1", "get_weather", ""), tool(0, "", "", `{"city":`), tool(0, "", "", `"Paris"}`),
			tool(1, "call_2", "now", "{}"), finish("tool_calls"), usage},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want: assembled{id: "msg_1", model: "claude-alias", stop: "tool_use", startInput: 42, input: 20, cacheRead: 30, output: 7,
				blocks: []string{"text:Checking.", `tool_use:call_1:get_weather:{"city":"Paris"}`, "tool_use:call_2:now:{}"}}},
		{name: "InterleavedParallelTools", chunks: []string{tool(0, "a", "f", ""), tool(1, "b", "g", ""), tool(0, "", "", `{"x":1}`), tool(1, "", "", `{}`), finish("tool_calls")},
			names: []string{"message_start", "content_block_start", "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want: assembled{id: "msg_1", model: "claude-alias", stop: "tool_use", startInput: 42, input: 42,
				blocks: []string{`tool_use:a:f:{"x":1}`, "tool_use:b:g:{}"}}},
		{name: "ToolCallWithoutID", chunks: []string{`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}`},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_x", model: "claude-alias", stop: "end_turn", startInput: 42, input: 42, blocks: []string{"tool_use:toolu_0:f:{}"}}},
		{name: "RefusalIsText", chunks: []string{head + `{"index":0,"delta":{"refusal":"No."},"finish_reason":null}]}`, finish("content_filter")},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "refusal", startInput: 42, input: 42, blocks: []string{"text:No."}}},
		{name: "ReasoningAndOtherChoicesLeftOut", chunks: []string{head + `{"index":0,"delta":{"reasoning_content":"hmm"}},{"index":1,"delta":{"content":"other"}}]}`, content("A")},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "end_turn", startInput: 42, input: 42, blocks: []string{"text:A"}}},
		{name: "EmptyStream", chunks: nil,
			names: []string{"message_start", "message_delta", "message_stop"},
			want:  assembled{id: "msg_tollgate", model: "claude-alias", stop: "end_turn", startInput: 42, input: 42}},
		{name: "ChunksAfterTheEndIgnored", chunks: []string{content("x"), finish("stop"), usage, content("late")},
			names: []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			want:  assembled{id: "msg_1", model: "claude-alias", stop: "end_turn", blocks: []string{"text:x"}, input: 20, cacheRead: 30, output: 7, startInput: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := encodeAll(t, tt.chunks, tt.finish)
			if got := names(events); !slices.Equal(got, tt.names) {
				t.Errorf("events = %v\nwant     %v", got, tt.names)
			}
			tt.want.sawStart, tt.want.sawStop = true, true
			if got := assemble(t, events); !assembledEqual(got, tt.want) {
				t.Errorf("assembled %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

func assembledEqual(a, b assembled) bool {
	return a.id == b.id && a.model == b.model && a.stop == b.stop && slices.Equal(a.blocks, b.blocks) &&
		a.input == b.input && a.output == b.output && a.cacheRead == b.cacheRead && a.startInput == b.startInput &&
		a.sawStart == b.sawStart && a.sawStop == b.sawStop
}

func TestEventEncoderErrors(t *testing.T) {
	for _, bad := range []string{`{"choices":[`, `"text"`, `{"error":{"message":"upstream failed","type":"server_error"}}`} {
		e := NewEventEncoder("m", 1)
		if _, err := e.Encode([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestEventEncoderDataReused documents that event data is only valid until the next
// call: the relay writes each batch before asking for the next.
func TestEventEncoderDataReused(t *testing.T) {
	e := NewEventEncoder("m", 1)
	first, _ := e.Encode([]byte(`{"id":"1","choices":[{"index":0,"delta":{"content":"aaaa"}}]}`))
	saved := string(first[len(first)-1].Data)
	e.Encode([]byte(`{"id":"1","choices":[{"index":0,"delta":{"content":"bbbb"}}]}`))
	if !strings.Contains(saved, "aaaa") {
		t.Errorf("saved copy changed: %s", saved)
	}
}

// TestRoundTrip streams Anthropic's capture through the OpenAI-out adapter and back
// through the encoder: an Anthropic client of a translated channel sees the same
// message, and the same event sequence but for pings.
func TestRoundTrip(t *testing.T) {
	fake, c := newFake(t)
	capture := captureEvents(t, "message_stream_tool_use.txt")
	fake.SetBehavior(providertest.AnthropicBehavior{RawEvents: capture})
	s := openStream(t, c, context.Background())
	e := NewEventEncoder("claude-sonnet-4-5-20250929", 1948)
	var out []Event
	var usage *providers.Usage
	for {
		ch, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		evs, err := e.Encode(ch.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, Event{Name: ev.Name, Data: bytes.Clone(ev.Data)})
		}
	}
	out = append(out, e.Finish(usage)...)
	var want []Event
	for _, ev := range capture {
		// Pings carry nothing, and neither does the empty first input_json_delta: the
		// adapter sends no chunk for either.
		if ev.Name != "ping" && !strings.Contains(ev.Data, `"partial_json":""`) {
			want = append(want, Event{Name: ev.Name, Data: []byte(ev.Data)})
		}
	}
	if got, wantNames := names(out), names(want); !slices.Equal(got, wantNames) {
		t.Errorf("events = %v\ncapture  %v", got, wantNames)
	}
	got, orig := assemble(t, out), assemble(t, want)
	// Before the first token the encoder knows only the gateway's count of the
	// prompt, cache included; message_delta then splits it as Anthropic does.
	orig.startInput = 1948
	if !assembledEqual(got, orig) {
		t.Errorf("round trip gave %+v\ncapture is      %+v", got, orig)
	}
}

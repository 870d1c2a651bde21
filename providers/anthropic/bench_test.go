package anthropic

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// repeatReader yields head once, then body over and over: an endless stream.
type repeatReader struct {
	head, body []byte
	off        int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.head) > 0 {
			c := copy(p[n:], r.head)
			r.head = r.head[c:]
			n += c
			continue
		}
		c := copy(p[n:], r.body[r.off:])
		r.off = (r.off + c) % len(r.body)
		n += c
	}
	return n, nil
}

const benchStart = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Kd3Ws8nVq6TyBf2GhL5pXa\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":412,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1536,\"output_tokens\":2}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}\n\n"

var benchEvents = map[string]string{
	"TextDelta":   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\" the weather\"}}\n\n",
	"ToolArgs":    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Par\"}}\n\n",
	"EscapedText": "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"line\\nbreak \\\"quoted\\\"\"}}\n\n",
}

func benchSource(body string) *eventSource {
	resp := &http.Response{Body: io.NopCloser(&repeatReader{head: []byte(benchStart), body: []byte(body)})}
	return New(Config{}).newEventSource(context.Background(), resp)
}

// BenchmarkChatStreamRecv measures translating one streamed Anthropic event into
// one OpenAI chunk (SSE parsing included), the per-token cost of an OpenAI-format
// call served by an Anthropic channel.
func BenchmarkChatStreamRecv(b *testing.B) {
	for name, body := range benchEvents {
		b.Run(name, func(b *testing.B) {
			s := &chatStream{eventSource: benchSource(body), model: "m"}
			for range 2 { // role chunk, tool head chunk
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				ch, err := s.Recv()
				if err != nil || len(ch.Data) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNativeStreamRecv measures relaying one event of an Anthropic-format call
// served by an Anthropic channel (copy plus the read-out of text and usage).
func BenchmarkNativeStreamRecv(b *testing.B) {
	s := &nativeStream{eventSource: benchSource(benchEvents["TextDelta"])}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventEncoderEncode measures translating one OpenAI content chunk into
// Anthropic events, the per-token cost of an Anthropic-format call served by an
// OpenAI-compatible channel.
func BenchmarkEventEncoderEncode(b *testing.B) {
	chunks := map[string]string{
		"Content":  `{"id":"chatcmpl-BkQ9aLr0Tn4WbHc7XkE2uJ5sVy8Qo","object":"chat.completion.chunk","created":1750241390,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_34a54ae93c","choices":[{"index":0,"delta":{"content":" the weather"},"logprobs":null,"finish_reason":null}],"usage":null}`,
		"ToolArgs": `{"id":"chatcmpl-BkQ9aLr0Tn4WbHc7XkE2uJ5sVy8Qo","object":"chat.completion.chunk","created":1750241390,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
	}
	for name, chunk := range chunks {
		b.Run(name, func(b *testing.B) {
			e := NewEventEncoder("claude-sonnet-4-5", 100)
			e.Encode([]byte(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":""}}]}}]}`))
			if name == "Content" {
				e.Encode([]byte(`{"id":"x","choices":[{"index":0,"delta":{"content":"a"}}]}`))
			}
			data := []byte(chunk)
			b.ReportAllocs()
			for b.Loop() {
				evs, err := e.Encode(data)
				if err != nil || len(evs) != 1 {
					b.Fatal(err, len(evs))
				}
			}
		})
	}
}

// BenchmarkTranslateRequest measures the once-per-call translation of a typical
// OpenAI chat body with a system prompt, history and a tool.
func BenchmarkTranslateRequest(b *testing.B) {
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"temperature":0.7,"stream":true,"stream_options":{"include_usage":true},` +
		`"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],` +
		`"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"18C, sunny"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := translateRequest(body, "claude-sonnet-4-5", true); err != nil {
			b.Fatal(err)
		}
	}
}

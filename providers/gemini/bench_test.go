package gemini

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

// repeatReader yields data over and over, so a stream never ends and every Recv of
// a benchmark translates one event.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// BenchmarkStreamRecv measures translating one streamed Gemini event into an OpenAI
// chunk (SSE parsing, JSON decoding, chunk building), without a network.
func BenchmarkStreamRecv(b *testing.B) {
	cases := map[string]string{
		"Text": `{"candidates": [{"content": {"parts": [{"text": " and largest city of France, on the Seine; it is known for the Eiffel Tower."}],"role": "model"},"index": 0}],` +
			`"usageMetadata": {"promptTokenCount": 12,"candidatesTokenCount": 14,"totalTokenCount": 71,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 12}],"thoughtsTokenCount": 45},` +
			`"modelVersion": "gemini-2.5-flash","responseId": "y8TtaNfkBeLrvdIPoo7SyA4"}`,
		"Thought": `{"candidates": [{"content": {"parts": [{"text": "**Planning the answer**\n\nThe user asks for the capital; I will answer briefly.","thought": true}],"role": "model"},"index": 0}],` +
			`"usageMetadata": {"promptTokenCount": 12,"totalTokenCount": 57,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 12}],"thoughtsTokenCount": 45},` +
			`"modelVersion": "gemini-2.5-flash","responseId": "y8TtaNfkBeLrvdIPoo7SyA4"}`,
		"ToolCall": `{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris","unit": "celsius"}},"thoughtSignature": "CiQBVKhc7mRkZmFrZS1zaWduYXR1cmU="}],"role": "model"},"index": 0}],` +
			`"usageMetadata": {"promptTokenCount": 83,"candidatesTokenCount": 18,"totalTokenCount": 187,"thoughtsTokenCount": 86},` +
			`"modelVersion": "gemini-2.5-flash","responseId": "b7ftaIXWKPHXvdIPl6eQ2A0"}`,
	}
	for name, event := range cases {
		b.Run(name, func(b *testing.B) {
			r := &repeatReader{data: []byte("data: " + event + "\r\n\r\n")}
			s := &stream{c: New(Config{}), ctx: context.Background(), body: io.NopCloser(r), events: sse.NewReader(r), model: "gemini-2.5-flash"}
			b.SetBytes(int64(len(event)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTranslateChat measures translating a typical request with a system
// prompt, a short history and one tool.
func BenchmarkTranslateChat(b *testing.B) {
	body := []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"What's the weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_0","content":"{\"temp\":21}"},{"role":"user","content":"And tomorrow?"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather.","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"],"additionalProperties":false}}}],` +
		`"max_tokens":512,"temperature":0.7,"stream":true,"stream_options":{"include_usage":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := translateChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompletion measures rendering a complete answer as a chat.completion.
func BenchmarkCompletion(b *testing.B) {
	data := []byte(`{"candidates":[{"content":{"parts":[{"text":"The capital of France is Paris, which is also its largest city."}],"role":"model"},"finishReason":"STOP","index":0}],` +
		`"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":13,"totalTokenCount":22},"modelVersion":"gemini-2.5-flash","responseId":"abc"}`)
	b.ReportAllocs()
	for b.Loop() {
		var r genResponse
		if err := json.Unmarshal(data, &r); err != nil {
			b.Fatal(err)
		}
		completion(&r, "gemini-2.5-flash")
	}
}

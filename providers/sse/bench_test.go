package sse

import (
	"strings"
	"testing"
)

// repeater yields data over and over, like an upstream that never stops.
type repeater struct {
	data []byte
	off  int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// sampleChunk is a typical OpenAI stream chunk, the reader's most common input.
const sampleChunk = `{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}`

func BenchmarkReader(b *testing.B) {
	cases := map[string]string{
		"OpenAIChunk": "data: " + sampleChunk + "\n\n",
		"NamedEvent":  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
		"CRLF":        "data: " + sampleChunk + "\r\n\r\n",
	}
	for name, event := range cases {
		b.Run(name, func(b *testing.B) {
			r := NewReader(&repeater{data: []byte(strings.Repeat(event, 64))})
			b.SetBytes(int64(len(event)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

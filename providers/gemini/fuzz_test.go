package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// FuzzStream feeds arbitrary bytes to the stream translation as if an upstream had
// sent them: it never panics, every chunk it hands out is one JSON object, and it
// always ends with io.EOF or an *providers.UpstreamError — never silently.
func FuzzStream(f *testing.F) {
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1}}\r\n\r\n"))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]}}]}\n\ndata: {\"error\":{\"code\":500}}\n\n"))
	f.Add([]byte("data: {not json\n\n"))
	f.Add([]byte("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &stream{c: New(Config{APIKey: "k"}), ctx: context.Background(), body: io.NopCloser(bytes.NewReader(body)),
			events: sse.NewReader(bytes.NewReader(body)), model: "gemini-x"}
		for i := 0; i < 10_000; i++ {
			ch, err := s.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				var ue *providers.UpstreamError
				if !errors.As(err, &ue) {
					t.Fatalf("error %T %v is not an upstream error", err, err)
				}
				return
			}
			if !json.Valid(ch.Data) {
				t.Fatalf("chunk is not JSON: %s", ch.Data)
			}
		}
		t.Fatal("the stream never ended")
	})
}

package providertest

import (
	"net/http"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that drops everything, so the benchmark measures
// the fake and not a network.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// BenchmarkOpenAIHandler measures one call served by the fake, as the load
// benchmark uses it (recording off).
func BenchmarkOpenAIHandler(b *testing.B) {
	cases := map[string]string{
		"Chat":         `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}`,
		"Stream20":     `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}],"stream":true,"stream_options":{"include_usage":true}}`,
		"Embeddings":   `{"model":"text-embedding-3-small","input":"Say hello."}`,
		"ChatWithHook": `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}`,
	}
	for name, body := range cases {
		b.Run(name, func(b *testing.B) {
			h := NewOpenAIHandler()
			h.SetRecording(false)
			h.SetBehavior(Behavior{Text: strings.Repeat("word ", 20), Chunks: 20})
			if name == "ChatWithHook" {
				h.SetRespond(func(RecordedRequest) *Behavior { return nil })
			}
			path := "/v1/chat/completions"
			if name == "Embeddings" {
				path = "/v1/embeddings"
			}
			w := &discardWriter{h: http.Header{}}
			rd := strings.NewReader(body)
			req, _ := http.NewRequest("POST", path, rd)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

package providertest

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkGeminiHandler measures one call served by the fake Gemini API, as a load
// benchmark would use it (recording off).
func BenchmarkGeminiHandler(b *testing.B) {
	chat := `{"contents":[{"role":"user","parts":[{"text":"Say hello."}]}],"generationConfig":{"maxOutputTokens":16}}`
	cases := map[string]struct{ path, body string }{
		"Generate":   {"/v1beta/models/gemini-2.5-flash:generateContent", chat},
		"Stream20":   {"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", chat},
		"BatchEmbed": {"/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"Say hello."}]}}]}`},
	}
	for name, c := range cases {
		b.Run(name, func(b *testing.B) {
			h := NewGeminiHandler()
			h.SetRecording(false)
			h.SetBehavior(GeminiBehavior{Text: strings.Repeat("word ", 20), Chunks: 20})
			w := &discardWriter{h: http.Header{}}
			rd := strings.NewReader(c.body)
			req, _ := http.NewRequest("POST", c.path, rd)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(c.body)
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

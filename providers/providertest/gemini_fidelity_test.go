package providertest

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

func readGeminiCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/gemini/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// geminiEvents reads an event stream into its data payloads.
func geminiEvents(t *testing.T, r io.Reader) [][]byte {
	t.Helper()
	var out [][]byte
	events := sse.NewReader(r)
	for {
		ev, err := events.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(ev.Data))
	}
}

func TestGeminiFakeMatchesCaptures(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	s.RequireAPIKey("k")
	chat := `{"contents":[{"role":"user","parts":[{"text":"Capital of France?"}]}]}`

	t.Run("GenerateContent", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{Text: "Paris.", PromptTokens: 1042, CachedTokens: 1024, ThoughtsTokens: 47})
		resp := geminiPost(t, s, "gemini-2.5-flash:generateContent", chat)
		body := readBody(t, resp)
		sameShape(t, "generateContent", readGeminiCapture(t, "generate_content.json"), body)
		if !bytes.HasPrefix(body, []byte("{\n  \"candidates\": [")) {
			t.Errorf("answer is not indented as Google sends it: %.40s", body)
		}
	})
	t.Run("GenerateContentFunctionCall", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{FunctionCalls: []GeminiFunctionCall{{Name: "get_weather", Args: `{"city": "Paris", "unit": "celsius"}`}},
			ThoughtSignature: "c2ln", FinishMessage: "Model generated function call(s).", ThoughtsTokens: 86})
		resp := geminiPost(t, s, "gemini-2.5-flash:generateContent", chat)
		sameShape(t, "function call", readGeminiCapture(t, "generate_content_function_call.json"), readBody(t, resp))
	})
	t.Run("StreamGenerateContent", func(t *testing.T) {
		capture := readGeminiCapture(t, "stream_generate_content.txt")
		want := geminiEvents(t, bytes.NewReader(capture))
		s.SetBehavior(GeminiBehavior{Text: "Paris is the capital and largest city of France. It is known for <it>.", Chunks: 3, ThoughtsTokens: 45})
		resp := geminiPost(t, s, "gemini-2.5-flash:streamGenerateContent?alt=sse", chat)
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		raw := readBody(t, resp)
		got := geminiEvents(t, bytes.NewReader(raw))
		if len(got) != len(want) {
			t.Fatalf("%d events, capture has %d", len(got), len(want))
		}
		sameShape(t, "first event", want[0], got[0])
		sameShape(t, "last event", want[len(want)-1], got[len(got)-1])
		for _, framing := range [][]byte{capture, raw} {
			if n := bytes.Count(framing, []byte("\r\n\r\n")); n != len(want) || !bytes.HasPrefix(framing, []byte("data: {")) {
				t.Errorf("framing: %d CRLF event ends in %.30q…", n, framing)
			}
		}
		if !bytes.Contains(raw, []byte(`\u003cit\u003e`)) || !bytes.Contains(raw, []byte(`"text": "`)) {
			t.Errorf("events not escaped and spaced as Google's: %s", raw)
		}
	})
	t.Run("BatchEmbedContents", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{EmbeddingDim: 4})
		resp := geminiPost(t, s, "gemini-embedding-001:batchEmbedContents",
			`{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]}},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]}}]}`)
		sameShape(t, "batchEmbedContents", readGeminiCapture(t, "batch_embed_contents.json"), readBody(t, resp))
	})
	t.Run("Models", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{})
		req, _ := http.NewRequest("GET", s.URL()+"/models", nil)
		req.Header.Set("x-goog-api-key", "k")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sameShape(t, "models", readGeminiCapture(t, "models.json"), readBody(t, resp))
	})
	t.Run("Errors", func(t *testing.T) {
		for file, e := range map[string]*GeminiError{
			"error_invalid_api_key.json":    GeminiInvalidKeyError(),
			"error_resource_exhausted.json": GeminiRateLimitError("21s"),
			"error_internal.json":           GeminiServerError(),
		} {
			s.SetBehavior(GeminiBehavior{Error: e})
			resp := geminiPost(t, s, "gemini-2.5-flash:generateContent", chat)
			if resp.StatusCode != e.HTTPStatus {
				t.Errorf("%s: status %d, want %d", file, resp.StatusCode, e.HTTPStatus)
			}
			body := readBody(t, resp)
			sameShape(t, file, readGeminiCapture(t, file), body)
			if !bytes.HasPrefix(body, []byte("{\n  \"error\": {\n    \"code\": ")) {
				t.Errorf("%s: not indented as Google's: %.40s", file, body)
			}
		}
	})
	t.Run("WrongKeyAnswersLikeCapture", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{})
		req, _ := http.NewRequest("POST", s.URL()+"/models/gemini-2.5-flash:generateContent", strings.NewReader(chat))
		req.Header.Set("x-goog-api-key", "wrong")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want Gemini's 400", resp.StatusCode)
		}
		sameShape(t, "wrong key", readGeminiCapture(t, "error_invalid_api_key.json"), readBody(t, resp))
	})
}

// geminiPost calls the fake with the key "k" in the header, as the adapter does.
func geminiPost(t testing.TB, s *GeminiServer, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL()+"/models/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-goog-api-key", "k")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

package providertest

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

// shapeOf maps every member path of a JSON document to its kind; array elements
// share the path "[]", so the shape says which members exist, not how many.
func shapeOf(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	out := map[string]string{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			out[path] = "object"
			for k, e := range x {
				walk(e, path+"."+k)
			}
		case []any:
			out[path] = "array"
			for _, e := range x {
				walk(e, path+"[]")
			}
		case string:
			out[path] = "string"
		case float64:
			out[path] = "number"
		case bool:
			out[path] = "bool"
		case nil:
			if _, ok := out[path]; !ok {
				out[path] = "null"
			}
		}
	}
	walk(v, "$")
	return out
}

// sameShape fails unless both documents have the same member paths with the same
// kinds; null is compatible with any kind (OpenAI nulls optional members).
func sameShape(t *testing.T, what string, capture, fake []byte) {
	t.Helper()
	want, got := shapeOf(t, capture), shapeOf(t, fake)
	for _, p := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: fake lacks %s (%s)", what, p, want[p])
		case g != want[p] && g != "null" && want[p] != "null":
			t.Errorf("%s: %s is %s in the fake, %s in the capture", what, p, g, want[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: fake has %s, which the capture lacks", what, p)
		}
	}
}

func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/openai/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chunkKind names the role a stream chunk plays, so chunks are compared with their
// counterpart in the capture.
func chunkKind(t *testing.T, data []byte) string {
	var c struct {
		Choices []struct {
			Delta        map[string]any `json:"delta"`
			FinishReason *string        `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("chunk is not JSON: %v: %s", err, data)
	}
	switch {
	case len(c.Choices) == 0:
		return "usage"
	case c.Choices[0].FinishReason != nil:
		return "finish"
	case c.Choices[0].Delta["role"] != nil:
		return "role"
	}
	return "content"
}

// streamChunks reads an event stream into its data payloads, by kind, and the
// sequence of kinds.
func streamChunks(t *testing.T, r io.Reader) (map[string][]byte, []string) {
	t.Helper()
	byKind := map[string][]byte{}
	var seq []string
	events := sse.NewReader(r)
	for {
		ev, err := events.Next()
		if err == io.EOF {
			return byKind, seq
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Data) == "[DONE]" {
			seq = append(seq, "[DONE]")
			continue
		}
		k := chunkKind(t, ev.Data)
		if len(seq) == 0 || seq[len(seq)-1] != k {
			seq = append(seq, k)
		}
		byKind[k] = bytes.Clone(ev.Data)
	}
}

func TestFakeMatchesCaptures(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()

	t.Run("ChatCompletion", func(t *testing.T) {
		resp := post(t, s, "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Capital of France?"}]}`)
		sameShape(t, "chat.completion", readCapture(t, "chat_completion.json"), readBody(t, resp))
	})
	t.Run("ChatCompletionStreamWithUsage", func(t *testing.T) {
		capture, captureSeq := streamChunks(t, bytes.NewReader(readCapture(t, "chat_completion_stream_usage.txt")))
		resp := post(t, s, "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("Content-Type = %q", ct)
		}
		fake, fakeSeq := streamChunks(t, resp.Body)
		if !slices.Equal(fakeSeq, captureSeq) {
			t.Errorf("chunk sequence = %v, capture has %v", fakeSeq, captureSeq)
		}
		for _, kind := range slices.Sorted(maps.Keys(capture)) {
			sameShape(t, kind+" chunk", capture[kind], fake[kind])
		}
	})
	t.Run("ChatCompletionStreamWithoutUsage", func(t *testing.T) {
		resp := post(t, s, "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`)
		defer resp.Body.Close()
		fake, seq := streamChunks(t, resp.Body)
		if want := []string{"role", "content", "finish", "[DONE]"}; !slices.Equal(seq, want) {
			t.Errorf("chunk sequence = %v, want %v", seq, want)
		}
		for kind, data := range fake {
			if bytes.Contains(data, []byte(`"usage"`)) {
				t.Errorf("%s chunk has a usage member although none was asked for: %s", kind, data)
			}
		}
	})
	t.Run("Embeddings", func(t *testing.T) {
		resp := post(t, s, "/embeddings", `{"model":"text-embedding-3-small","input":"The food was delicious."}`)
		sameShape(t, "embeddings", readCapture(t, "embeddings.json"), readBody(t, resp))
	})
	t.Run("Models", func(t *testing.T) {
		resp, err := s.Client().Get(s.URL() + "/models")
		if err != nil {
			t.Fatal(err)
		}
		sameShape(t, "models", readCapture(t, "models.json"), readBody(t, resp))
	})
	t.Run("Errors", func(t *testing.T) {
		for file, e := range map[string]*APIError{
			"error_invalid_api_key.json":    AuthError(),
			"error_insufficient_quota.json": QuotaError(),
		} {
			s.SetBehavior(Behavior{Error: e})
			resp := post(t, s, "/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`)
			if resp.StatusCode != e.Status {
				t.Errorf("%s: status %d, want %d", file, resp.StatusCode, e.Status)
			}
			sameShape(t, file, readCapture(t, file), readBody(t, resp))
		}
	})
}

func post(t testing.TB, s *OpenAIServer, path, body string) *http.Response {
	t.Helper()
	resp, err := s.Client().Post(s.URL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package gemini

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// capture reads one of the hand-written Gemini captures beside the fake.
func capture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../providertest/testdata/gemini/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveCapture answers every call with a capture, as Gemini would.
func serveCapture(t *testing.T, status int, contentType string, body []byte) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return New(Config{BaseURL: srv.URL, APIKey: testKey})
}

// TestCaptures reads every capture through the adapter.
func TestCaptures(t *testing.T) {
	t.Run("GenerateContent", func(t *testing.T) {
		c := serveCapture(t, 200, "application/json; charset=UTF-8", capture(t, "generate_content.json"))
		resp, err := c.Chat(context.Background(), chatReq(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		want := providers.Usage{InputTokens: 1042, CachedInputTokens: 1024, OutputTokens: 56, ReasoningTokens: 47}
		if resp.Usage == nil || *resp.Usage != want {
			t.Errorf("usage = %+v, want %+v", resp.Usage, want)
		}
		out := decodeCompletion(t, resp.Body)
		if *out.Choices[0].Message.Content != "The capital of France is **Paris**." || out.ID != "chatcmpl-Xq3taKOJNPa5vdIP4uDJoQk" || out.Model != "gemini-2.5-flash" {
			t.Errorf("answer = %s", resp.Body)
		}
	})
	t.Run("FunctionCall", func(t *testing.T) {
		c := serveCapture(t, 200, "application/json; charset=UTF-8", capture(t, "generate_content_function_call.json"))
		resp, err := c.Chat(context.Background(), chatReq(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		out := decodeCompletion(t, resp.Body)
		tc := out.Choices[0].Message.ToolCalls
		if out.Choices[0].FinishReason != "tool_calls" || len(tc) != 1 || tc[0].Function.Arguments != `{"city":"Paris","unit":"celsius"}` ||
			tc[0].ExtraContent == nil || tc[0].ExtraContent.Google.ThoughtSignature == "" || out.Choices[0].Message.Content != nil {
			t.Errorf("answer = %s", resp.Body)
		}
		if *resp.Usage != (providers.Usage{InputTokens: 83, OutputTokens: 104, ReasoningTokens: 86}) {
			t.Errorf("usage = %+v", resp.Usage)
		}
	})
	t.Run("StreamGenerateContent", func(t *testing.T) {
		c := serveCapture(t, 200, "text/event-stream", capture(t, "stream_generate_content.txt"))
		chunks, err := drain(t, openStream(t, c, context.Background(), chatBody))
		if err != io.EOF || len(chunks) != 4 {
			t.Fatalf("%d chunks, err %v", len(chunks), err)
		}
		text := ""
		for _, ch := range chunks[:3] {
			text += ch.Text
		}
		if text != "Paris is the capital and largest city of France, on the Seine. It is known for the Eiffel Tower <330 m>." {
			t.Errorf("text = %q", text)
		}
		if u := chunks[3].Usage; !chunks[3].UsageOnly || u == nil || *u != (providers.Usage{InputTokens: 12, OutputTokens: 70, ReasoningTokens: 45}) {
			t.Errorf("usage chunk = %+v", chunks[3])
		}
	})
	t.Run("BatchEmbedContents", func(t *testing.T) {
		c := serveCapture(t, 200, "application/json; charset=UTF-8", capture(t, "batch_embed_contents.json"))
		resp, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(`{"input":["a","b"]}`), Model: "gemini-embedding-001"})
		if err != nil {
			t.Fatal(err)
		}
		var l embeddingsList
		if err := json.Unmarshal(resp.Body, &l); err != nil || len(l.Data) != 2 || resp.Usage != nil {
			t.Fatalf("answer = %s, err %v", resp.Body, err)
		}
		jsonEqual(t, l.Data[1].Embedding, `[0.011203472,-0.0153388465,0.0046171173,-0.05802231]`)
	})
	t.Run("Models", func(t *testing.T) {
		c := serveCapture(t, 200, "application/json; charset=UTF-8", capture(t, "models.json"))
		ids, err := c.Models(context.Background())
		if err != nil || len(ids) != 2 || ids[0] != "gemini-2.5-flash" {
			t.Errorf("ids = %v, err %v", ids, err)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tt := range []struct {
			file   string
			status int
			want   providers.UpstreamError
		}{
			{"error_invalid_api_key.json", 400, providers.UpstreamError{Status: 401, Code: "API_KEY_INVALID", Message: "API key not valid. Please pass a valid API key."}},
			{"error_resource_exhausted.json", 429, providers.UpstreamError{Status: 429, Code: "RESOURCE_EXHAUSTED", RetryAfter: 21 * time.Second}},
			{"error_internal.json", 500, providers.UpstreamError{Status: 500, Code: "INTERNAL"}},
		} {
			c := serveCapture(t, tt.status, "application/json; charset=UTF-8", capture(t, tt.file))
			_, err := c.Chat(context.Background(), chatReq(chatBody))
			ue := upstreamError(t, err)
			if tt.want.Message == "" {
				tt.want.Message = ue.Message
			}
			if *ue != tt.want || !ue.Retryable() {
				t.Errorf("%s: got %+v, want %+v", tt.file, ue, tt.want)
			}
		}
	})
}

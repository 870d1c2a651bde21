package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

func TestPresetsList(t *testing.T) {
	want := []string{"azure", "deepseek", "groq", "mistral", "ollama", "openai", "openai-compatible", "openrouter", "qwen", "together", "vllm"}
	var got []string
	for _, p := range Presets() {
		got = append(got, p.Name)
		if p.Notes == "" || (p.MaxTokensField != "max_tokens" && p.MaxTokensField != "max_completion_tokens") {
			t.Errorf("preset %s: notes %q, max tokens field %q", p.Name, p.Notes, p.MaxTokensField)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("presets = %v, want %v (sorted)", got, want)
	}
	Presets()[0].Options[0] = "changed"
	if Presets()[0].Options[0] == "changed" {
		t.Error("Presets returns the table itself")
	}
}

// TestPresetDefaults checks each preset's default base URL, embeddings and key rule.
func TestPresetDefaults(t *testing.T) {
	tests := []struct {
		name, base  string
		embeddings  bool
		keyOptional bool
	}{
		{"azure", "", true, false},
		{"deepseek", "https://api.deepseek.com/v1", false, false},
		{"groq", "https://api.groq.com/openai/v1", false, false},
		{"mistral", "https://api.mistral.ai/v1", true, false},
		{"ollama", "http://localhost:11434/v1", true, true},
		{"openai", "https://api.openai.com/v1", true, false},
		{"openai-compatible", "", true, true},
		{"openrouter", "https://openrouter.ai/api/v1", false, false},
		{"qwen", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", true, false},
		{"together", "https://api.together.xyz/v1", true, false},
		{"vllm", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := lookupPreset(tt.name)
			if !ok || p.DefaultBaseURL != tt.base || p.Embeddings != tt.embeddings || p.KeyOptional != tt.keyOptional {
				t.Fatalf("preset = %+v", p)
			}
			c, err := NewPreset(tt.name, Config{APIKey: "k"}, nil)
			if tt.base == "" {
				if err == nil || !strings.Contains(err.Error(), "needs a base URL") {
					t.Fatalf("err = %v, want a missing base URL error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.endpoint("/chat/completions", "m", nil); got != tt.base+"/chat/completions" {
				t.Errorf("chat URL = %s", got)
			}
			_, isEmbedder := c.Provider().(providers.Embedder)
			if isEmbedder != tt.embeddings {
				t.Errorf("Provider() is an Embedder: %v, want %v", isEmbedder, tt.embeddings)
			}
		})
	}
}

// TestPresetsAgainstFake sends a chat, a stream and an embeddings call through every
// preset to the OpenAI fake and checks URL, authentication and body.
func TestPresetsAgainstFake(t *testing.T) {
	fake := providertest.NewOpenAI()
	defer fake.Close()
	fake.RequireAPIKey(testKey)
	const embBody = `{"model":"text-embedding-3-small","input":["a","b"],"dimensions":4}`
	for _, p := range Presets() {
		if p.Name == "azure" {
			continue // TestAzure, against the fake behind Azure's paths
		}
		t.Run(p.Name, func(t *testing.T) {
			fake.Reset()
			c, err := NewPreset(p.Name, Config{BaseURL: fake.URL(), APIKey: testKey, HTTPClient: fake.Client()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Chat(context.Background(), chatReq(chatBody)); err != nil {
				t.Fatal(err)
			}
			s, err := c.ChatStream(context.Background(), chatReq(streamBody))
			if err != nil {
				t.Fatal(err)
			}
			chunks, err := drain(t, s)
			if err != io.EOF {
				t.Fatalf("stream err = %v", err)
			}
			_, embErr := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(embBody), Model: "text-embedding-3-small"})

			calls := fake.Calls()
			if p.Embeddings != (embErr == nil) {
				t.Errorf("embeddings err = %v with Embeddings %v", embErr, p.Embeddings)
			}
			if !p.Embeddings {
				if ue := upstreamError(t, embErr); ue.Status != http.StatusNotImplemented || !ue.Retryable() {
					t.Errorf("embeddings refusal = %+v", ue)
				}
				if len(calls) != 2 {
					t.Errorf("%d calls reached the host, want 2 (no embeddings call)", len(calls))
				}
			}
			for i, call := range calls {
				if got := call.Header.Get("Authorization"); got != "Bearer "+testKey {
					t.Errorf("call %d: Authorization = %q", i, got)
				}
			}
			if calls[0].Path != "/v1/chat/completions" || string(calls[0].Body) != chatBody {
				t.Errorf("chat call %s with body %s, want the body intact", calls[0].Path, calls[0].Body)
			}
			if p.StreamUsage {
				if string(calls[1].Body) != streamBody || !calls[1].IncludeUsage {
					t.Errorf("stream body %s, want it intact", calls[1].Body)
				}
				if last := chunks[len(chunks)-1]; !last.UsageOnly || last.Usage == nil {
					t.Errorf("last chunk %s carries no usage", last.Data)
				}
			} else if strings.Contains(string(calls[1].Body), "stream_options") {
				t.Errorf("stream body %s still has stream_options", calls[1].Body)
			}
			if p.Embeddings && (calls[2].Path != "/v1/embeddings" || string(calls[2].Body) != embBody) {
				t.Errorf("embeddings call %s %s", calls[2].Path, calls[2].Body)
			}
		})
	}
}

func TestPresetKeyOptional(t *testing.T) {
	fake := providertest.NewOpenAI()
	defer fake.Close()
	for _, name := range []string{"ollama", "vllm", "openai-compatible"} {
		fake.Reset()
		c, err := NewPreset(name, Config{BaseURL: fake.URL(), HTTPClient: fake.Client()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Chat(context.Background(), chatReq(chatBody)); err != nil {
			t.Fatal(err)
		}
		if _, sent := fake.Calls()[0].Header["Authorization"]; sent {
			t.Errorf("%s: Authorization sent without a key", name)
		}
	}
}

func TestNewPresetErrors(t *testing.T) {
	tests := []struct {
		name, provider, base, key string
		options                   map[string]string
		want                      string
	}{
		{"UnknownProvider", "bedrock", "", "k", nil, "unknown provider"},
		{"MissingBaseURL", "vllm", "", "", nil, "needs a base URL"},
		{"MissingKey", "openai", "", "", nil, "needs an API key"},
		{"NotHTTP", "openai-compatible", "ftp://host/v1", "", nil, "not an http(s) URL"},
		{"NoHost", "openai-compatible", "http:///v1", "", nil, "not an http(s) URL"},
		{"KeyNotEchoed", "openai-compatible", "gopher://h/" + testKey, testKey, nil, "[REDACTED]"},
		{"UnknownOption", "openai", "", "k", map[string]string{"api_version": "x"}, `unknown option "api_version"`},
		{"BadAzureStyle", "azure", "https://r.openai.azure.com", "k", map[string]string{"api_style": "v2"}, "api_style"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPreset(tt.provider, Config{BaseURL: tt.base, APIKey: tt.key}, tt.options)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) && tt.key != "k" {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestMaxTokensField(t *testing.T) {
	for provider, want := range map[string]string{
		"openai": "max_completion_tokens", "azure": "max_completion_tokens", "deepseek": "max_tokens",
		"mistral": "max_tokens", "groq": "max_tokens", "vllm": "max_tokens", "gemini": "max_tokens", "": "max_tokens",
	} {
		if got := MaxTokensField(provider); got != want {
			t.Errorf("MaxTokensField(%q) = %q, want %q", provider, got, want)
		}
	}
}

func TestPresetHeadersNotShared(t *testing.T) {
	shared := map[string]string{"X-Extra": "1"}
	if _, err := NewPreset("openrouter", Config{APIKey: "k", Headers: shared}, map[string]string{"http_referer": "https://app.example", "x_title": "App"}); err != nil {
		t.Fatal(err)
	}
	if len(shared) != 1 {
		t.Errorf("NewPreset changed the caller's headers: %v", shared)
	}
	fake := providertest.NewOpenAI()
	defer fake.Close()
	c, _ := NewPreset("openrouter", Config{BaseURL: fake.URL(), APIKey: "k", HTTPClient: fake.Client(), Headers: shared},
		map[string]string{"http_referer": "https://app.example", "x_title": "App"})
	if _, err := c.Chat(context.Background(), chatReq(chatBody)); err != nil {
		t.Fatal(err)
	}
	h := fake.Calls()[0].Header
	if h.Get("HTTP-Referer") != "https://app.example" || h.Get("X-Title") != "App" || h.Get("X-Extra") != "1" {
		t.Errorf("headers = %v", h)
	}
}

// TestMistralBody checks the members Mistral refuses are removed and the rest kept.
func TestMistralBody(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"StreamOptionsDropped", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"x":"<&>"}`,
			`{"model":"m","stream":true,"x":"<&>"}`},
		{"MaxCompletionTokensRenamed", `{"model":"m","max_completion_tokens":9}`, `{"max_tokens":9,"model":"m"}`},
		{"MaxTokensWins", `{"max_tokens":5,"max_completion_tokens":9}`, `{"max_tokens":5}`},
		{"UntouchedWithoutThem", `{"model":"m",  "messages":[]}`, `{"model":"m",  "messages":[]}`},
		{"NotAnObject", `["stream_options"]`, `["stream_options"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(dropStreamOptions([]byte(tt.in)))
			if tt.name == "StreamOptionsDropped" {
				var a, b any
				json.Unmarshal([]byte(got), &a)
				json.Unmarshal([]byte(tt.want), &b)
				if !jsonEqual(a, b) || !strings.Contains(got, `"<&>"`) {
					t.Errorf("got %s, want %s", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("UsageStillMetered", func(t *testing.T) {
		fake, _ := newFake(t)
		fake.SetBehavior(providertest.Behavior{RawEvents: []string{
			`{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}`}})
		c, err := NewPreset("mistral", Config{BaseURL: fake.URL(), APIKey: testKey, HTTPClient: fake.Client()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.ChatStream(context.Background(), chatReq(streamBody))
		if err != nil {
			t.Fatal(err)
		}
		chunks, _ := drain(t, s)
		if len(chunks) != 1 || chunks[0].Usage == nil || chunks[0].Usage.InputTokens != 4 {
			t.Errorf("chunks = %+v", chunks)
		}
	})
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// azureFake serves the OpenAI fake behind Azure's URL layout, checking what only
// Azure requires (api-key, api-version, the deployment in the path).
type azureFake struct {
	fake *providertest.OpenAIServer
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newAzureFake(t *testing.T) *azureFake {
	t.Helper()
	a := &azureFake{fake: providertest.NewOpenAI()}
	a.fake.SetBehavior(providertest.Behavior{})
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Clone(context.Background()))
		a.mu.Unlock()
		if r.Header.Get("api-key") != testKey || r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`)
			return
		}
		path := r.URL.EscapedPath() // a deployment name may hold an escaped slash
		switch {
		case strings.HasPrefix(path, "/openai/deployments/"):
			rest := strings.TrimPrefix(path, "/openai/deployments/")
			_, op, _ := strings.Cut(rest, "/")
			if r.URL.Query().Get("api-version") == "" {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":{"code":"404","message":"Resource not found"}}`)
				return
			}
			r.URL.Path, r.URL.RawPath = "/v1/"+op, ""
		case strings.HasPrefix(path, "/openai/v1/"):
			r.URL.Path, r.URL.RawPath = "/v1/"+strings.TrimPrefix(path, "/openai/v1/"), ""
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { a.srv.Close(); a.fake.Close() })
	return a
}

func TestAzure(t *testing.T) {
	const deployment = "my gpt-4o/prod"
	tests := []struct {
		name, base  string
		options     map[string]string
		path, query string
	}{
		{"DeploymentDefaultVersion", "", nil, "/openai/deployments/my%20gpt-4o%2Fprod/chat/completions", "api-version=" + DefaultAzureAPIVersion},
		{"DeploymentVersionOption", "", map[string]string{"api_version": "2025-04-01-preview"}, "/openai/deployments/my%20gpt-4o%2Fprod/chat/completions", "api-version=2025-04-01-preview"},
		{"BaseEndingInOpenAI", "/openai/", nil, "/openai/deployments/my%20gpt-4o%2Fprod/chat/completions", "api-version=" + DefaultAzureAPIVersion},
		{"V1Style", "", map[string]string{"api_style": "v1"}, "/openai/v1/chat/completions", ""},
		{"V1FromBaseURL", "/openai/v1", nil, "/openai/v1/chat/completions", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAzureFake(t)
			c, err := NewPreset("azure", Config{BaseURL: a.srv.URL + tt.base, APIKey: testKey, HTTPClient: a.srv.Client()}, tt.options)
			if err != nil {
				t.Fatal(err)
			}
			req := &providers.ChatRequest{Body: []byte(chatBody), Model: deployment}
			if _, err := c.Chat(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			seen := a.seen[0]
			if seen.URL.EscapedPath() != tt.path || seen.URL.RawQuery != tt.query {
				t.Errorf("URL = %s?%s, want %s?%s", seen.URL.EscapedPath(), seen.URL.RawQuery, tt.path, tt.query)
			}
			if got := string(a.fake.Calls()[0].Body); got != chatBody {
				t.Errorf("body = %s, want it intact", got)
			}
			s, err := c.ChatStream(context.Background(), &providers.ChatRequest{Body: []byte(streamBody), Model: deployment, Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			if chunks, err := drain(t, s); err != io.EOF || !chunks[len(chunks)-1].UsageOnly {
				t.Errorf("stream: err %v", err)
			}
		})
	}
	t.Run("Embeddings", func(t *testing.T) {
		a := newAzureFake(t)
		c, err := NewPreset("azure", Config{BaseURL: a.srv.URL, APIKey: testKey, HTTPClient: a.srv.Client()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"model":"emb-deploy","input":"x"}`
		if _, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		if p := a.seen[0].URL.Path; p != "/openai/deployments/emb-deploy/embeddings" {
			t.Errorf("path = %s (deployment read from the body)", p)
		}
		if _, ok := c.Provider().(providers.Embedder); !ok {
			t.Error("azure Provider() is not an Embedder")
		}
	})
	t.Run("WrongKeyIsAuthFailure", func(t *testing.T) {
		a := newAzureFake(t)
		c, _ := NewPreset("azure", Config{BaseURL: a.srv.URL, APIKey: "wrong", HTTPClient: a.srv.Client()}, nil)
		_, err := c.Chat(context.Background(), &providers.ChatRequest{Body: []byte(chatBody), Model: "d"})
		if ue := upstreamError(t, err); ue.Status != 401 || !ue.Retryable() {
			t.Errorf("got %+v", ue)
		}
	})
}

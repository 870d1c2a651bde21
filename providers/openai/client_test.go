package openai

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

const testKey = "sk-upstream-secret-0123456789"

func newFake(t *testing.T) (*providertest.OpenAIServer, *Client) {
	t.Helper()
	s := providertest.NewOpenAI()
	t.Cleanup(s.Close)
	return s, New(Config{BaseURL: s.URL(), APIKey: testKey, HTTPClient: s.Client()})
}

func chatReq(body string) *providers.ChatRequest {
	return &providers.ChatRequest{Body: []byte(body), Model: "gpt-4o-mini"}
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"x_unknown":{"kept":[1,2]}}`

func upstreamError(t *testing.T, err error) *providers.UpstreamError {
	t.Helper()
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want *providers.UpstreamError", err, err)
	}
	if !errors.Is(err, providers.ErrUpstream) {
		t.Fatalf("errors.Is(err, ErrUpstream) = false for %v", err)
	}
	return ue
}

func TestChat(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.Behavior{PromptTokens: 30, CompletionTokens: 5, CachedTokens: 10, ReasoningTokens: 2})
	resp, err := c.Chat(context.Background(), chatReq(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Usage{InputTokens: 30, CachedInputTokens: 10, OutputTokens: 5, ReasoningTokens: 2}
	if resp.Usage == nil || *resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	if !strings.Contains(string(resp.Body), `"object":"chat.completion"`) {
		t.Errorf("body = %s", resp.Body)
	}

	call := s.Calls()[0]
	t.Run("BodyForwardedVerbatim", func(t *testing.T) {
		if string(call.Body) != chatBody {
			t.Errorf("upstream got %s, want the body unchanged", call.Body)
		}
	})
	t.Run("OnlyOwnHeaders", func(t *testing.T) {
		if got := call.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q", got)
		}
		if got := call.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := call.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept = %q", got)
		}
		allowed := []string{"Authorization", "Content-Type", "Accept", "Accept-Encoding", "Content-Length", "User-Agent"}
		for name := range call.Header {
			if !slices.Contains(allowed, name) {
				t.Errorf("unexpected header %s sent upstream", name)
			}
		}
	})
	if call.Path != "/v1/chat/completions" || call.Method != "POST" {
		t.Errorf("call = %s %s", call.Method, call.Path)
	}
}

func TestChatUsageMapping(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *providers.Usage
	}{
		{"OpenAI", `{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
			"prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},
			"completion_tokens_details":{"reasoning_tokens":20,"audio_tokens":0}}}`,
			&providers.Usage{InputTokens: 100, CachedInputTokens: 60, OutputTokens: 50, ReasoningTokens: 20}},
		{"NoDetails", `{"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`,
			&providers.Usage{InputTokens: 7, OutputTokens: 3}},
		{"NullDetails", `{"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":null,"completion_tokens_details":null}}`,
			&providers.Usage{InputTokens: 7, OutputTokens: 3}},
		{"DeepSeekCacheHit", `{"usage":{"prompt_tokens":40,"completion_tokens":3,"prompt_cache_hit_tokens":32,"prompt_cache_miss_tokens":8}}`,
			&providers.Usage{InputTokens: 40, CachedInputTokens: 32, OutputTokens: 3}},
		{"Absent", `{"choices":[]}`, nil},
		{"Null", `{"choices":[],"usage":null}`, nil},
		{"WrongTypeIgnored", `{"usage":"n/a","choices":[]}`, nil},
	}
	s, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(providertest.Behavior{RawBody: tt.body})
			resp, err := c.Chat(context.Background(), chatReq(chatBody))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tt.body {
				t.Errorf("body not returned verbatim: %s", resp.Body)
			}
			if (resp.Usage == nil) != (tt.want == nil) || (tt.want != nil && *resp.Usage != *tt.want) {
				t.Errorf("usage = %+v, want %+v", resp.Usage, tt.want)
			}
		})
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		behavior  providertest.Behavior
		status    int
		code      string
		quota     bool
		retryable bool
		message   string
	}{
		{"InvalidAPIKey", providertest.Behavior{Error: providertest.AuthError()}, 401, "invalid_api_key", false, true, "Incorrect API key"},
		{"RateLimited", providertest.Behavior{Error: providertest.RateLimitError("3")}, 429, "rate_limit_exceeded", false, true, "Rate limit"},
		{"InsufficientQuota429", providertest.Behavior{Error: providertest.QuotaError()}, 429, "insufficient_quota", true, true, "quota"},
		{"PaymentRequired402", providertest.Behavior{Error: providertest.PaymentRequiredError()}, 402, "insufficient_quota", true, true, "balance"},
		{"ServerErrorTypeAsCode", providertest.Behavior{Error: providertest.ServerError()}, 500, "server_error", false, true, "server had an error"},
		{"BadRequest", providertest.Behavior{Error: &providertest.APIError{Status: 400, Type: "invalid_request_error",
			Code: "context_length_exceeded", Message: "too long"}}, 400, "context_length_exceeded", false, false, "too long"},
		{"QuotaByTypeOnly", providertest.Behavior{Error: &providertest.APIError{Status: 403, Type: "insufficient_quota", Message: "no"}},
			403, "insufficient_quota", true, true, "no"},
		{"ErrorInside200", providertest.Behavior{RawBody: `{"error":{"message":"model overloaded","type":"server_error","code":"overloaded"}}`},
			0, "overloaded", false, true, "model overloaded"},
		{"NotJSON200", providertest.Behavior{RawBody: `<html>gateway</html>`}, 0, "invalid_response", false, true, "not valid JSON"},
		{"TruncatedBody", providertest.Behavior{Fault: providertest.FaultMalformed}, 0, "invalid_response", false, true, "not valid JSON"},
	}
	s, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(tt.behavior)
			for _, stream := range []bool{false, true} {
				if stream && tt.status == 0 {
					continue // a 200 body is not an error before the stream starts
				}
				var err error
				if stream {
					_, err = c.ChatStream(context.Background(), chatReq(`{"model":"m","messages":[],"stream":true}`))
				} else {
					_, err = c.Chat(context.Background(), chatReq(chatBody))
				}
				ue := upstreamError(t, err)
				if ue.Status != tt.status || ue.Code != tt.code || ue.Quota != tt.quota || ue.Timeout ||
					ue.Retryable() != tt.retryable || !strings.Contains(ue.Message, tt.message) {
					t.Errorf("stream=%v: got %+v (retryable %v)", stream, ue, ue.Retryable())
				}
			}
		})
	}
}

// TestErrorBodies covers the error shapes OpenAI-compatible hosts send.
func TestErrorBodies(t *testing.T) {
	tests := []struct {
		name, body, code, message string
	}{
		{"OpenAI", `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`, "invalid_request_error", "bad"},
		{"NumericCode", `{"error":{"message":"bad","type":"BadRequestError","code":400}}`, "400", "bad"},
		{"StringError", `{"error":"model not found"}`, "", "model not found"},
		{"TopLevelMessage", `{"message":"Invalid token","code":"unauthorized"}`, "", "Invalid token"},
		{"FastAPIDetail", `{"detail":"Not Found"}`, "", "Not Found"},
		{"HTML", `<html><body>502 Bad Gateway</body></html>`, "", "<html><body>502 Bad Gateway</body></html>"},
		{"Empty", ``, "", "Bad Gateway"},
	}
	c := New(Config{APIKey: testKey})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ue := c.errorFromBody(502, []byte(tt.body))
			if ue.Status != 502 || ue.Code != tt.code || ue.Message != tt.message {
				t.Errorf("got %+v", ue)
			}
		})
	}
	t.Run("LongMessageTruncated", func(t *testing.T) {
		ue := c.errorFromBody(500, []byte(`{"error":{"message":"`+strings.Repeat("é", 1000)+`"}}`))
		if len(ue.Message) > maxMessageBytes || !strings.HasSuffix(ue.Message, "…") || !strings.HasPrefix(ue.Message, "éé") {
			t.Errorf("message of %d bytes: %q…", len(ue.Message), ue.Message[:20])
		}
	})
	t.Run("APIKeyRedacted", func(t *testing.T) {
		ue := c.errorFromBody(401, []byte(`{"error":{"message":"key `+testKey+` is revoked","code":"`+testKey+`"}}`))
		if strings.Contains(ue.Error(), testKey) || !strings.Contains(ue.Message, "[REDACTED]") {
			t.Errorf("error leaks the key: %v", ue)
		}
	})
}

func TestTransportErrors(t *testing.T) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c := New(Config{BaseURL: "http://" + addr + "/v1", APIKey: testKey})
		_, err = c.Chat(context.Background(), chatReq(chatBody))
		ue := upstreamError(t, err)
		if ue.Status != 0 || ue.Timeout || !ue.Retryable() || strings.Contains(ue.Error(), testKey) {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("DeadlineBeforeHeaders", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.Behavior{HeaderDelay: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Chat(ctx, chatReq(chatBody))
		if ue := upstreamError(t, err); !ue.Timeout || ue.Status != 0 {
			t.Errorf("got %+v, want a timeout", ue)
		}
		_, err = c.ChatStream(ctx, chatReq(chatBody))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Errorf("stream: got %+v, want a timeout", ue)
		}
	})
	t.Run("HTTPClientTimeout", func(t *testing.T) {
		s, _ := newFake(t)
		s.SetBehavior(providertest.Behavior{HeaderDelay: time.Minute})
		hc := s.Client()
		hc.Timeout = 50 * time.Millisecond
		c := New(Config{BaseURL: s.URL(), HTTPClient: hc})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Errorf("got %+v, want a timeout", ue)
		}
	})
	t.Run("CancelledIsContextError", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.Behavior{HeaderDelay: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		if _, err := c.Chat(ctx, chatReq(chatBody)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("ResponseTooLarge", func(t *testing.T) {
		s, _ := newFake(t)
		c := New(Config{BaseURL: s.URL(), HTTPClient: s.Client(), MaxResponseBytes: 100})
		s.SetBehavior(providertest.Behavior{Text: strings.Repeat("x", 200)})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Code != "invalid_response" || !strings.Contains(ue.Message, "limit") {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("CutBody", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.Behavior{Fault: providertest.FaultCut})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 0 || !ue.Retryable() {
			t.Errorf("got %+v", ue)
		}
	})
}

func TestConfig(t *testing.T) {
	t.Run("TrailingSlashAndHeaders", func(t *testing.T) {
		s := providertest.NewOpenAI()
		defer s.Close()
		c := New(Config{BaseURL: s.URL() + "/", HTTPClient: s.Client(),
			Headers: map[string]string{"HTTP-Referer": "https://tollgate.example", "api-key": "azure-key"}})
		if _, err := c.Chat(context.Background(), chatReq(chatBody)); err != nil {
			t.Fatal(err)
		}
		call := s.Calls()[0]
		if call.Path != "/v1/chat/completions" {
			t.Errorf("path = %s", call.Path)
		}
		if call.Header.Get("Http-Referer") != "https://tollgate.example" || call.Header.Get("Api-Key") != "azure-key" {
			t.Errorf("extra headers missing: %v", call.Header)
		}
		if _, ok := call.Header["Authorization"]; ok {
			t.Error("Authorization sent without an API key")
		}
	})
	t.Run("DefaultHTTPClient", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"data":[{"id":"m1"},{"id":"m2"}]}`))
		}))
		defer srv.Close()
		ids, err := New(Config{BaseURL: srv.URL}).Models(context.Background())
		if err != nil || strings.Join(ids, ",") != "m1,m2" {
			t.Fatalf("ids = %v, err = %v", ids, err)
		}
	})
	t.Run("BadBaseURL", func(t *testing.T) {
		_, err := New(Config{BaseURL: "http://bad host/" + testKey, APIKey: testKey}).Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); strings.Contains(ue.Error(), testKey) {
			t.Errorf("error leaks the key: %v", ue)
		}
	})
}

func TestEmbeddings(t *testing.T) {
	s, c := newFake(t)
	body := `{"model":"text-embedding-3-small","input":["a","b"],"user":"u1"}`
	resp, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body), Model: "text-embedding-3-small"})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64((len(body) + 3) / 4); resp.Usage == nil || *resp.Usage != (providers.Usage{InputTokens: want}) {
		t.Errorf("usage = %+v, want %d input tokens", resp.Usage, want)
	}
	if call := s.Calls()[0]; call.Path != "/v1/embeddings" || string(call.Body) != body {
		t.Errorf("call = %s %s", call.Path, call.Body)
	}
	t.Run("TotalTokensOnly", func(t *testing.T) {
		s.SetBehavior(providertest.Behavior{RawBody: `{"data":[],"usage":{"total_tokens":9}}`})
		resp, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body)})
		if err != nil || resp.Usage == nil || resp.Usage.InputTokens != 9 {
			t.Errorf("usage = %+v, err = %v", resp.Usage, err)
		}
	})
	t.Run("Error", func(t *testing.T) {
		s.SetBehavior(providertest.Behavior{Error: providertest.RateLimitError("")})
		_, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body)})
		if ue := upstreamError(t, err); ue.Status != 429 {
			t.Errorf("got %+v", ue)
		}
	})
}

func TestModels(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.Behavior{Models: []string{"gpt-4o", "o3-mini"}})
	ids, err := c.Models(context.Background())
	if err != nil || strings.Join(ids, ",") != "gpt-4o,o3-mini" {
		t.Fatalf("ids = %v, err = %v", ids, err)
	}
	if call := s.Calls()[0]; call.Method != "GET" || call.Path != "/v1/models" || len(call.Body) != 0 {
		t.Errorf("call = %+v", call)
	}
	s.SetBehavior(providertest.Behavior{Error: providertest.AuthError()})
	if _, err := c.Models(context.Background()); upstreamError(t, err).Status != 401 {
		t.Errorf("err = %v", err)
	}
}

// TestParseUsageReadsTopLevelOnly: parseUsage reads only the answer's top-level usage
// and error, with what the former json.Unmarshal of the whole answer read: keys
// matched case-insensitively, the last one winning, nested ones ignored.
func TestParseUsageReadsTopLevelOnly(t *testing.T) {
	c := New(Config{BaseURL: "http://upstream.invalid/v1"})
	for _, tt := range []struct {
		body    string
		prompt  int64 // -1: no usage
		errCode string
	}{
		{`{"choices":[{"usage":{"prompt_tokens":9}}],"usage":{"prompt_tokens":3}}`, 3, ""},
		{`{"usage":{"prompt_tokens":3},"Usage":{"prompt_tokens":4}}`, 4, ""},
		{`{"USAGE":{"prompt_tokens":5},"error":null}`, 5, ""},
		{` {"usage" : null} `, -1, ""},
		{`{"usage":[1]}`, -1, ""},
		{`{"choices":[{"error":{"message":"x"}}]}`, -1, ""},
		{`[{"usage":{"prompt_tokens":3}}]`, -1, ""},
		{`null`, -1, ""},
		{`{"usage":{"prompt_tokens":3},"error":{"message":"overloaded"}}`, -1, "upstream_error"},
		{`{"usage":{"prompt_tokens":3}} {}`, -1, "invalid_response"},
		{`{"usage":`, -1, "invalid_response"},
	} {
		u, err := c.parseUsage([]byte(tt.body))
		var ue *providers.UpstreamError
		switch {
		case tt.errCode != "":
			if !errors.As(err, &ue) || (tt.errCode == "invalid_response") != (ue.Code == "invalid_response") {
				t.Errorf("%s: err %v, want %s", tt.body, err, tt.errCode)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.body, err)
		case tt.prompt < 0 && u != nil, tt.prompt >= 0 && (u == nil || u.toUsage().InputTokens != tt.prompt):
			t.Errorf("%s: usage %+v, want %d prompt tokens", tt.body, u, tt.prompt)
		}
	}
}

// TestRetryAfter: the wait a rate-limited upstream asks for reaches the router, for
// complete answers and streams alike; an answer that names none asks for none.
func TestRetryAfter(t *testing.T) {
	s, c := newFake(t)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{{"3", 3 * time.Second}, {"", 0}} {
		s.SetBehavior(providertest.Behavior{Error: providertest.RateLimitError(tc.header)})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		_, serr := c.ChatStream(context.Background(), chatReq(`{"model":"m","messages":[],"stream":true}`))
		for _, e := range []error{err, serr} {
			if got := upstreamError(t, e).RetryAfter; got != tc.want {
				t.Errorf("Retry-After %q: RetryAfter %v, want %v", tc.header, got, tc.want)
			}
		}
	}
}

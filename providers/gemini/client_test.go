package gemini

import (
	"context"
	"errors"
	"io"
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

const testKey = "AIzaSyFAKE-gemini-upstream-secret-0123"

const chatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":64,"user":"u-1"}`

func newFake(t *testing.T) (*providertest.GeminiServer, *Client) {
	t.Helper()
	s := providertest.NewGemini()
	t.Cleanup(s.Close)
	s.RequireAPIKey(testKey)
	return s, New(Config{BaseURL: s.URL(), APIKey: testKey, HTTPClient: s.Client()})
}

func chatReq(body string) *providers.ChatRequest {
	return &providers.ChatRequest{Body: []byte(body), Model: "gemini-2.5-flash"}
}

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
	s.SetBehavior(providertest.GeminiBehavior{Text: "Hello there.", PromptTokens: 30, CandidatesTokens: 5, CachedTokens: 10, ThoughtsTokens: 2})
	resp, err := c.Chat(context.Background(), chatReq(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Usage{InputTokens: 30, CachedInputTokens: 10, OutputTokens: 7, ReasoningTokens: 2}
	if resp.Usage == nil || *resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	out := decodeCompletion(t, resp.Body)
	if *out.Choices[0].Message.Content != "Hello there." || out.Choices[0].FinishReason != "stop" || out.Model != "gemini-2.5-flash" {
		t.Errorf("answer = %s", resp.Body)
	}

	call := s.Calls()[0]
	t.Run("URLAndKeyHeaderOnly", func(t *testing.T) {
		if call.Method != "POST" || call.Path != "/v1beta/models/gemini-2.5-flash:generateContent" || call.RawQuery != "" {
			t.Errorf("call = %s %s?%s", call.Method, call.Path, call.RawQuery)
		}
		if got := call.Header.Get("X-Goog-Api-Key"); got != testKey {
			t.Errorf("x-goog-api-key = %q", got)
		}
		allowed := []string{"X-Goog-Api-Key", "Content-Type", "Accept", "Accept-Encoding", "Content-Length", "User-Agent"}
		for name := range call.Header {
			if !slices.Contains(allowed, name) {
				t.Errorf("unexpected header %s sent upstream", name)
			}
		}
	})
	t.Run("BodyTranslated", func(t *testing.T) {
		jsonEqual(t, call.Body, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]},"generationConfig":{"maxOutputTokens":64}}`)
		if call.MaxOutputTokens != 64 {
			t.Errorf("maxOutputTokens = %d", call.MaxOutputTokens)
		}
	})
}

// TestKeyNeverInURL proves the key travels in the header only: the fake refuses any
// call with a key= query parameter, and a key pasted into the base URL is dropped.
func TestKeyNeverInURL(t *testing.T) {
	s, _ := newFake(t)
	c := New(Config{BaseURL: s.URL() + "?key=" + testKey, APIKey: testKey, HTTPClient: s.Client()})
	if _, err := c.Chat(context.Background(), chatReq(chatBody)); err != nil {
		t.Fatal(err)
	}
	st, err := c.ChatStream(context.Background(), chatReq(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, st)
	if _, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(`{"input":"x"}`), Model: "gemini-embedding-001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Models(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, call := range s.Calls() {
		if strings.Contains(call.Path+"?"+call.RawQuery, testKey) || strings.Contains(call.RawQuery, "key=") {
			t.Errorf("key in URL: %s?%s", call.Path, call.RawQuery)
		}
		if call.Header.Get("X-Goog-Api-Key") != testKey {
			t.Errorf("%s without the key header", call.Path)
		}
	}
	if n := len(s.Calls()); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		behavior  providertest.GeminiBehavior
		status    int
		code      string
		quota     bool
		retryable bool
		message   string
	}{
		{"InvalidKeyIsAuthFailure", providertest.GeminiBehavior{Error: providertest.GeminiInvalidKeyError()}, 401, "API_KEY_INVALID", false, true, "API key not valid"},
		{"MissingKey", providertest.GeminiBehavior{Error: providertest.GeminiMissingKeyError()}, 403, "PERMISSION_DENIED", false, true, "unregistered callers"},
		{"QuotaExhausted", providertest.GeminiBehavior{Error: providertest.GeminiQuotaError()}, 429, "RESOURCE_EXHAUSTED", true, true, "quota"},
		{"PerMinuteRateLimit", providertest.GeminiBehavior{Error: providertest.GeminiRateLimitError("21s")}, 429, "RESOURCE_EXHAUSTED", false, true, "quota"},
		{"Internal", providertest.GeminiBehavior{Error: providertest.GeminiServerError()}, 500, "INTERNAL", false, true, "internal error"},
		{"Overloaded", providertest.GeminiBehavior{Error: providertest.GeminiOverloadedError()}, 503, "UNAVAILABLE", false, true, "overloaded"},
		{"PaymentRequired", providertest.GeminiBehavior{Error: &providertest.GeminiError{HTTPStatus: 402, Status: "FAILED_PRECONDITION", Message: "pay"}}, 402, "FAILED_PRECONDITION", true, true, "pay"},
		{"BillingPrecondition", providertest.GeminiBehavior{Error: &providertest.GeminiError{HTTPStatus: 400, Status: "FAILED_PRECONDITION",
			Message: "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio."}}, 400, "FAILED_PRECONDITION", true, true, "enable billing"},
		{"BadRequest", providertest.GeminiBehavior{Error: providertest.GeminiBadRequest("* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.")}, 400, "INVALID_ARGUMENT", false, false, "must not be empty"},
		{"NotFound", providertest.GeminiBehavior{Error: &providertest.GeminiError{HTTPStatus: 404, Status: "NOT_FOUND",
			Message: "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent."}}, 404, "NOT_FOUND", false, false, "not found"},
		{"ErrorInside200", providertest.GeminiBehavior{RawBody: `{"error":{"code":500,"message":"backend hiccup","status":"INTERNAL"}}`}, 0, "INTERNAL", false, true, "backend hiccup"},
		{"NotJSON200", providertest.GeminiBehavior{RawBody: `<html>gateway</html>`}, 0, "invalid_response", false, true, "not valid JSON"},
		{"TruncatedBody", providertest.GeminiBehavior{Fault: providertest.FaultMalformed}, 0, "invalid_response", false, true, "not valid JSON"},
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
					_, err = c.ChatStream(context.Background(), chatReq(chatBody))
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
	t.Run("WrongKeyAgainstFake", func(t *testing.T) {
		s.SetBehavior(providertest.GeminiBehavior{})
		bad := New(Config{BaseURL: s.URL(), APIKey: "wrong", HTTPClient: s.Client()})
		_, err := bad.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 401 || ue.Code != "API_KEY_INVALID" {
			t.Errorf("got %+v", ue)
		}
		none := New(Config{BaseURL: s.URL(), HTTPClient: s.Client()})
		_, err = none.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 403 {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("UntranslatableRequestMakesNoCall", func(t *testing.T) {
		s.Reset()
		_, err := c.Chat(context.Background(), chatReq(`{"messages":[{"role":"system","content":"x"}]}`))
		if ue := upstreamError(t, err); ue.Status != 400 || ue.Retryable() {
			t.Errorf("got %+v", ue)
		}
		_, err = c.ChatStream(context.Background(), chatReq(`{"messages":[{"role":"oracle","content":"x"}]}`))
		if ue := upstreamError(t, err); ue.Status != 400 {
			t.Errorf("got %+v", ue)
		}
		if s.CallCount() != 0 {
			t.Errorf("%d calls made", s.CallCount())
		}
	})
}

// TestErrorBodies covers error shapes, including the ones Google's front end sends
// outside the API's own format.
func TestErrorBodies(t *testing.T) {
	tests := []struct {
		name      string
		in        int // the HTTP status the body came with
		body      string
		status    int // the UpstreamError's
		code, msg string
		quota     bool
	}{
		{"Google", 400, `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, 400, "INVALID_ARGUMENT", "bad", false},
		{"ArrayWrapped", 429, `[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]`, 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", true},
		{"NoStatus", 503, `{"error":{"code":503,"message":"down"}}`, 503, "503", "down", false},
		{"StringError", 502, `{"error":"nope"}`, 502, "", "nope", false},
		{"HTML", 502, `<html><body>502 Bad Gateway</body></html>`, 502, "", "<html><body>502 Bad Gateway</body></html>", false},
		{"Empty", 502, ``, 502, "", "Bad Gateway", false},
		{"KeyMessageWithoutDetails", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`, 401, "API_KEY_INVALID", "API key not valid. Please pass a valid API key.", false},
		{"PerMinuteByMessage", 429, `{"error":{"code":429,"message":"Quota exceeded for requests per minute.","status":"RESOURCE_EXHAUSTED"}}`, 429, "RESOURCE_EXHAUSTED", "Quota exceeded for requests per minute.", false},
	}
	c := New(Config{APIKey: testKey})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ue := c.errorFromBody(tt.in, []byte(tt.body))
			if ue.Status != tt.status || ue.Code != tt.code || ue.Message != tt.msg || ue.Quota != tt.quota {
				t.Errorf("got %+v", ue)
			}
		})
	}
	t.Run("LongMessageTruncated", func(t *testing.T) {
		ue := c.errorFromBody(500, []byte(`{"error":{"message":"`+strings.Repeat("é", 1000)+`"}}`))
		if len(ue.Message) > maxMessageBytes || !strings.HasSuffix(ue.Message, "…") {
			t.Errorf("message of %d bytes", len(ue.Message))
		}
	})
	t.Run("APIKeyRedacted", func(t *testing.T) {
		ue := c.errorFromBody(400, []byte(`{"error":{"code":400,"message":"key `+testKey+` is bad","status":"`+testKey+`"}}`))
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
		c := New(Config{BaseURL: "http://" + addr + "/v1beta", APIKey: testKey})
		_, err = c.Chat(context.Background(), chatReq(chatBody))
		ue := upstreamError(t, err)
		if ue.Status != 0 || ue.Timeout || !ue.Retryable() || strings.Contains(ue.Error(), testKey) {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("DeadlineBeforeHeaders", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.GeminiBehavior{HeaderDelay: time.Minute})
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
	t.Run("CancelledIsContextError", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.GeminiBehavior{HeaderDelay: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		if _, err := c.Chat(ctx, chatReq(chatBody)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("ResponseTooLarge", func(t *testing.T) {
		s, _ := newFake(t)
		c := New(Config{BaseURL: s.URL(), APIKey: testKey, HTTPClient: s.Client(), MaxResponseBytes: 100})
		s.SetBehavior(providertest.GeminiBehavior{Text: strings.Repeat("x", 200)})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Code != "invalid_response" || !strings.Contains(ue.Message, "limit") {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("CutBody", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.GeminiBehavior{Fault: providertest.FaultCut})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 0 || !ue.Retryable() {
			t.Errorf("got %+v", ue)
		}
	})
	t.Run("BadBaseURLDoesNotEchoKey", func(t *testing.T) {
		_, err := New(Config{BaseURL: "http://bad host/" + testKey, APIKey: testKey}).Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); strings.Contains(ue.Error(), testKey) {
			t.Errorf("error leaks the key: %v", ue)
		}
	})
}

func TestDefaults(t *testing.T) {
	c := New(Config{})
	if c.baseURL != DefaultBaseURL || c.hc != defaultHTTPClient || c.maxResponse != DefaultMaxResponseBytes {
		t.Errorf("client = %+v", c)
	}
	if c := New(Config{BaseURL: "https://example.com/v1beta/#frag"}); c.baseURL != "https://example.com/v1beta" {
		t.Errorf("baseURL = %s", c.baseURL)
	}
}

func TestModels(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.GeminiBehavior{Models: []string{"gemini-2.5-pro", "gemini-embedding-001"}})
	ids, err := c.Models(context.Background())
	if err != nil || strings.Join(ids, ",") != "gemini-2.5-pro,gemini-embedding-001" {
		t.Fatalf("ids = %v, err = %v", ids, err)
	}
	if call := s.Calls()[0]; call.Method != "GET" || call.Path != "/v1beta/models" {
		t.Errorf("call = %+v", call)
	}
	t.Run("Pages", func(t *testing.T) {
		page := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			page++
			if page == 1 {
				if r.URL.Query().Get("pageToken") != "" {
					t.Errorf("first page asked with a token")
				}
				io.WriteString(w, `{"models":[{"name":"models/a"}],"nextPageToken":"p2"}`)
				return
			}
			if r.URL.Query().Get("pageToken") != "p2" {
				t.Errorf("second page token = %q", r.URL.Query().Get("pageToken"))
			}
			io.WriteString(w, `{"models":[{"name":"models/b"}]}`)
		}))
		defer srv.Close()
		ids, err := New(Config{BaseURL: srv.URL}).Models(context.Background())
		if err != nil || strings.Join(ids, ",") != "a,b" {
			t.Fatalf("ids = %v, err = %v", ids, err)
		}
	})
	t.Run("Error", func(t *testing.T) {
		s.SetBehavior(providertest.GeminiBehavior{Error: providertest.GeminiInvalidKeyError()})
		if _, err := c.Models(context.Background()); upstreamError(t, err).Status != 401 {
			t.Errorf("err = %v", err)
		}
	})
}

// TestEndToEndToolRoundTrip runs a tool call conversation through the fake, whose
// strict reading refuses any member Gemini does not know.
func TestEndToEndToolRoundTrip(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.GeminiBehavior{FunctionCalls: []providertest.GeminiFunctionCall{{Name: "get_weather", Args: `{"city": "Paris"}`}},
		ThoughtSignature: "c2lnLTE="})
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather.","strict":true,"parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"city":{"type":"string","format":"uri-reference"},"when":{"anyOf":[{"type":"string","format":"date-time"},{"type":"null"}]}},"required":["city"],"additionalProperties":false}}},{"type":"function","function":{"name":"noop","parameters":{"type":"object","properties":{}}}}]`
	first := `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Weather in Paris?"}],` + tools + `,"tool_choice":"auto"}`
	resp, err := c.Chat(context.Background(), chatReq(first))
	if err != nil {
		t.Fatal(err)
	}
	out := decodeCompletion(t, resp.Body)
	tc := out.Choices[0].Message.ToolCalls
	if len(tc) != 1 || tc[0].Function.Name != "get_weather" || out.Choices[0].FinishReason != "tool_calls" || tc[0].ExtraContent == nil {
		t.Fatalf("answer = %s", resp.Body)
	}
	s.SetBehavior(providertest.GeminiBehavior{Text: "It is sunny."})
	second := `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"` + tc[0].ID + `","type":"function","function":{"name":"get_weather","arguments":` + jsonQuote(tc[0].Function.Arguments) + `},"extra_content":{"google":{"thought_signature":"` + tc[0].ExtraContent.Google.ThoughtSignature + `"}}}]},` +
		`{"role":"tool","tool_call_id":"` + tc[0].ID + `","content":"sunny, 21C"}],` + tools + `}`
	resp, err = c.Chat(context.Background(), chatReq(second))
	if err != nil {
		t.Fatal(err)
	}
	if out := decodeCompletion(t, resp.Body); *out.Choices[0].Message.Content != "It is sunny." {
		t.Errorf("answer = %s", resp.Body)
	}
	jsonEqual(t, s.Calls()[1].Body, `{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]},`+
		`{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLTE="}]},`+
		`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"sunny, 21C"}}}]}],`+
		`"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather.","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"},"when":{"type":"STRING","format":"date-time","nullable":true}},"required":["city"]}},{"name":"noop"}]}]}`)
}

func jsonQuote(s string) string {
	b, _ := marshal(s)
	return string(b)
}

// TestRetryAfter: Google's RetryInfo delay on a per-minute 429 reaches the router.
func TestRetryAfter(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.GeminiBehavior{Error: providertest.GeminiRateLimitError("21s")})
	_, err := c.Chat(context.Background(), chatReq(chatBody))
	_, serr := c.ChatStream(context.Background(), chatReq(chatBody))
	for _, e := range []error{err, serr} {
		if got := upstreamError(t, e).RetryAfter; got != 21*time.Second {
			t.Errorf("RetryAfter %v, want 21s", got)
		}
	}
}

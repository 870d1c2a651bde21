package anthropic

import (
	"context"
	"encoding/json"
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

const testKey = "sk-ant-upstream-secret-0123456789"

func newFake(t *testing.T) (*providertest.AnthropicServer, *Client) {
	t.Helper()
	s := providertest.NewAnthropic()
	t.Cleanup(s.Close)
	s.RequireAPIKey(testKey)
	return s, New(Config{BaseURL: s.URL(), APIKey: testKey, HTTPClient: s.Client()})
}

func chatReq(body string) *providers.ChatRequest {
	return &providers.ChatRequest{Body: []byte(body), Model: "claude-sonnet-4-5"}
}

const chatBody = `{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":50,"stream_options":{"include_usage":true},"x_unknown":1}`

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

// openAICompletion is the part of the translated chat.completion the tests read.
type openAICompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role             string  `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent string  `json:"reasoning_content"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		TotalTokens         int64 `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func TestChat(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.AnthropicBehavior{Text: "Hi there.", InputTokens: 21, CacheCreationTokens: 188, CacheReadTokens: 2048, OutputTokens: 10})
	resp, err := c.Chat(context.Background(), chatReq(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("UsageIncludesTheCache", func(t *testing.T) {
		want := providers.Usage{InputTokens: 21 + 188 + 2048, CachedInputTokens: 2048, CacheWriteTokens: 188, OutputTokens: 10}
		if resp.Usage == nil || *resp.Usage != want {
			t.Errorf("usage = %+v, want %+v", resp.Usage, want)
		}
		got := decode[openAICompletion](t, resp.Body)
		if u := got.Usage; u.PromptTokens != 2257 || u.PromptTokensDetails.CachedTokens != 2048 || u.CompletionTokens != 10 || u.TotalTokens != 2267 {
			t.Errorf("OpenAI usage = %+v", u)
		}
	})
	t.Run("OpenAIShape", func(t *testing.T) {
		got := decode[openAICompletion](t, resp.Body)
		if got.Object != "chat.completion" || !strings.HasPrefix(got.ID, "msg_") || got.Created == 0 || got.Model != "claude-sonnet-4-5" ||
			len(got.Choices) != 1 || *got.Choices[0].Message.Content != "Hi there." || got.Choices[0].FinishReason != "stop" ||
			got.Choices[0].Message.Role != "assistant" {
			t.Errorf("answer = %s", resp.Body)
		}
	})
	call := s.Calls()[0]
	t.Run("OnlyOwnHeaders", func(t *testing.T) {
		if got := call.Header.Get("X-Api-Key"); got != testKey {
			t.Errorf("x-api-key = %q", got)
		}
		if got := call.Header.Get("Anthropic-Version"); got != DefaultVersion {
			t.Errorf("anthropic-version = %q", got)
		}
		allowed := []string{"X-Api-Key", "Anthropic-Version", "Content-Type", "Accept", "Accept-Encoding", "Content-Length", "User-Agent"}
		for name := range call.Header {
			if !slices.Contains(allowed, name) {
				t.Errorf("unexpected header %s sent upstream", name)
			}
		}
	})
	t.Run("TranslatedBody", func(t *testing.T) {
		want := `{"model":"claude-sonnet-4-5","max_tokens":50,"system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`
		if string(call.Body) != want || call.Path != "/v1/messages" {
			t.Errorf("upstream got %s %s\nwant %s", call.Path, call.Body, want)
		}
	})
}

func TestChatBlocks(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.AnthropicBehavior{Thinking: "Weather needs a tool.", Text: "Let me check.",
		ToolUse: &providertest.AnthropicToolUse{ID: "toolu_9", Name: "get_weather", Input: `{"city": "Paris"}`}})
	resp, err := c.Chat(context.Background(), chatReq(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	got := decode[openAICompletion](t, resp.Body)
	m := got.Choices[0].Message
	if *m.Content != "Let me check." || m.ReasoningContent != "Weather needs a tool." || got.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("message = %s", resp.Body)
	}
	if len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "toolu_9" || m.ToolCalls[0].Type != "function" ||
		m.ToolCalls[0].Function.Name != "get_weather" || m.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool calls = %+v", m.ToolCalls)
	}
}

func TestChatErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       *providertest.AnthropicError
		status    int
		code      string
		quota     bool
		timeout   bool
		retryable bool
	}{
		{"InvalidRequest", providertest.AnthropicInvalidRequestError("messages: roles must alternate"), 400, "invalid_request_error", false, false, false},
		{"CreditBalance", providertest.AnthropicCreditBalanceError(), 400, "invalid_request_error", true, false, true},
		{"SpendLimit", providertest.AnthropicInvalidRequestError("You have reached your specified API usage limits. You will regain access on 2025-12-01."), 400, "invalid_request_error", true, false, true},
		{"BillingError", providertest.AnthropicBillingError(), 402, "billing_error", true, false, true},
		{"Authentication", &providertest.AnthropicError{Status: 401, Type: "authentication_error", Message: "invalid x-api-key"}, 401, "authentication_error", false, false, true},
		{"Permission", providertest.AnthropicPermissionError(), 403, "permission_error", false, false, true},
		{"NotFound", providertest.AnthropicNotFoundError("model: claude-nope"), 404, "not_found_error", false, false, false},
		{"RequestTooLarge", providertest.AnthropicRequestTooLargeError(), 413, "request_too_large", false, false, false},
		{"RateLimit", providertest.AnthropicRateLimitError("30"), 429, "rate_limit_error", false, false, true},
		{"APIError", providertest.AnthropicServerError(), 500, "api_error", false, false, true},
		{"Timeout", &providertest.AnthropicError{Status: 504, Type: "timeout_error", Message: "Request timed out"}, 504, "timeout_error", false, true, true},
		{"Overloaded", providertest.AnthropicOverloadedError(), 529, "overloaded_error", false, false, true},
	}
	s, c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(providertest.AnthropicBehavior{Error: tt.err})
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = c.ChatStream(context.Background(), chatReq(chatBody))
				} else {
					_, err = c.Chat(context.Background(), chatReq(chatBody))
				}
				ue := upstreamError(t, err)
				if ue.Status != tt.status || ue.Code != tt.code || ue.Quota != tt.quota || ue.Timeout != tt.timeout ||
					ue.Retryable() != tt.retryable || ue.Message != tt.err.Message {
					t.Errorf("stream=%v: %+v (retryable %v)", stream, ue, ue.Retryable())
				}
			}
		})
	}
}

func TestChatBrokenAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		code   string
		check  func(*testing.T, *providers.UpstreamError)
	}{
		{name: "NotJSON", status: 200, ctype: "application/json", body: `<html>`, code: "invalid_response"},
		{name: "ErrorBodyWith200", status: 200, ctype: "application/json", body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, code: "overloaded_error",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Status != 529 || !ue.Retryable() {
					t.Errorf("%+v", ue)
				}
			}},
		{name: "ProxyErrorInOpenAIShape", status: 402, ctype: "application/json", body: `{"error":{"message":"Insufficient balance","type":"insufficient_quota"}}`, code: "insufficient_quota",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if !ue.Quota || ue.Message != "Insufficient balance" {
					t.Errorf("%+v", ue)
				}
			}},
		{name: "PlainTextError", status: 502, ctype: "text/plain", body: "bad gateway\n", code: "",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if ue.Message != "bad gateway" || ue.Status != 502 {
					t.Errorf("%+v", ue)
				}
			}},
		{name: "KeyEchoedInError", status: 401, ctype: "application/json", body: `{"type":"error","error":{"type":"authentication_error","message":"key ` + testKey + ` is invalid"}}`, code: "authentication_error",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if strings.Contains(ue.Error(), testKey) || !strings.Contains(ue.Message, "[REDACTED]") {
					t.Errorf("key not redacted: %v", ue)
				}
			}},
		{name: "LongMessageTruncated", status: 400, ctype: "application/json", body: `{"type":"error","error":{"type":"invalid_request_error","message":"` + strings.Repeat("é", 600) + `"}}`, code: "invalid_request_error",
			check: func(t *testing.T, ue *providers.UpstreamError) {
				if len(ue.Message) > maxMessageBytes || !strings.HasSuffix(ue.Message, "…") {
					t.Errorf("message of %d bytes", len(ue.Message))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := New(Config{BaseURL: srv.URL, APIKey: testKey})
			_, err := c.Chat(context.Background(), chatReq(chatBody))
			ue := upstreamError(t, err)
			if ue.Code != tt.code {
				t.Errorf("code = %q, want %q (%v)", ue.Code, tt.code, ue)
			}
			if tt.check != nil {
				tt.check(t, ue)
			}
		})
	}
	t.Run("TooLarge", func(t *testing.T) {
		s, _ := newFake(t)
		s.SetBehavior(providertest.AnthropicBehavior{Text: strings.Repeat("x", 2000)})
		c := New(Config{BaseURL: s.URL(), APIKey: testKey, HTTPClient: s.Client(), MaxResponseBytes: 1000})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Code != "invalid_response" {
			t.Errorf("%+v", ue)
		}
	})
	t.Run("CutBody", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.AnthropicBehavior{Fault: providertest.FaultCut})
		_, err := c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 0 || !ue.Retryable() {
			t.Errorf("%+v", ue)
		}
	})
}

func TestChatTransport(t *testing.T) {
	t.Run("Unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := New(Config{BaseURL: "http://" + addr + "/v1", APIKey: testKey})
		_, err = c.Chat(context.Background(), chatReq(chatBody))
		if ue := upstreamError(t, err); ue.Status != 0 || ue.Timeout || !ue.Retryable() {
			t.Errorf("%+v", ue)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.AnthropicBehavior{HeaderDelay: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := c.Chat(ctx, chatReq(chatBody))
		if ue := upstreamError(t, err); !ue.Timeout {
			t.Errorf("%+v", ue)
		}
	})
	t.Run("ClientGone", func(t *testing.T) {
		s, c := newFake(t)
		s.SetBehavior(providertest.AnthropicBehavior{HeaderDelay: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := c.Chat(ctx, chatReq(chatBody)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		c := New(Config{})
		if c.baseURL != DefaultBaseURL || c.version != DefaultVersion || c.maxResponse != DefaultMaxResponseBytes || c.hc == nil {
			t.Errorf("%+v", c)
		}
		c = New(Config{BaseURL: "https://proxy.example/v1/", Version: "2099-01-01"})
		if c.baseURL != "https://proxy.example/v1" || c.version != "2099-01-01" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("UntranslatableRequestMakesNoCall", func(t *testing.T) {
		s, c := newFake(t)
		_, err := c.Chat(context.Background(), chatReq(`{"model":"m","n":3,"messages":[{"role":"user","content":"hi"}]}`))
		if ue := upstreamError(t, err); ue.Status != 400 || ue.Retryable() || !strings.Contains(ue.Message, "n=3") {
			t.Errorf("%+v", ue)
		}
		if s.CallCount() != 0 {
			t.Errorf("%d upstream calls", s.CallCount())
		}
	})
}

// TestRetryAfter: Anthropic's retry-after on a 429 reaches the router.
func TestRetryAfter(t *testing.T) {
	s, c := newFake(t)
	s.SetBehavior(providertest.AnthropicBehavior{Error: providertest.AnthropicRateLimitError("30")})
	_, err := c.Chat(context.Background(), chatReq(chatBody))
	_, serr := c.ChatStream(context.Background(), chatReq(chatBody))
	for _, e := range []error{err, serr} {
		if got := upstreamError(t, e).RetryAfter; got != 30*time.Second {
			t.Errorf("RetryAfter %v, want 30s", got)
		}
	}
}

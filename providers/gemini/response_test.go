package gemini

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
)

// openAICompletion is the part of a chat.completion the tests read.
type openAICompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
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
				ExtraContent *struct {
					Google struct {
						ThoughtSignature string `json:"thought_signature"`
					} `json:"google"`
				} `json:"extra_content"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		TotalTokens         int64 `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

func decodeCompletion(t *testing.T, body []byte) openAICompletion {
	t.Helper()
	var c openAICompletion
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return c
}

func render(t *testing.T, gemini string) (openAICompletion, *providers.Usage) {
	t.Helper()
	var r genResponse
	if err := json.Unmarshal([]byte(gemini), &r); err != nil {
		t.Fatal(err)
	}
	body, u := completion(&r, "gemini-x")
	return decodeCompletion(t, body), u
}

// TestUsageMapping holds the gateway's reading of Gemini's counts: prompt (cached
// included) is input, candidates plus thoughts is output.
func TestUsageMapping(t *testing.T) {
	tests := []struct {
		name, usage string
		want        providers.Usage
	}{
		{"Plain", `{"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15}`,
			providers.Usage{InputTokens: 10, OutputTokens: 5}},
		{"Cached", `{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":5,"totalTokenCount":1005}`,
			providers.Usage{InputTokens: 1000, CachedInputTokens: 800, OutputTokens: 5}},
		{"Thoughts", `{"promptTokenCount":4,"candidatesTokenCount":49,"thoughtsTokenCount":2042,"totalTokenCount":2095}`,
			providers.Usage{InputTokens: 4, OutputTokens: 2091, ReasoningTokens: 2042}},
		{"All", `{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":7,"thoughtsTokenCount":3,"toolUsePromptTokenCount":9,"totalTokenCount":119,"promptTokensDetails":[{"modality":"TEXT","tokenCount":100}]}`,
			providers.Usage{InputTokens: 100, CachedInputTokens: 60, OutputTokens: 10, ReasoningTokens: 3}},
		{"PromptOnly", `{"promptTokenCount":11,"totalTokenCount":11}`,
			providers.Usage{InputTokens: 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, u := render(t, `{"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":`+tt.usage+`}`)
			if u == nil || *u != tt.want {
				t.Fatalf("usage = %+v, want %+v", u, tt.want)
			}
			ou := c.Usage
			if ou == nil || ou.PromptTokens != tt.want.InputTokens || ou.CompletionTokens != tt.want.OutputTokens ||
				ou.TotalTokens != tt.want.InputTokens+tt.want.OutputTokens || ou.PromptTokensDetails.CachedTokens != tt.want.CachedInputTokens ||
				ou.CompletionTokensDetails.ReasoningTokens != tt.want.ReasoningTokens {
				t.Errorf("OpenAI usage = %+v", ou)
			}
		})
	}
	t.Run("Absent", func(t *testing.T) {
		c, u := render(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]}`)
		if u != nil || c.Usage != nil {
			t.Errorf("usage = %+v / %+v, want none", u, c.Usage)
		}
	})
}

func TestFinishReasons(t *testing.T) {
	for reason, want := range map[string]string{
		"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
		"BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
		"IMAGE_SAFETY": "content_filter", "LANGUAGE": "stop", "OTHER": "stop", "MALFORMED_FUNCTION_CALL": "stop",
		"FINISH_REASON_UNSPECIFIED": "stop", "SOMETHING_NEW": "stop",
	} {
		c, _ := render(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"`+reason+`"}]}`)
		if got := c.Choices[0].FinishReason; got != want {
			t.Errorf("%s → %q, want %q", reason, got, want)
		}
	}
	for reason, want := range map[string]string{"STOP": "tool_calls", "MAX_TOKENS": "length", "SAFETY": "content_filter"} {
		c, _ := render(t, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"finishReason":"`+reason+`"}]}`)
		if got := c.Choices[0].FinishReason; got != want {
			t.Errorf("%s with a call → %q, want %q", reason, got, want)
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Run("TextThoughtsAndCalls", func(t *testing.T) {
		c, _ := render(t, `{"candidates":[{"content":{"role":"model","parts":[
			{"text":"Let me think.","thought":true},{"text":"Checking "},{"text":"both."},
			{"functionCall":{"name":"weather","args":{"city":"Paris","days":[1, 2]}},"thoughtSignature":"c2ln"},
			{"functionCall":{"id":"gem-1","name":"time"}}]},"finishReason":"STOP","index":0}],
			"modelVersion":"gemini-2.5-flash-001","responseId":"abc"}`)
		if c.ID != "chatcmpl-abc" || c.Object != "chat.completion" || c.Model != "gemini-2.5-flash-001" || len(c.Choices) != 1 {
			t.Fatalf("completion = %+v", c)
		}
		m := c.Choices[0].Message
		if m.Role != "assistant" || m.Content == nil || *m.Content != "Checking both." || m.ReasoningContent != "Let me think." {
			t.Errorf("message = %+v", m)
		}
		if len(m.ToolCalls) != 2 {
			t.Fatalf("tool calls = %+v", m.ToolCalls)
		}
		tc := m.ToolCalls[0]
		if tc.ID != "call_0" || tc.Type != "function" || tc.Function.Name != "weather" || tc.Function.Arguments != `{"city":"Paris","days":[1,2]}` ||
			tc.ExtraContent == nil || tc.ExtraContent.Google.ThoughtSignature != "c2ln" {
			t.Errorf("tool call 0 = %+v", tc)
		}
		if tc := m.ToolCalls[1]; tc.ID != "gem-1" || tc.Function.Arguments != "{}" || tc.ExtraContent != nil {
			t.Errorf("tool call 1 = %+v", tc)
		}
		if c.Choices[0].FinishReason != "tool_calls" {
			t.Errorf("finish = %s", c.Choices[0].FinishReason)
		}
	})
	t.Run("OnlyCallsHasNullContent", func(t *testing.T) {
		c, _ := render(t, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"}]}`)
		if c.Choices[0].Message.Content != nil {
			t.Errorf("content = %q, want null", *c.Choices[0].Message.Content)
		}
	})
	t.Run("SeveralCandidatesInIndexOrder", func(t *testing.T) {
		c, _ := render(t, `{"candidates":[{"content":{"parts":[{"text":"B"}]},"finishReason":"STOP","index":1},{"content":{"parts":[{"text":"A"}]},"finishReason":"MAX_TOKENS"}]}`)
		if len(c.Choices) != 2 || c.Choices[0].Index != 0 || *c.Choices[0].Message.Content != "A" || c.Choices[0].FinishReason != "length" ||
			c.Choices[1].Index != 1 || *c.Choices[1].Message.Content != "B" {
			t.Errorf("choices = %+v", c.Choices)
		}
	})
	t.Run("SafetyWithoutContent", func(t *testing.T) {
		c, _ := render(t, `{"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]}]}`)
		if m := c.Choices[0].Message; m.Content == nil || *m.Content != "" || c.Choices[0].FinishReason != "content_filter" {
			t.Errorf("choice = %+v", c.Choices[0])
		}
	})
	t.Run("PromptBlocked", func(t *testing.T) {
		c, u := render(t, `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}}`)
		if len(c.Choices) != 1 || c.Choices[0].FinishReason != "content_filter" || u == nil || *u != (providers.Usage{InputTokens: 9}) {
			t.Errorf("completion = %+v, usage %+v", c, u)
		}
	})
	t.Run("NoCandidatesAtAll", func(t *testing.T) {
		c, _ := render(t, `{"usageMetadata":{"promptTokenCount":3}}`)
		if c.Choices == nil || len(c.Choices) != 0 {
			t.Errorf("choices = %+v, want []", c.Choices)
		}
	})
	t.Run("RandomIDWithoutResponseID", func(t *testing.T) {
		a, _ := render(t, `{"candidates":[]}`)
		b, _ := render(t, `{"candidates":[]}`)
		if !strings.HasPrefix(a.ID, "chatcmpl-") || a.ID == b.ID || a.Model != "gemini-x" {
			t.Errorf("ids %q %q, model %q", a.ID, b.ID, a.Model)
		}
	})
}

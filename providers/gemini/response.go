package gemini

import (
	"crypto/rand"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// genResponse is Gemini's GenerateContentResponse: a complete answer, or one event of
// a stream.
type genResponse struct {
	Candidates     []candidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *usageMetadata  `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"`
}

type candidate struct {
	Content      *content `json:"content"`
	FinishReason string   `json:"finishReason"`
	Index        int      `json:"index"` // absent means 0, as proto3 JSON leaves zeros out
}

// usageMetadata is Gemini's token report. promptTokenCount already includes
// cachedContentTokenCount; candidatesTokenCount excludes thoughtsTokenCount.
type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
}

// toUsage maps Gemini's counts to the gateway's, which follow OpenAI: the prompt
// (cached tokens included) is input, and output includes the thinking tokens, which
// Gemini bills as output but reports apart from the candidates.
func (u *usageMetadata) toUsage() *providers.Usage {
	return &providers.Usage{
		InputTokens:       u.PromptTokenCount,
		CachedInputTokens: u.CachedContentTokenCount,
		OutputTokens:      u.CandidatesTokenCount + u.ThoughtsTokenCount,
		ReasoningTokens:   u.ThoughtsTokenCount,
	}
}

// finishReason maps Gemini's finish reason to OpenAI's. A candidate that ended
// normally after calling functions finished with "tool_calls"; every kind of block
// is "content_filter"; anything else (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL,
// reasons Gemini adds later) is "stop".
func finishReason(reason string, calledTools bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if calledTools {
		return "tool_calls"
	}
	return "stop"
}

// chatCompletion is the chat.completion the client receives.
type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []choiceJSON `json:"choices"`
	Usage   *usageJSON   `json:"usage,omitempty"`
}

type choiceJSON struct {
	Index        int         `json:"index"`
	Message      messageJSON `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type messageJSON struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
	Refusal          *string        `json:"refusal"`
}

type toolCallJSON struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
	ExtraContent *extraContent `json:"extra_content,omitempty"`
}

type usageJSON struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func openAIUsage(u *providers.Usage) *usageJSON {
	out := &usageJSON{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
	out.PromptTokensDetails.CachedTokens = u.CachedInputTokens
	out.CompletionTokensDetails.ReasoningTokens = u.ReasoningTokens
	return out
}

// completion renders a complete Gemini answer as a chat.completion and returns the
// usage Gemini reported (nil when it reported none).
func completion(r *genResponse, model string) ([]byte, *providers.Usage) {
	out := chatCompletion{ID: completionID(r.ResponseID), Object: "chat.completion", Created: time.Now().Unix(),
		Model: cmpOr(r.ModelVersion, model), Choices: []choiceJSON{}}
	calls := 0
	for i := range r.Candidates {
		cand := &r.Candidates[i]
		idx := cand.Index
		var text, reasoning strings.Builder
		msg := messageJSON{Role: "assistant"}
		for _, p := range candidateParts(cand) {
			switch {
			case p.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, toolCall(&p, &calls))
			case p.Thought:
				reasoning.WriteString(p.Text)
			default:
				text.WriteString(p.Text)
			}
		}
		if text.Len() > 0 || len(msg.ToolCalls) == 0 {
			s := text.String()
			msg.Content = &s
		}
		msg.ReasoningContent = reasoning.String()
		out.Choices = append(out.Choices, choiceJSON{Index: idx, Message: msg,
			FinishReason: finishReason(cand.FinishReason, len(msg.ToolCalls) > 0)})
	}
	if len(out.Choices) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		empty := ""
		out.Choices = append(out.Choices, choiceJSON{Message: messageJSON{Role: "assistant", Content: &empty},
			FinishReason: "content_filter"})
	}
	slices.SortStableFunc(out.Choices, func(a, b choiceJSON) int { return a.Index - b.Index })
	var usage *providers.Usage
	if r.UsageMetadata != nil {
		usage = r.UsageMetadata.toUsage()
		out.Usage = openAIUsage(usage)
	}
	body, _ := marshal(&out) // plain structs: cannot fail
	return body, usage
}

func candidateParts(c *candidate) []part {
	if c.Content == nil {
		return nil
	}
	return c.Content.Parts
}

// toolCall renders a functionCall part as an OpenAI tool call. Gemini's own call id
// is kept when it sends one; otherwise ids are "call_<n>", numbered through the
// answer, so every chunk of a stream names a call the same way.
func toolCall(p *part, n *int) toolCallJSON {
	fc := p.FunctionCall
	tc := toolCallJSON{ID: fc.ID, Type: "function"}
	if tc.ID == "" {
		tc.ID = "call_" + strconv.Itoa(*n)
	}
	*n++
	tc.Function.Name = fc.Name
	tc.Function.Arguments = "{}"
	if len(fc.Args) > 0 && string(fc.Args) != "null" {
		tc.Function.Arguments = string(compact(fc.Args))
	}
	if p.ThoughtSignature != "" {
		tc.ExtraContent = &extraContent{}
		tc.ExtraContent.Google = &struct {
			ThoughtSignature string `json:"thought_signature,omitempty"`
		}{ThoughtSignature: p.ThoughtSignature}
	}
	return tc
}

// completionID names an answer after Gemini's response id, or a random one.
func completionID(responseID string) string {
	if responseID == "" {
		responseID = rand.Text()
	}
	return "chatcmpl-" + responseID
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

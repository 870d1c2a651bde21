package anthropic

import (
	"os"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
)

func TestCompletionFromMessage(t *testing.T) {
	c := New(Config{APIKey: testKey})
	const head = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",`
	tests := []struct {
		name    string
		message string
		content *string // nil: null
		reason  string
		tools   []string // name + arguments of each tool call
		think   string
		usage   *providers.Usage
	}{
		{name: "Text", message: head + `"content":[{"type":"text","text":"Hi."}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}`,
			content: ptr("Hi."), reason: "stop", usage: &providers.Usage{InputTokens: 5, OutputTokens: 2}},
		{name: "TextBlocksJoined", message: head + `"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"stop_reason":"stop_sequence"}`,
			content: ptr("ab"), reason: "stop"},
		{name: "MaxTokens", message: head + `"content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens"}`,
			content: ptr("cut"), reason: "length"},
		{name: "Refusal", message: head + `"content":[],"stop_reason":"refusal"}`,
			content: ptr(""), reason: "content_filter"},
		{name: "PauseTurn", message: head + `"content":[{"type":"text","text":"x"}],"stop_reason":"pause_turn"}`,
			content: ptr("x"), reason: "stop"},
		{name: "UnknownStopReason", message: head + `"content":[{"type":"text","text":"x"}],"stop_reason":"something_new"}`,
			content: ptr("x"), reason: "stop"},
		{name: "ToolUseOnly", message: head + `"content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{ "a" : [1, 2] }},{"type":"tool_use","id":"toolu_2","name":"g","input":{}}],"stop_reason":"tool_use"}`,
			content: nil, reason: "tool_calls", tools: []string{`f{"a":[1,2]}`, `g{}`}},
		{name: "Thinking", message: head + `"content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"xx"},{"type":"text","text":"42"}],"stop_reason":"end_turn"}`,
			content: ptr("42"), reason: "stop", think: "hmm"},
		{name: "ServerToolBlocksSkipped", message: head + `"content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},{"type":"text","text":"found"}],"stop_reason":"end_turn"}`,
			content: ptr("found"), reason: "stop"},
		{name: "CacheUsage", message: head + `"content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"cache_creation_input_tokens":100,"cache_read_input_tokens":900,"cache_creation":{"ephemeral_5m_input_tokens":100},"output_tokens":7,"service_tier":"standard"}}`,
			content: ptr("x"), reason: "stop", usage: &providers.Usage{InputTokens: 1003, CachedInputTokens: 900, CacheWriteTokens: 100, OutputTokens: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, u, err := c.completionFromMessage([]byte(tt.message))
			if err != nil {
				t.Fatal(err)
			}
			got := decode[openAICompletion](t, body)
			ch := got.Choices[0]
			if (ch.Message.Content == nil) != (tt.content == nil) || (tt.content != nil && *ch.Message.Content != *tt.content) {
				t.Errorf("content = %v, want %v (%s)", ch.Message.Content, tt.content, body)
			}
			if ch.FinishReason != tt.reason || ch.Message.ReasoningContent != tt.think || got.ID != "msg_1" || got.Model != "claude-x" {
				t.Errorf("answer = %s", body)
			}
			var tools []string
			for _, tc := range ch.Message.ToolCalls {
				tools = append(tools, tc.Function.Name+tc.Function.Arguments)
			}
			if len(tools) != len(tt.tools) || (len(tools) > 0 && tools[0] != tt.tools[0]) || (len(tools) > 1 && tools[1] != tt.tools[1]) {
				t.Errorf("tool calls = %v, want %v", tools, tt.tools)
			}
			switch {
			case tt.usage == nil && u != nil:
				t.Errorf("usage = %+v, want none", u)
			case tt.usage != nil && (u == nil || *u != *tt.usage):
				t.Errorf("usage = %+v, want %+v", u, tt.usage)
			case tt.usage != nil && (got.Usage.PromptTokens != tt.usage.InputTokens || got.Usage.PromptTokensDetails.CachedTokens != tt.usage.CachedInputTokens):
				t.Errorf("OpenAI usage = %+v", got.Usage)
			}
		})
	}
}

func TestCompletionFromCapture(t *testing.T) {
	capture, err := os.ReadFile("../providertest/testdata/anthropic/message.json")
	if err != nil {
		t.Fatal(err)
	}
	body, u, err := New(Config{}).completionFromMessage(capture)
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Usage{InputTokens: 21 + 188 + 2048, CachedInputTokens: 2048, CacheWriteTokens: 188, OutputTokens: 10}
	if u == nil || *u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
	if got := decode[openAICompletion](t, body); *got.Choices[0].Message.Content != "The capital of France is Paris." || got.Usage.PromptTokens != 2257 {
		t.Errorf("answer = %s", body)
	}
}

func ptr[T any](v T) *T { return &v }

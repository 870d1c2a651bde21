package providertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// anthropicRequest is a Messages (or count_tokens) request as the fake reads it.
// Every member Anthropic accepts is listed so that any other one is refused, as
// Anthropic refuses it: a translation that leaks an OpenAI member fails its tests.
type anthropicRequest struct {
	Model         string             `json:"model"`
	MaxTokens     *int               `json:"max_tokens"`
	Messages      []anthropicMessage `json:"messages"`
	System        json.RawMessage    `json:"system"`
	Stream        bool               `json:"stream"`
	Temperature   *float64           `json:"temperature"`
	TopP          *float64           `json:"top_p"`
	TopK          *int               `json:"top_k"`
	StopSequences []string           `json:"stop_sequences"`
	// Tools are read one by one: Anthropic's own tools have members of their own.
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
	Metadata *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	Thinking          json.RawMessage `json:"thinking"`
	ServiceTier       string          `json:"service_tier"`
	Container         json.RawMessage `json:"container"`
	MCPServers        json.RawMessage `json:"mcp_servers"`
	ContextManagement json.RawMessage `json:"context_management"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anthropicBlock struct {
	Type   string  `json:"type"`
	Text   *string `json:"text"`
	Source *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
		FileID    string `json:"file_id"`
	} `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
}

func (req *anthropicRequest) maxTokens() int {
	if req.MaxTokens == nil {
		return 0
	}
	return *req.MaxTokens
}

// parse reads body and returns the 400 Anthropic would send for it, if any. A
// count_tokens request (messages false) needs no max_tokens.
func (req *anthropicRequest) parse(body []byte, messages bool) *AnthropicError {
	bad := func(format string, args ...any) *AnthropicError {
		return AnthropicInvalidRequestError(fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return bad("%s: Input should be a valid %s", typeErr.Field, typeErr.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return bad("%s: Extra inputs are not permitted", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		}
		return bad("There was an error parsing the body of your request: %v", err)
	}
	switch {
	case req.Model == "":
		return bad("model: Field required")
	case messages && req.MaxTokens == nil:
		return bad("max_tokens: Field required")
	case messages && *req.MaxTokens < 1:
		return bad("max_tokens: Input should be greater than or equal to 1")
	case len(req.Messages) == 0:
		return bad("messages: Field required")
	case req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 1):
		return bad("temperature: range: 0..1")
	case req.ToolChoice != nil && len(req.Tools) == 0:
		return bad("tool_choice: tool_choice may only be specified while providing tools")
	}
	if e := checkSystem(req.System); e != nil {
		return e
	}
	for i, raw := range req.Tools {
		var t struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		}
		if json.Unmarshal(raw, &t) != nil || ((t.Type == "" || t.Type == "custom") && (t.Name == "" || len(t.InputSchema) == 0)) {
			return bad("tools.%d: a custom tool needs name and input_schema", i)
		}
	}
	var pendingToolUse []string // tool_use ids of the previous assistant message
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return bad("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		blocks, e := contentBlocks(m.Content, i)
		if e != nil {
			return e
		}
		var results, uses []string
		for j, b := range blocks {
			if e := checkBlock(&b, i, j, m.Role); e != nil {
				return e
			}
			switch b.Type {
			case "tool_use":
				uses = append(uses, b.ID)
			case "tool_result":
				results = append(results, b.ToolUseID)
			}
		}
		for _, id := range results {
			if !slices.Contains(pendingToolUse, id) {
				return bad("messages.%d.content: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, id)
			}
		}
		for _, id := range pendingToolUse {
			if !slices.Contains(results, id) {
				return bad("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, id)
			}
		}
		pendingToolUse = uses
	}
	return nil
}

func checkSystem(raw json.RawMessage) *AnthropicError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '"' || string(raw) == "null" {
		return nil
	}
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return AnthropicInvalidRequestError("system: Input should be a valid string or list of text blocks")
	}
	for i, b := range blocks {
		if b.Type != "text" || b.Text == nil || *b.Text == "" {
			return AnthropicInvalidRequestError(fmt.Sprintf("system.%d: system blocks must be non-empty text blocks", i))
		}
	}
	return nil
}

// contentBlocks reads a message's content: a non-empty string or a list of blocks.
func contentBlocks(raw json.RawMessage, i int) ([]anthropicBlock, *AnthropicError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return nil, AnthropicInvalidRequestError(fmt.Sprintf("messages.%d: text content blocks must be non-empty", i))
		}
		return nil, nil
	}
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return nil, AnthropicInvalidRequestError(fmt.Sprintf("messages.%d.content: Input should be a valid list", i))
	}
	if len(blocks) == 0 {
		return nil, AnthropicInvalidRequestError(fmt.Sprintf("messages.%d: all messages must have non-empty content", i))
	}
	return blocks, nil
}

var anthropicImageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// checkBlock returns the 400 for a content block Anthropic would refuse.
func checkBlock(b *anthropicBlock, i, j int, role string) *AnthropicError {
	at := fmt.Sprintf("messages.%d.content.%d", i, j)
	bad := func(msg string) *AnthropicError { return AnthropicInvalidRequestError(at + ": " + msg) }
	switch b.Type {
	case "text":
		if b.Text == nil || *b.Text == "" {
			return bad("text content blocks must be non-empty")
		}
	case "image":
		s := b.Source
		switch {
		case s == nil:
			return bad("source: Field required")
		case s.Type == "base64" && (!slices.Contains(anthropicImageTypes, s.MediaType) || s.Data == ""):
			return bad("source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
		case s.Type == "url" && !strings.HasPrefix(s.URL, "http"):
			return bad("source.url: Input should be a valid URL")
		case s.Type != "base64" && s.Type != "url" && s.Type != "file":
			return bad("source.type: Input should be 'base64', 'url' or 'file'")
		}
	case "document":
		if b.Source == nil {
			return bad("source: Field required")
		}
	case "tool_use":
		if role != "assistant" {
			return bad("tool_use blocks may only appear in assistant messages")
		}
		in := bytes.TrimSpace(b.Input)
		if b.ID == "" || b.Name == "" || len(in) == 0 || in[0] != '{' {
			return bad("tool_use blocks need id, name and an input object")
		}
	case "tool_result":
		if role != "user" || b.ToolUseID == "" {
			return bad("tool_result blocks need tool_use_id and may only appear in user messages")
		}
	case "thinking", "redacted_thinking":
		if role != "assistant" {
			return bad("thinking blocks may only appear in assistant messages")
		}
	case "":
		return bad("type: Field required")
	}
	return nil
}

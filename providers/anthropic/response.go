package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// message is the part of an Anthropic message (a complete answer, or the message
// of message_start) the adapter reads.
type message struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Model      string          `json:"model"`
	Content    []contentBlock  `json:"content"`
	StopReason string          `json:"stop_reason"`
	Usage      *usageJSON      `json:"usage"`
	Error      json.RawMessage `json:"error"`
}

// contentBlock is a response content block of any type.
type contentBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
}

// finishReasons maps Anthropic's stop_reason to OpenAI's finish_reason. pause_turn
// (a server tool paused a long turn) ends this call like a normal stop; the client
// continues by sending the conversation again.
var finishReasons = map[string]string{
	"end_turn":      "stop",
	"stop_sequence": "stop",
	"pause_turn":    "stop",
	"max_tokens":    "length",
	"tool_use":      "tool_calls",
	"refusal":       "content_filter",
	// Newer reason for a context-window stop; the nearest OpenAI meaning is length.
	"model_context_window_exceeded": "length",
}

// finishReason maps a stop_reason; an unknown one (Anthropic may add more) is a stop.
func finishReason(stop string) string {
	if r, ok := finishReasons[stop]; ok {
		return r
	}
	return "stop"
}

// The OpenAI chat.completion the adapter answers with.
type (
	completion struct {
		ID      string             `json:"id"`
		Object  string             `json:"object"`
		Created int64              `json:"created"`
		Model   string             `json:"model"`
		Choices []completionChoice `json:"choices"`
		Usage   json.RawMessage    `json:"usage,omitempty"`
	}
	completionChoice struct {
		Index        int               `json:"index"`
		Message      completionMessage `json:"message"`
		Logprobs     *struct{}         `json:"logprobs"`
		FinishReason string            `json:"finish_reason"`
	}
	completionMessage struct {
		Role             string         `json:"role"`
		Content          *string        `json:"content"`
		ReasoningContent string         `json:"reasoning_content,omitempty"`
		ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
		Refusal          *string        `json:"refusal"`
	}
	toolCallJSON struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
)

// completionFromMessage translates a complete Anthropic message into OpenAI's
// chat.completion and returns it with the usage it reported (nil when none).
func (c *Client) completionFromMessage(data []byte) ([]byte, *providers.Usage, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, nil, c.invalidResponse("answer is not valid JSON")
		}
	}
	if m.Type == "error" || (len(m.Error) > 0 && string(m.Error) != "null") {
		return nil, nil, c.errorFromBody(0, data)
	}
	out := completion{ID: m.ID, Object: "chat.completion", Created: time.Now().Unix(), Model: m.Model}
	msg := completionMessage{Role: "assistant"}
	var text, reasoning bytes.Buffer
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			reasoning.WriteString(b.Thinking)
		case "tool_use":
			var tc toolCallJSON
			tc.ID, tc.Type, tc.Function.Name = b.ID, "function", b.Name
			tc.Function.Arguments = compactArguments(b.Input)
			msg.ToolCalls = append(msg.ToolCalls, tc)
		}
		// redacted_thinking, server tool blocks and types added later carry nothing
		// an OpenAI client can use.
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s // OpenAI sends null content only beside tool calls
	}
	msg.ReasoningContent = reasoning.String()
	out.Choices = []completionChoice{{Message: msg, FinishReason: finishReason(m.StopReason)}}
	var u *providers.Usage
	if m.Usage != nil {
		var t tally
		t.merge(m.Usage)
		u = t.usage()
		out.Usage = appendOpenAIUsage(nil, u)
	}
	body, err := json.Marshal(&out)
	if err != nil {
		return nil, nil, c.invalidResponse("cannot encode the translated answer: " + err.Error())
	}
	return body, u, nil
}

// compactArguments renders a tool_use input as OpenAI's arguments string: compact
// JSON, "{}" when there is none.
func compactArguments(input json.RawMessage) string {
	var buf bytes.Buffer
	if len(input) == 0 || json.Compact(&buf, input) != nil || buf.String() == "null" {
		return "{}"
	}
	return buf.String()
}

// chunkHead is the start every streamed chunk of one answer shares:
// {"id":…,"object":"chat.completion.chunk","created":…,"model":…
func chunkHead(id, model string, created int64) []byte {
	b := make([]byte, 0, 96+len(id)+len(model))
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	return appendString(b, model)
}

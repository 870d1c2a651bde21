package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// RequestError is an Anthropic-format request the gateway must refuse with a 400
// before calling any upstream: what is wrong, and which parameter.
type RequestError struct {
	Param   string // the offending member as a dotted path ("messages.2.content"); "" for the body
	Message string // what is wrong and what to do
}

// Error returns the message, which is written for the client.
func (e *RequestError) Error() string { return e.Message }

func reqErr(param, format string, args ...any) *RequestError {
	return &RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// ErrorJSON is Anthropic's error body, {"type":"error","error":{"type","message"}},
// for answers on the gateway's /v1/messages ingress and for error events written
// into a stream that already started.
func ErrorJSON(errType, message string) []byte {
	b := make([]byte, 0, 48+len(errType)+len(message))
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendString(b, errType)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	return append(b, `}}`...)
}

// The Anthropic side of the ingress translation: a Messages request.
type (
	anRequest struct {
		Model         string          `json:"model"`
		MaxTokens     *int64          `json:"max_tokens"`
		System        json.RawMessage `json:"system"`
		Messages      []anMessage     `json:"messages"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		StopSequences []string        `json:"stop_sequences"`
		Stream        bool            `json:"stream"`
		Tools         []anTool        `json:"tools"`
		ToolChoice    *anToolChoice   `json:"tool_choice"`
		Metadata      *struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
	}
	anMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	anBlock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Thinking  string          `json:"thinking"`
		Source    *source         `json:"source"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
	}
	anTool struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	anToolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
)

// The OpenAI side: a chat completions request.
type (
	chatRequest struct {
		Model             string          `json:"model"`
		Messages          []chatMessage   `json:"messages"`
		MaxTokens         int64           `json:"max_tokens"`
		Temperature       *float64        `json:"temperature,omitempty"`
		TopP              *float64        `json:"top_p,omitempty"`
		Stop              []string        `json:"stop,omitempty"`
		Stream            bool            `json:"stream,omitempty"`
		StreamOptions     *streamOptions  `json:"stream_options,omitempty"`
		Tools             []chatTool      `json:"tools,omitempty"`
		ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
		ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
		User              string          `json:"user,omitempty"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	chatMessage struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCalls  []toolCallJSON  `json:"tool_calls,omitempty"`
		ToolCallID string          `json:"tool_call_id,omitempty"`
	}
	chatPart struct {
		Type     string    `json:"type"`
		Text     string    `json:"text,omitempty"`
		ImageURL *chatURL  `json:"image_url,omitempty"`
		File     *chatFile `json:"file,omitempty"`
	}
	chatURL struct {
		URL string `json:"url"`
	}
	chatFile struct {
		FileData string `json:"file_data,omitempty"`
		FileID   string `json:"file_id,omitempty"`
		Filename string `json:"filename,omitempty"`
	}
	chatTool struct {
		Type     string       `json:"type"`
		Function chatFunction `json:"function"`
	}
	chatFunction struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
)

// RequestToOpenAI translates an Anthropic Messages request into an OpenAI chat
// completions body, for an Anthropic-format call served by another vendor's channel.
// It validates what Anthropic requires (model, max_tokens ≥ 1, messages) and returns
// a *RequestError for a 400 otherwise. The body carries max_tokens (OpenAI's own API
// wants max_completion_tokens instead: the router renames it as for any call) and,
// for streams, stream_options.include_usage. What only tunes how an answer is made
// and has no OpenAI counterpart (thinking, top_k, thinking blocks in the history) is
// dropped; what would change the answer's meaning (Anthropic's own tools, content
// types other vendors cannot read) is refused.
func RequestToOpenAI(body []byte) (openAIBody []byte, model string, stream bool, maxTokens int64, err error) {
	var in anRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, "", false, 0, err
	}
	if in.MaxTokens == nil {
		return nil, "", false, 0, reqErr("max_tokens", "max_tokens is required: the most tokens the answer may have")
	}
	if *in.MaxTokens < 1 {
		return nil, "", false, 0, reqErr("max_tokens", "max_tokens must be at least 1")
	}
	out := chatRequest{Model: in.Model, MaxTokens: *in.MaxTokens, Temperature: in.Temperature, TopP: in.TopP,
		Stop: in.StopSequences, Stream: in.Stream}
	if in.Stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil {
		out.User = in.Metadata.UserID
	}
	system, err := systemText(in.System)
	if err != nil {
		return nil, "", false, 0, err
	}
	if system != "" {
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: jsonString(system)})
	}
	for i := range in.Messages {
		msgs, err := chatMessages(&in.Messages[i], i)
		if err != nil {
			return nil, "", false, 0, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if out.Tools, err = chatTools(in.Tools); err != nil {
		return nil, "", false, 0, err
	}
	if tc := in.ToolChoice; tc != nil && len(out.Tools) > 0 {
		switch tc.Type {
		case "auto":
			out.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			out.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			out.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			if tc.Name == "" {
				return nil, "", false, 0, reqErr("tool_choice.name", "tool_choice of type tool needs the name of a tool")
			}
			out.ToolChoice = append(append(json.RawMessage(`{"type":"function","function":{"name":`), jsonString(tc.Name)...), "}}"...)
		default:
			return nil, "", false, 0, reqErr("tool_choice.type", "tool_choice.type %q is not one of auto, any, tool, none", tc.Type)
		}
		if tc.DisableParallelToolUse && tc.Type != "none" {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	openAIBody, err = marshal(&out)
	if err != nil {
		return nil, "", false, 0, reqErr("", "the request cannot be translated: %v", err)
	}
	return openAIBody, in.Model, in.Stream, *in.MaxTokens, nil
}

// decodeRequest parses a Messages body and checks the members every Messages call
// needs: model and a non-empty list of user and assistant messages.
func decodeRequest(body []byte, in *anRequest) error {
	if err := json.Unmarshal(body, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return reqErr(typeErr.Field, "%s: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return reqErr("", "The request body is not valid JSON: %v", err)
	}
	if in.Model == "" {
		return reqErr("model", "model is required")
	}
	if len(in.Messages) == 0 {
		return reqErr("messages", "messages is required and must hold at least one message")
	}
	for i, m := range in.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return reqErr(fmt.Sprintf("messages.%d.role", i), "messages.%d.role must be \"user\" or \"assistant\", not %q (put instructions in the top-level system member)", i, m.Role)
		}
	}
	return nil
}

// blocksOf reads a content member: a string (one text block) or an array of blocks.
func blocksOf(raw json.RawMessage, param string) ([]anBlock, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, reqErr(param, "%s is required", param)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, reqErr(param, "%s: %v", param, err)
		}
		return []anBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, reqErr(param, "%s must be a string or an array of content blocks", param)
	}
	return blocks, nil
}

// systemText joins the system prompt's text blocks.
func systemText(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "", nil
	}
	blocks, err := blocksOf(raw, "system")
	if err != nil {
		return "", err
	}
	texts := make([]string, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != "text" {
			return "", reqErr(fmt.Sprintf("system.%d.type", i), "system blocks must be text blocks, not %q", b.Type)
		}
		texts = append(texts, b.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// chatMessages translates one Anthropic message into OpenAI messages: a user
// message's tool results become tool messages (first, as OpenAI wants them right
// after the assistant's tool calls), its other blocks one user message; an assistant
// message becomes one message with text and tool calls.
func chatMessages(m *anMessage, i int) ([]chatMessage, error) {
	param := fmt.Sprintf("messages.%d.content", i)
	blocks, err := blocksOf(m.Content, param)
	if err != nil {
		return nil, err
	}
	if m.Role == "assistant" {
		return assistantMessage(blocks, param)
	}
	var out []chatMessage
	var parts []chatPart
	for j, b := range blocks {
		bp := param + "." + strconv.Itoa(j)
		switch b.Type {
		case "tool_result":
			text, images, err := toolResultContent(b.Content, bp+".content")
			if err != nil {
				return nil, err
			}
			out = append(out, chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: jsonString(text)})
			parts = append(parts, images...) // OpenAI tool messages hold text only
		default:
			p, ok, err := chatPartOf(&b, bp)
			if err != nil {
				return nil, err
			}
			if ok {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) > 0 {
		content, err := partsContent(parts)
		if err != nil {
			return nil, reqErr(param, "%v", err)
		}
		out = append(out, chatMessage{Role: "user", Content: content})
	}
	return out, nil
}

// chatPartOf translates a user content block; ok is false for blocks that carry
// nothing for another vendor (thinking from an earlier Anthropic-served turn).
func chatPartOf(b *anBlock, param string) (chatPart, bool, error) {
	switch b.Type {
	case "text":
		return chatPart{Type: "text", Text: b.Text}, true, nil
	case "image":
		u, err := sourceURL(b.Source, param)
		if err != nil {
			return chatPart{}, false, err
		}
		return chatPart{Type: "image_url", ImageURL: &chatURL{URL: u}}, true, nil
	case "document":
		s := b.Source
		switch {
		case s != nil && s.Type == "text":
			return chatPart{Type: "text", Text: s.Data}, true, nil
		case s != nil && s.Type == "base64":
			return chatPart{Type: "file", File: &chatFile{FileData: "data:" + s.MediaType + ";base64," + s.Data, Filename: "document.pdf"}}, true, nil
		}
		return chatPart{}, false, reqErr(param+".source", "only base64 and text documents can be sent to this model")
	case "thinking", "redacted_thinking":
		return chatPart{}, false, nil
	}
	return chatPart{}, false, reqErr(param+".type", "content blocks of type %q cannot be sent to this model", b.Type)
}

// sourceURL turns an image source into the URL OpenAI's image parts carry.
func sourceURL(s *source, param string) (string, error) {
	switch {
	case s == nil:
		return "", reqErr(param+".source", "an image block needs a source")
	case s.Type == "base64" && s.MediaType != "" && s.Data != "":
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case s.Type == "url" && s.URL != "":
		return s.URL, nil
	}
	return "", reqErr(param+".source", "image sources must be base64 (with media_type and data) or url")
}

// toolResultContent reads a tool_result's content: its text, and its images as
// image parts.
func toolResultContent(raw json.RawMessage, param string) (string, []chatPart, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "", nil, nil
	}
	blocks, err := blocksOf(raw, param)
	if err != nil {
		return "", nil, err
	}
	var texts []string
	var images []chatPart
	for j, b := range blocks {
		switch b.Type {
		case "text":
			texts = append(texts, b.Text)
		case "image":
			u, err := sourceURL(b.Source, param+"."+strconv.Itoa(j))
			if err != nil {
				return "", nil, err
			}
			images = append(images, chatPart{Type: "image_url", ImageURL: &chatURL{URL: u}})
		default:
			return "", nil, reqErr(param+"."+strconv.Itoa(j)+".type", "tool results may hold text and image blocks, not %q", b.Type)
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

// assistantMessage translates an assistant message: text blocks are joined, tool_use
// blocks become tool calls with their input as the arguments string.
func assistantMessage(blocks []anBlock, param string) ([]chatMessage, error) {
	var text strings.Builder
	var calls []toolCallJSON
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			var tc toolCallJSON
			tc.ID, tc.Type, tc.Function.Name = b.ID, "function", b.Name
			tc.Function.Arguments = compactArguments(b.Input)
			calls = append(calls, tc)
		case "thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result":
			// Anthropic-only: meaningless to another vendor's model.
		default:
			return nil, reqErr(param+"."+strconv.Itoa(j)+".type", "assistant content blocks of type %q cannot be sent to this model", b.Type)
		}
	}
	m := chatMessage{Role: "assistant", ToolCalls: calls}
	switch {
	case text.Len() > 0:
		m.Content = jsonString(text.String())
	case len(calls) > 0:
		m.Content = json.RawMessage("null")
	default:
		m.Content = json.RawMessage(`""`)
	}
	return []chatMessage{m}, nil
}

// partsContent renders user content: one text part as a plain string (which every
// OpenAI-compatible host accepts), anything else as an array of parts.
func partsContent(parts []chatPart) (json.RawMessage, error) {
	if len(parts) == 1 && parts[0].Type == "text" {
		return jsonString(parts[0].Text), nil
	}
	return marshal(parts)
}

// chatTools turns Anthropic's custom tools into OpenAI function tools; Anthropic's
// own tools (web search, bash, text editor, computer use…) exist only there.
func chatTools(tools []anTool) ([]chatTool, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]chatTool, 0, len(tools))
	for i, t := range tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, reqErr(fmt.Sprintf("tools.%d.type", i), "the tool type %q is one of Anthropic's own tools and is not available on this model", t.Type)
		}
		if t.Name == "" {
			return nil, reqErr(fmt.Sprintf("tools.%d.name", i), "tools.%d.name is required", i)
		}
		schema := nullToEmpty(t.InputSchema)
		if len(schema) == 0 {
			schema = emptySchema
		}
		out = append(out, chatTool{Type: "function", Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	return out, nil
}

// CountTokensRequest reads a /v1/messages/count_tokens body (a Messages request
// without max_tokens) and returns the texts the prompt is made of — system, message
// text, tool calls and results, tool definitions — and the number of images, so the
// gateway can count them with its own tokenizer when no Anthropic channel answers.
func CountTokensRequest(body []byte) (texts []string, images int, err error) {
	var in anRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, 0, err
	}
	system, err := systemText(in.System)
	if err != nil {
		return nil, 0, err
	}
	if system != "" {
		texts = append(texts, system)
	}
	for i, m := range in.Messages {
		param := fmt.Sprintf("messages.%d.content", i)
		blocks, err := blocksOf(m.Content, param)
		if err != nil {
			return nil, 0, err
		}
		for j := range blocks {
			texts, images = countBlock(&blocks[j], texts, images)
		}
	}
	for _, t := range in.Tools {
		texts = append(texts, t.Name)
		if t.Description != "" {
			texts = append(texts, t.Description)
		}
		if len(t.InputSchema) > 0 {
			texts = append(texts, string(t.InputSchema))
		}
	}
	return texts, images, nil
}

// countBlock adds what one content block contributes to the prompt.
func countBlock(b *anBlock, texts []string, images int) ([]string, int) {
	switch b.Type {
	case "text":
		texts = append(texts, b.Text)
	case "thinking":
		texts = append(texts, b.Thinking)
	case "image":
		images++
	case "document":
		if b.Source != nil && b.Source.Type == "text" {
			texts = append(texts, b.Source.Data)
		}
	case "tool_use":
		texts = append(texts, b.Name, compactArguments(b.Input))
	case "tool_result":
		raw := bytes.TrimSpace(b.Content)
		if len(raw) == 0 || string(raw) == "null" {
			break
		}
		inner, err := blocksOf(raw, "content")
		if err != nil {
			break
		}
		for k := range inner {
			texts, images = countBlock(&inner[k], texts, images)
		}
	}
	return texts, images
}

// jsonString encodes s as a JSON string.
func jsonString(s string) json.RawMessage { return appendString(nil, s) }

// marshal encodes v as compact JSON without HTML escaping, as the other side sent it.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

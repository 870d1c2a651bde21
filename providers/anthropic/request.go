package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tollgate-gw/tollgate/providers"
)

// The OpenAI side of the request translation: the members of a chat completions
// body that have an Anthropic counterpart. Members without one are dropped, since
// Anthropic refuses unknown members.
type (
	oaRequest struct {
		Model               string          `json:"model"`
		Messages            []oaMessage     `json:"messages"`
		MaxTokens           *int64          `json:"max_tokens"`
		MaxCompletionTokens *int64          `json:"max_completion_tokens"`
		Temperature         *float64        `json:"temperature"`
		TopP                *float64        `json:"top_p"`
		Stop                json.RawMessage `json:"stop"`
		N                   *int            `json:"n"`
		Tools               []oaTool        `json:"tools"`
		ToolChoice          json.RawMessage `json:"tool_choice"`
		ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
		User                string          `json:"user"`
		// Anthropic's own parameters, accepted as extensions the way Anthropic's
		// OpenAI-compatible endpoint accepts them, and handed through unchanged.
		TopK     json.RawMessage `json:"top_k"`
		Thinking json.RawMessage `json:"thinking"`
	}
	oaMessage struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCalls  []oaToolCall    `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	oaPart struct {
		Type         string          `json:"type"`
		Text         string          `json:"text"`
		Refusal      string          `json:"refusal"`
		ImageURL     oaImageURL      `json:"image_url"`
		File         *oaFile         `json:"file"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	oaFile struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	}
	oaToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	oaTool struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
)

// oaImageURL is an image part's URL, sent as {"url":…} by OpenAI's SDKs and as a
// bare string by some other clients.
type oaImageURL string

// UnmarshalJSON implements json.Unmarshaler.
func (u *oaImageURL) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*u = oaImageURL(s)
		return nil
	}
	var o struct {
		URL string `json:"url"`
	}
	err := json.Unmarshal(b, &o)
	*u = oaImageURL(o.URL)
	return err
}

// The Anthropic side: a Messages request.
type (
	msgRequest struct {
		Model         string          `json:"model"`
		MaxTokens     int64           `json:"max_tokens"`
		System        []block         `json:"system,omitempty"`
		Messages      []turn          `json:"messages"`
		Temperature   *float64        `json:"temperature,omitempty"`
		TopP          *float64        `json:"top_p,omitempty"`
		TopK          json.RawMessage `json:"top_k,omitempty"`
		StopSequences []string        `json:"stop_sequences,omitempty"`
		Stream        bool            `json:"stream,omitempty"`
		Tools         []toolDef       `json:"tools,omitempty"`
		ToolChoice    *toolChoice     `json:"tool_choice,omitempty"`
		Metadata      *metadata       `json:"metadata,omitempty"`
		Thinking      json.RawMessage `json:"thinking,omitempty"`
	}
	turn struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	// block is a content block of any type; each type sets only its own members.
	block struct {
		Type         string          `json:"type"`
		Text         string          `json:"text,omitempty"`
		Source       *source         `json:"source,omitempty"`
		ID           string          `json:"id,omitempty"`
		Name         string          `json:"name,omitempty"`
		Input        json.RawMessage `json:"input,omitempty"`
		ToolUseID    string          `json:"tool_use_id,omitempty"`
		Content      json.RawMessage `json:"content,omitempty"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
	source struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
		FileID    string `json:"file_id,omitempty"`
	}
	toolDef struct {
		Name         string          `json:"name"`
		Description  string          `json:"description,omitempty"`
		InputSchema  json.RawMessage `json:"input_schema"`
		CacheControl json.RawMessage `json:"cache_control,omitempty"`
	}
	toolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	}
	metadata struct {
		UserID string `json:"user_id"`
	}
)

// errUntranslatable marks a chat request the adapter cannot express as a Messages
// call; it surfaces as an UpstreamError with status 400, so the client learns what
// to change and no upstream is called.
var errUntranslatable = errors.New("cannot translate the request for Anthropic")

// badRequest is the error for an untranslatable request.
func badRequest(format string, args ...any) *providers.UpstreamError {
	return &providers.UpstreamError{Status: http.StatusBadRequest, Code: "invalid_request_error",
		Message: errUntranslatable.Error() + ": " + fmt.Sprintf(format, args...)}
}

// emptySchema is the input schema of a tool that declares no parameters: Anthropic
// requires one.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// translateRequest turns an OpenAI chat body into a Messages body for model (the
// body's own model when ""), streaming or not as asked.
func translateRequest(body []byte, model string, stream bool) ([]byte, error) {
	var in oaRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badRequest("the body is not a valid chat completion request: %v", err)
	}
	out := msgRequest{Model: model, Stream: stream, Temperature: in.Temperature, TopP: in.TopP,
		TopK: nullToEmpty(in.TopK), Thinking: nullToEmpty(in.Thinking)}
	if out.Model == "" {
		out.Model = in.Model
	}
	if in.N != nil && *in.N > 1 {
		return nil, badRequest("n=%d: Anthropic returns one choice per call; send n=1 or several calls", *in.N)
	}
	switch {
	case in.MaxCompletionTokens != nil && *in.MaxCompletionTokens > 0:
		out.MaxTokens = *in.MaxCompletionTokens
	case in.MaxTokens != nil && *in.MaxTokens > 0:
		out.MaxTokens = *in.MaxTokens
	default:
		out.MaxTokens = DefaultMaxTokens
	}
	stops, err := stopSequences(in.Stop)
	if err != nil {
		return nil, err
	}
	out.StopSequences = stops
	if in.User != "" {
		out.Metadata = &metadata{UserID: in.User}
	}
	if out.System, out.Messages, err = translateMessages(in.Messages); err != nil {
		return nil, err
	}
	if out.Tools, err = translateTools(in.Tools); err != nil {
		return nil, err
	}
	if out.ToolChoice, err = translateToolChoice(in.ToolChoice, in.ParallelToolCalls, len(out.Tools) > 0); err != nil {
		return nil, err
	}
	b, err := marshal(&out)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return b, nil
}

func nullToEmpty(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// stopSequences reads OpenAI's stop, a string or an array of strings.
func stopSequences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop must be a string or an array of strings")
	}
	out := many[:0]
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// translateMessages splits OpenAI's messages into Anthropic's top-level system
// blocks and user/assistant turns. Tool results become tool_result blocks of a user
// turn, and consecutive turns of one role are merged, since Anthropic wants the
// roles to alternate.
func translateMessages(msgs []oaMessage) ([]block, []turn, error) {
	var system []block
	turns := make([]turn, 0, len(msgs))
	for i, m := range msgs {
		var t turn
		var err error
		switch m.Role {
		case "system", "developer":
			blocks, err := textBlocks(m.Content, i)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, blocks...)
			continue
		case "user":
			t.Role = "user"
			t.Content, err = userBlocks(m.Content, i)
		case "assistant":
			t.Role = "assistant"
			t.Content, err = assistantBlocks(&m, i)
		case "tool":
			t.Role = "user"
			t.Content, err = toolResult(&m, i)
		default:
			return nil, nil, badRequest("messages[%d].role %q has no Anthropic counterpart (use system, developer, user, assistant or tool)", i, m.Role)
		}
		if err != nil {
			return nil, nil, err
		}
		if len(t.Content) == 0 {
			continue // e.g. an assistant turn with empty content: Anthropic refuses empty text
		}
		if n := len(turns); n > 0 && turns[n-1].Role == t.Role {
			turns[n-1].Content = append(turns[n-1].Content, t.Content...)
			continue
		}
		turns = append(turns, t)
	}
	if len(turns) == 0 {
		return nil, nil, badRequest("messages has no user or assistant message with content")
	}
	return system, turns, nil
}

// contentParts reads an OpenAI content member: a string (one text part), an array
// of parts, or null/absent (no parts).
func contentParts(raw json.RawMessage, i int) ([]oaPart, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest("messages[%d].content: %v", i, err)
		}
		return []oaPart{{Type: "text", Text: s}}, nil
	}
	var parts []oaPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, badRequest("messages[%d].content must be a string or an array of content parts", i)
	}
	return parts, nil
}

// textBlocks reads content that may only hold text (system and tool messages);
// cache_control set on a part is kept.
func textBlocks(raw json.RawMessage, i int) ([]block, error) {
	parts, err := contentParts(raw, i)
	if err != nil {
		return nil, err
	}
	out := make([]block, 0, len(parts))
	for j, p := range parts {
		if p.Type != "text" {
			return nil, badRequest("messages[%d].content[%d]: only text parts are allowed here, not %q", i, j, p.Type)
		}
		if p.Text != "" {
			out = append(out, block{Type: "text", Text: p.Text, CacheControl: nullToEmpty(p.CacheControl)})
		}
	}
	return out, nil
}

// userBlocks translates a user message: text, images and PDF files.
func userBlocks(raw json.RawMessage, i int) ([]block, error) {
	parts, err := contentParts(raw, i)
	if err != nil {
		return nil, err
	}
	out := make([]block, 0, len(parts))
	for j, p := range parts {
		b := block{CacheControl: nullToEmpty(p.CacheControl)}
		switch p.Type {
		case "text":
			if p.Text == "" {
				continue
			}
			b.Type, b.Text = "text", p.Text
		case "image_url":
			src, err := imageSource(string(p.ImageURL))
			if err != nil {
				return nil, badRequest("messages[%d].content[%d].image_url: %v", i, j, err)
			}
			b.Type, b.Source = "image", src
		case "file":
			src, err := fileSource(p.File)
			if err != nil {
				return nil, badRequest("messages[%d].content[%d].file: %v", i, j, err)
			}
			b.Type, b.Source = "document", src
		default:
			return nil, badRequest("messages[%d].content[%d]: content parts of type %q have no Anthropic counterpart", i, j, p.Type)
		}
		out = append(out, b)
	}
	return out, nil
}

// imageSource turns an image URL into an image source. A data: URL is sent as
// base64 data; an http(s) URL is handed to Anthropic as a URL source, never fetched
// by the gateway (which would make it a proxy for arbitrary hosts).
func imageSource(u string) (*source, error) {
	switch {
	case strings.HasPrefix(u, "data:"):
		mediaType, data, err := parseDataURL(u)
		if err != nil {
			return nil, err
		}
		return &source{Type: "base64", MediaType: mediaType, Data: data}, nil
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"):
		return &source{Type: "url", URL: u}, nil
	case u == "":
		return nil, errors.New("the image URL is empty")
	}
	return nil, errors.New("the image URL must be a data: URL or an http(s) URL")
}

// fileSource turns an OpenAI file part into a document source: inline base64 data
// (a data: URL, as OpenAI's SDKs send it) or an Anthropic Files API id.
func fileSource(f *oaFile) (*source, error) {
	switch {
	case f == nil:
		return nil, errors.New("the file part has no file")
	case f.FileData != "":
		mediaType, data, err := parseDataURL(f.FileData)
		if err != nil {
			return nil, err
		}
		return &source{Type: "base64", MediaType: mediaType, Data: data}, nil
	case f.FileID != "":
		return &source{Type: "file", FileID: f.FileID}, nil
	}
	return nil, errors.New("the file part has neither file_data nor file_id")
}

// parseDataURL splits "data:<media type>;base64,<data>".
func parseDataURL(u string) (mediaType, data string, err error) {
	head, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	if !ok || !strings.HasSuffix(head, ";base64") {
		return "", "", errors.New("a data: URL must be base64-encoded (data:<media type>;base64,<data>)")
	}
	mediaType = strings.TrimSuffix(head, ";base64")
	if i := strings.IndexByte(mediaType, ';'); i >= 0 {
		mediaType = mediaType[:i] // parameters such as charset
	}
	if mediaType == "" || data == "" {
		return "", "", errors.New("the data: URL has no media type or no data")
	}
	return mediaType, data, nil
}

// assistantBlocks translates an assistant message: its text, then its tool calls as
// tool_use blocks whose input is the parsed arguments.
func assistantBlocks(m *oaMessage, i int) ([]block, error) {
	parts, err := contentParts(m.Content, i)
	if err != nil {
		return nil, err
	}
	out := make([]block, 0, len(parts)+len(m.ToolCalls))
	for j, p := range parts {
		text := p.Text
		switch p.Type {
		case "text":
		case "refusal":
			text = p.Refusal
		default:
			return nil, badRequest("messages[%d].content[%d]: assistant content parts of type %q have no Anthropic counterpart", i, j, p.Type)
		}
		if text != "" {
			out = append(out, block{Type: "text", Text: text, CacheControl: nullToEmpty(p.CacheControl)})
		}
	}
	for j, tc := range m.ToolCalls {
		if tc.ID == "" || tc.Function.Name == "" {
			return nil, badRequest("messages[%d].tool_calls[%d] needs an id and a function name", i, j)
		}
		input, err := toolInput(tc.Function.Arguments)
		if err != nil {
			return nil, badRequest("messages[%d].tool_calls[%d].function.arguments: %v", i, j, err)
		}
		out = append(out, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

// toolInput parses a tool call's arguments string into the JSON object Anthropic
// wants as input; empty arguments are an empty object.
func toolInput(args string) (json.RawMessage, error) {
	args = strings.TrimSpace(args)
	if args == "" {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(args)); err != nil || args[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	return buf.Bytes(), nil
}

// toolResult translates a tool message into a tool_result block.
func toolResult(m *oaMessage, i int) ([]block, error) {
	if m.ToolCallID == "" {
		return nil, badRequest("messages[%d].tool_call_id is required for tool messages", i)
	}
	b := block{Type: "tool_result", ToolUseID: m.ToolCallID}
	raw := bytes.TrimSpace(m.Content)
	switch {
	case len(raw) == 0 || string(raw) == "null" || string(raw) == `""`:
		// No content: Anthropic accepts a tool_result without it.
	case raw[0] == '"':
		b.Content = raw
	default:
		blocks, err := textBlocks(raw, i)
		if err != nil {
			return nil, err
		}
		if len(blocks) > 0 {
			b.Content, _ = json.Marshal(blocks)
		}
	}
	return []block{b}, nil
}

// translateTools turns function tools into Anthropic tool definitions.
func translateTools(tools []oaTool) ([]toolDef, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]toolDef, 0, len(tools))
	for i, t := range tools {
		if t.Type != "function" && t.Type != "" {
			return nil, badRequest("tools[%d]: tools of type %q have no Anthropic counterpart", i, t.Type)
		}
		if t.Function.Name == "" {
			return nil, badRequest("tools[%d].function.name is required", i)
		}
		schema := nullToEmpty(t.Function.Parameters)
		if len(schema) == 0 {
			schema = emptySchema
		}
		out = append(out, toolDef{Name: t.Function.Name, Description: t.Function.Description,
			InputSchema: schema, CacheControl: nullToEmpty(t.CacheControl)})
	}
	return out, nil
}

// translateToolChoice maps tool_choice: "auto", "none", "required" (Anthropic's
// "any") or a named function; parallel_tool_calls false becomes
// disable_parallel_tool_use. Without tools it is dropped: Anthropic refuses a
// tool_choice without tools, OpenAI ignores it.
func translateToolChoice(raw json.RawMessage, parallel *bool, hasTools bool) (*toolChoice, error) {
	if !hasTools {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	noParallel := parallel != nil && !*parallel
	var tc *toolChoice
	if len(raw) > 0 && string(raw) != "null" {
		var mode string
		if json.Unmarshal(raw, &mode) == nil {
			switch mode {
			case "auto":
				tc = &toolChoice{Type: "auto"}
			case "none":
				return &toolChoice{Type: "none"}, nil
			case "required":
				tc = &toolChoice{Type: "any"}
			default:
				return nil, badRequest("tool_choice %q is not one of auto, none, required", mode)
			}
		} else {
			var named struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if json.Unmarshal(raw, &named) != nil || named.Function.Name == "" {
				return nil, badRequest(`tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}`)
			}
			tc = &toolChoice{Type: "tool", Name: named.Function.Name}
		}
	}
	if noParallel {
		if tc == nil {
			tc = &toolChoice{Type: "auto"}
		}
		tc.DisableParallelToolUse = true
	}
	return tc, nil
}

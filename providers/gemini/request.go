package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// chatRequest is the part of an OpenAI chat completion request the translation
// reads. Members Gemini has no counterpart for (user, metadata, store, logit_bias,
// logprobs, parallel_tool_calls, stream_options, service_tier, …) are ignored.
type chatRequest struct {
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	N                   *int64          `json:"n"`
	Stop                json.RawMessage `json:"stop"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	Seed                *int64          `json:"seed"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	Functions           []functionDef   `json:"functions"`     // deprecated form of tools
	FunctionCall        json.RawMessage `json:"function_call"` // deprecated form of tool_choice
	ResponseFormat      *responseFormat `json:"response_format"`
	ReasoningEffort     string          `json:"reasoning_effort"`
	// Google's own OpenAI-compatible endpoint takes Gemini-only settings in
	// extra_body.google; SDKs that merge extra_body into the top level send "google".
	ExtraBody *struct {
		Google *googleOptions `json:"google"`
	} `json:"extra_body"`
	Google *googleOptions `json:"google"`
}

type chatMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	Name         string          `json:"name"`
	ToolCalls    []chatToolCall  `json:"tool_calls"`
	ToolCallID   string          `json:"tool_call_id"`
	FunctionCall *struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function_call"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
	ExtraContent *extraContent `json:"extra_content,omitempty"`
}

// extraContent carries Gemini's thought signature of a tool call through OpenAI's
// format, as Google's own OpenAI-compatible endpoint does.
type extraContent struct {
	Google *struct {
		ThoughtSignature string `json:"thought_signature,omitempty"`
	} `json:"google,omitempty"`
}

type chatPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text"`
	Refusal    string          `json:"refusal"`
	ImageURL   json.RawMessage `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	} `json:"file"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function *functionDef `json:"function"`
}

type functionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

type googleOptions struct {
	ThinkingConfig *struct {
		ThinkingBudget  *int64 `json:"thinking_budget"`
		IncludeThoughts *bool  `json:"include_thoughts"`
		ThinkingLevel   string `json:"thinking_level"`
	} `json:"thinking_config"`
	CachedContent  string          `json:"cached_content"`
	SafetySettings json.RawMessage `json:"safety_settings"`
}

// genRequest is Gemini's GenerateContentRequest.
type genRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []genTool         `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	SafetySettings    json.RawMessage   `json:"safetySettings,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
	CachedContent     string            `json:"cachedContent,omitempty"`
}

// content is one turn of a conversation (or the system instruction).
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part is one piece of a turn; exactly one of its data members is set.
type part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FileData         *fileData         `json:"fileData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type functionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type genTool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

type functionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type generationConfig struct {
	StopSequences    []string        `json:"stopSequences,omitempty"`
	CandidateCount   int64           `json:"candidateCount,omitempty"`
	MaxOutputTokens  int64           `json:"maxOutputTokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"topP,omitempty"`
	PresencePenalty  *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequencyPenalty,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
	ThinkingConfig   *thinkingConfig `json:"thinkingConfig,omitempty"`
}

type thinkingConfig struct {
	ThinkingBudget  *int64 `json:"thinkingBudget,omitempty"`
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// skipSignature is the placeholder thought signature Google documents for function
// calls in a history Gemini did not produce (or whose signatures were lost);
// Gemini 3 refuses a function call turn without any signature.
const skipSignature = "skip_thought_signature_validator"

// reasoningBudgets maps OpenAI's reasoning_effort to a thinking budget in tokens,
// the figures Google's own OpenAI-compatible endpoint uses.
var reasoningBudgets = map[string]int64{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

// translateChat turns an OpenAI chat completion body into a GenerateContentRequest.
// A request that cannot be expressed comes back as a 400 *providers.UpstreamError.
func translateChat(body []byte) ([]byte, error) {
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidRequest("", "the body is not a valid chat completion request: "+err.Error())
	}
	var out genRequest
	if err := translateMessages(in.Messages, &out); err != nil {
		return nil, err
	}
	if err := translateTools(&in, &out); err != nil {
		return nil, err
	}
	gc, err := translateGeneration(&in)
	if err != nil {
		return nil, err
	}
	if !gc.empty() {
		out.GenerationConfig = gc
	}
	for _, g := range []*googleOptions{in.Google, extraGoogle(&in)} {
		if g == nil {
			continue
		}
		if g.CachedContent != "" {
			out.CachedContent = g.CachedContent
		}
		if len(g.SafetySettings) > 0 && string(g.SafetySettings) != "null" {
			out.SafetySettings = g.SafetySettings
		}
	}
	return marshal(&out)
}

func extraGoogle(in *chatRequest) *googleOptions {
	if in.ExtraBody == nil {
		return nil
	}
	return in.ExtraBody.Google
}

// marshal encodes v without escaping <, > and &, which JSON does not require.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, invalidRequest("", "the request cannot be encoded: "+err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// translateMessages maps the conversation: system and developer messages become the
// system instruction, user and assistant ("model") turns keep their order, tool
// results become functionResponse parts of a user turn, and consecutive turns of the
// same role merge, since Gemini expects turns to alternate.
func translateMessages(msgs []chatMessage, out *genRequest) error {
	var system []part
	callNames := map[string]string{} // tool_call_id → function name, from assistant turns so far
	add := func(role string, parts []part) {
		if len(parts) == 0 {
			return
		}
		if n := len(out.Contents); n > 0 && out.Contents[n-1].Role == role {
			out.Contents[n-1].Parts = append(out.Contents[n-1].Parts, parts...)
			return
		}
		out.Contents = append(out.Contents, content{Role: role, Parts: parts})
	}
	for i := range msgs {
		m := &msgs[i]
		at := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			parts, err := contentParts(m.Content, at, true)
			if err != nil {
				return err
			}
			system = append(system, parts...)
		case "user":
			parts, err := contentParts(m.Content, at, false)
			if err != nil {
				return err
			}
			add("user", parts)
		case "assistant":
			parts, err := contentParts(m.Content, at, true)
			if err != nil {
				return err
			}
			calls, err := assistantCalls(m, at, callNames)
			if err != nil {
				return err
			}
			add("model", append(parts, calls...))
		case "tool", "function":
			name := m.Name
			if m.Role == "tool" {
				if n, ok := callNames[m.ToolCallID]; ok {
					name = n
				}
			}
			if name == "" {
				return invalidRequest(at+".tool_call_id", fmt.Sprintf(
					"no earlier assistant message has a tool call with id %q; Gemini needs the function's name for each tool result", m.ToolCallID))
			}
			resp, err := toolResult(m.Content, at)
			if err != nil {
				return err
			}
			add("user", []part{{FunctionResponse: &functionResponse{Name: name, Response: resp}}})
		default:
			return invalidRequest(at+".role", fmt.Sprintf("role %q is not supported; use system, developer, user, assistant or tool", m.Role))
		}
	}
	if len(out.Contents) == 0 {
		return invalidRequest("messages", "Gemini needs at least one user, assistant or tool message besides the system messages")
	}
	if len(system) > 0 {
		out.SystemInstruction = &content{Parts: system}
	}
	return nil
}

// assistantCalls maps an assistant message's tool calls (and the deprecated
// function_call) to functionCall parts, recording each call's name by its id.
func assistantCalls(m *chatMessage, at string, callNames map[string]string) ([]part, error) {
	var parts []part
	signed := false
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		where := fmt.Sprintf("%s.tool_calls[%d]", at, j)
		if tc.Type != "" && tc.Type != "function" {
			return nil, invalidRequest(where+".type", fmt.Sprintf("tool call type %q cannot be sent to Gemini; only function calls can", tc.Type))
		}
		if tc.Function.Name == "" {
			return nil, invalidRequest(where+".function.name", "a tool call needs a function name")
		}
		args, err := callArguments(tc.Function.Arguments, where+".function.arguments")
		if err != nil {
			return nil, err
		}
		p := part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: args}}
		if x := tc.ExtraContent; x != nil && x.Google != nil && x.Google.ThoughtSignature != "" {
			p.ThoughtSignature, signed = x.Google.ThoughtSignature, true
		}
		parts = append(parts, p)
		if tc.ID != "" {
			callNames[tc.ID] = tc.Function.Name
		}
	}
	if fc := m.FunctionCall; fc != nil && fc.Name != "" {
		args, err := callArguments(fc.Arguments, at+".function_call.arguments")
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{FunctionCall: &functionCall{Name: fc.Name, Args: args}})
	}
	if len(parts) > 0 && !signed {
		parts[0].ThoughtSignature = skipSignature
	}
	return parts, nil
}

// callArguments turns a tool call's arguments (a string holding a JSON object, as
// OpenAI sends them, or the object itself) into Gemini's args object.
func callArguments(raw json.RawMessage, where string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalidRequest(where, "not a JSON string")
		}
		raw = bytes.TrimSpace([]byte(s))
		if len(raw) == 0 {
			return json.RawMessage("{}"), nil
		}
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return nil, invalidRequest(where, "Gemini needs tool call arguments to be a JSON object")
	}
	return compact(raw), nil
}

// toolResult turns a tool message's content into functionResponse.response, which
// must be a JSON object: a result that is one is sent as is, anything else under
// "output", the key Gemini reads a function's output from.
func toolResult(raw json.RawMessage, at string) (json.RawMessage, error) {
	parts, err := contentParts(raw, at, true)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	for _, p := range parts {
		text.WriteString(p.Text)
	}
	s := strings.TrimSpace(text.String())
	if strings.HasPrefix(s, "{") && json.Valid([]byte(s)) {
		return compact([]byte(s)), nil
	}
	return marshal(map[string]string{"output": text.String()})
}

func compact(raw []byte) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// contentParts maps a message's content (a string, null, or an array of typed
// parts) to Gemini parts. textOnly refuses media, for roles Gemini takes only text
// from. Empty text is dropped: Gemini refuses parts without data.
func contentParts(raw json.RawMessage, at string, textOnly bool) ([]part, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalidRequest(at+".content", "not a valid JSON string")
		}
		if s == "" {
			return nil, nil
		}
		return []part{{Text: s}}, nil
	}
	var items []chatPart
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalidRequest(at+".content", "must be a string or an array of content parts")
	}
	parts := make([]part, 0, len(items))
	for j := range items {
		it := &items[j]
		where := fmt.Sprintf("%s.content[%d]", at, j)
		switch it.Type {
		case "text", "input_text":
			if it.Text != "" {
				parts = append(parts, part{Text: it.Text})
			}
			continue
		case "refusal":
			if it.Refusal != "" {
				parts = append(parts, part{Text: it.Refusal})
			}
			continue
		}
		if textOnly {
			return nil, invalidRequest(where+".type", fmt.Sprintf("content type %q is not allowed in this message; Gemini takes only text here", it.Type))
		}
		p, err := mediaPart(it, where)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// mediaPart maps an image, audio or file part. Inline data (data: URLs, base64)
// becomes inlineData; a URL becomes fileData and is handed to Gemini as is — the
// gateway never fetches a client-supplied URL.
func mediaPart(it *chatPart, where string) (part, error) {
	switch it.Type {
	case "image_url":
		var u string
		var obj struct {
			URL string `json:"url"`
		}
		if json.Unmarshal(it.ImageURL, &u) != nil {
			if json.Unmarshal(it.ImageURL, &obj) != nil {
				return part{}, invalidRequest(where+".image_url", "must be an object with a url")
			}
			u = obj.URL
		}
		return urlPart(u, where+".image_url.url")
	case "input_audio":
		if it.InputAudio == nil || it.InputAudio.Data == "" {
			return part{}, invalidRequest(where+".input_audio", "needs base64 data")
		}
		format := strings.ToLower(it.InputAudio.Format)
		if format == "" {
			format = "wav"
		}
		return part{InlineData: &blob{MimeType: "audio/" + format, Data: it.InputAudio.Data}}, nil
	case "file":
		f := it.File
		switch {
		case f == nil:
			return part{}, invalidRequest(where+".file", "missing")
		case f.FileData != "":
			if strings.HasPrefix(f.FileData, "data:") {
				return urlPart(f.FileData, where+".file.file_data")
			}
			mime := mimeByExtension(f.Filename)
			if mime == "" {
				mime = "application/pdf"
			}
			return part{InlineData: &blob{MimeType: mime, Data: f.FileData}}, nil
		case f.FileID != "":
			return part{}, invalidRequest(where+".file.file_id", "OpenAI file ids cannot be sent to Gemini; send the file's data instead")
		}
		return part{}, invalidRequest(where+".file", "needs file_data")
	}
	return part{}, invalidRequest(where+".type", fmt.Sprintf("content type %q cannot be sent to Gemini", it.Type))
}

// urlPart maps a data: URL to inlineData and an http(s) or gs:// URL to fileData.
func urlPart(u, where string) (part, error) {
	if strings.HasPrefix(u, "data:") {
		mime, data, ok := parseDataURL(u)
		if !ok {
			return part{}, invalidRequest(where, "not a valid data: URL")
		}
		return part{InlineData: &blob{MimeType: mime, Data: data}}, nil
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http" && pu.Scheme != "gs") {
		return part{}, invalidRequest(where, "must be a data: URL or an http(s) URL")
	}
	return part{FileData: &fileData{MimeType: mimeByExtension(pu.Path), FileURI: u}}, nil
}

// parseDataURL splits "data:[<mime>][;param…][;base64],<data>" into the MIME type and
// base64 data; data that is not base64 is percent-decoded and encoded.
func parseDataURL(u string) (mime, data string, ok bool) {
	rest := strings.TrimPrefix(u, "data:")
	comma := strings.IndexByte(rest, ',')
	if comma < 0 {
		return "", "", false
	}
	meta, data := rest[:comma], rest[comma+1:]
	isBase64 := strings.HasSuffix(strings.ToLower(meta), ";base64")
	if isBase64 {
		meta = meta[:len(meta)-len(";base64")]
	}
	mime, _, _ = strings.Cut(meta, ";")
	mime = strings.ToLower(strings.TrimSpace(mime))
	switch mime {
	case "":
		mime = "text/plain"
	case "image/jpg":
		mime = "image/jpeg" // a common misspelling Gemini refuses
	}
	if !isBase64 {
		raw, err := url.PathUnescape(data)
		if err != nil {
			return "", "", false
		}
		data = base64.StdEncoding.EncodeToString([]byte(raw))
	}
	return mime, data, data != ""
}

// mimeTypes are the media types Gemini takes, by file extension.
var mimeTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
	".gif": "image/gif", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
	".mp3": "audio/mp3", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
	".aac": "audio/aac", ".mp4": "video/mp4", ".mov": "video/mov", ".webm": "video/webm",
	".txt": "text/plain", ".csv": "text/csv", ".html": "text/html",
}

// mimeByExtension guesses a media type from a path's extension; "" lets Gemini
// decide (as for YouTube links and uploaded files).
func mimeByExtension(p string) string {
	return mimeTypes[strings.ToLower(path.Ext(p))]
}

// translateTools maps tools (and the deprecated functions) to one Tool of function
// declarations, and tool_choice (or function_call) to the function calling config.
func translateTools(in *chatRequest, out *genRequest) error {
	var decls []functionDeclaration
	for i, t := range in.Tools {
		where := fmt.Sprintf("tools[%d]", i)
		if (t.Type != "" && t.Type != "function") || t.Function == nil {
			return invalidRequest(where+".type", fmt.Sprintf("tool type %q cannot be sent to Gemini; only function tools can", t.Type))
		}
		d, err := declaration(t.Function, where+".function")
		if err != nil {
			return err
		}
		decls = append(decls, d)
	}
	for i := range in.Functions {
		d, err := declaration(&in.Functions[i], fmt.Sprintf("functions[%d]", i))
		if err != nil {
			return err
		}
		decls = append(decls, d)
	}
	choice, param := in.ToolChoice, "tool_choice"
	if len(bytes.TrimSpace(choice)) == 0 || string(choice) == "null" {
		choice, param = in.FunctionCall, "function_call"
	}
	cfg, only, err := toolChoice(choice, param)
	if err != nil {
		return err
	}
	if len(decls) == 0 {
		if cfg != nil && cfg.Mode == "ANY" {
			return invalidRequest(param, "asks for a tool call but the request declares no tools")
		}
		return nil
	}
	names := make(map[string]bool, len(decls))
	for _, d := range decls {
		names[d.Name] = true
	}
	for _, list := range [][]string{cfg.allowed(), only} {
		for _, n := range list {
			if !names[n] {
				return invalidRequest(param, fmt.Sprintf("names the function %q, which the request does not declare", n))
			}
		}
	}
	if only != nil {
		keep := decls[:0]
		for _, d := range decls {
			for _, n := range only {
				if d.Name == n {
					keep = append(keep, d)
					break
				}
			}
		}
		decls = keep
	}
	out.Tools = []genTool{{FunctionDeclarations: decls}}
	if cfg != nil {
		out.ToolConfig = &toolConfig{FunctionCallingConfig: *cfg}
	}
	return nil
}

func (c *functionCallingConfig) allowed() []string {
	if c == nil {
		return nil
	}
	return c.AllowedFunctionNames
}

func declaration(f *functionDef, where string) (functionDeclaration, error) {
	if f.Name == "" {
		return functionDeclaration{}, invalidRequest(where+".name", "a function needs a name")
	}
	params, err := functionParameters(f.Parameters)
	if err != nil {
		return functionDeclaration{}, invalidRequest(where+".parameters", err.Error())
	}
	return functionDeclaration{Name: f.Name, Description: f.Description, Parameters: params}, nil
}

// toolChoice maps OpenAI's tool_choice: "none", "auto", "required", a named function
// (forced: mode ANY limited to it), or {"type":"allowed_tools"} — whose "required"
// mode limits calls with allowedFunctionNames and whose "auto" mode, which Gemini
// cannot limit, declares only the allowed functions (returned as only).
func toolChoice(raw json.RawMessage, param string) (cfg *functionCallingConfig, only []string, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "none":
			return &functionCallingConfig{Mode: "NONE"}, nil, nil
		case "auto":
			return &functionCallingConfig{Mode: "AUTO"}, nil, nil
		case "required", "any":
			return &functionCallingConfig{Mode: "ANY"}, nil, nil
		}
		return nil, nil, invalidRequest(param, fmt.Sprintf("%q is not one of none, auto, required", s))
	}
	var obj struct {
		Type     string `json:"type"`
		Name     string `json:"name"` // the deprecated function_call form
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return nil, nil, invalidRequest(param, "must be a string or an object")
	}
	if obj.Type == "allowed_tools" {
		var names []string
		for _, t := range obj.AllowedTools.Tools {
			if t.Function.Name != "" {
				names = append(names, t.Function.Name)
			}
		}
		if len(names) == 0 {
			return nil, nil, invalidRequest(param+".allowed_tools.tools", "names no function")
		}
		if obj.AllowedTools.Mode == "required" {
			return &functionCallingConfig{Mode: "ANY", AllowedFunctionNames: names}, nil, nil
		}
		return &functionCallingConfig{Mode: "AUTO"}, names, nil
	}
	name := obj.Function.Name
	if name == "" {
		name = obj.Name
	}
	if name == "" || (obj.Type != "" && obj.Type != "function") {
		return nil, nil, invalidRequest(param, "must name a function to call")
	}
	return &functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{name}}, nil, nil
}

// translateGeneration maps the sampling and output settings.
func translateGeneration(in *chatRequest) (*generationConfig, error) {
	gc := &generationConfig{Temperature: in.Temperature, TopP: in.TopP, PresencePenalty: in.PresencePenalty,
		FrequencyPenalty: in.FrequencyPenalty, Seed: in.Seed}
	switch {
	case in.MaxCompletionTokens != nil:
		gc.MaxOutputTokens = *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		gc.MaxOutputTokens = *in.MaxTokens
	}
	if in.N != nil && *in.N > 1 {
		gc.CandidateCount = *in.N
	}
	stop, err := stopSequences(in.Stop)
	if err != nil {
		return nil, err
	}
	gc.StopSequences = stop
	if rf := in.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if rf.JSONSchema != nil && len(rf.JSONSchema.Schema) > 0 {
				s, err := convertSchema(rf.JSONSchema.Schema)
				if err != nil {
					return nil, invalidRequest("response_format.json_schema.schema", err.Error())
				}
				gc.ResponseSchema = s
			}
		default:
			return nil, invalidRequest("response_format.type", fmt.Sprintf("%q is not one of text, json_object, json_schema", rf.Type))
		}
	}
	if in.ReasoningEffort != "" {
		budget, ok := reasoningBudgets[in.ReasoningEffort]
		if !ok {
			return nil, invalidRequest("reasoning_effort", fmt.Sprintf("%q is not one of none, minimal, low, medium, high", in.ReasoningEffort))
		}
		gc.ThinkingConfig = &thinkingConfig{ThinkingBudget: &budget}
	}
	for _, g := range []*googleOptions{in.Google, extraGoogle(in)} {
		if g == nil || g.ThinkingConfig == nil {
			continue
		}
		tc := g.ThinkingConfig
		if gc.ThinkingConfig == nil {
			gc.ThinkingConfig = &thinkingConfig{}
		}
		if tc.ThinkingBudget != nil {
			gc.ThinkingConfig.ThinkingBudget = tc.ThinkingBudget
		}
		if tc.IncludeThoughts != nil {
			gc.ThinkingConfig.IncludeThoughts = *tc.IncludeThoughts
		}
		if tc.ThinkingLevel != "" {
			gc.ThinkingConfig.ThinkingLevel = strings.ToUpper(tc.ThinkingLevel)
			gc.ThinkingConfig.ThinkingBudget = nil // Gemini takes one or the other
		}
	}
	return gc, nil
}

func (gc *generationConfig) empty() bool {
	return gc.StopSequences == nil && gc.CandidateCount == 0 && gc.MaxOutputTokens == 0 && gc.Temperature == nil &&
		gc.TopP == nil && gc.PresencePenalty == nil && gc.FrequencyPenalty == nil && gc.Seed == nil &&
		gc.ResponseMimeType == "" && gc.ResponseSchema == nil && gc.ThinkingConfig == nil
}

// stopSequences accepts OpenAI's stop as a string or an array of strings.
func stopSequences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) != nil {
		return nil, invalidRequest("stop", "must be a string or an array of strings")
	}
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

package providertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// geminiRequest is a GenerateContentRequest as the fake reads it: every member
// Gemini knows, so that decoding with unknown members refused finds any member a
// translation made up.
type geminiRequest struct {
	Contents          []geminiContent         `json:"contents"`
	SystemInstruction *geminiContent          `json:"systemInstruction"`
	Tools             []geminiTool            `json:"tools"`
	ToolConfig        *geminiToolConfig       `json:"toolConfig"`
	SafetySettings    []geminiSafetySetting   `json:"safetySettings"`
	GenerationConfig  *geminiGenerationConfig `json:"generationConfig"`
	CachedContent     string                  `json:"cachedContent"`

	embeds []geminiEmbedRequest // the texts of an embedding call
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiPart struct {
	Text       *string `json:"text"`
	Thought    bool    `json:"thought"`
	InlineData *struct {
		MimeType string `json:"mimeType"`
		Data     string `json:"data"`
	} `json:"inlineData"`
	FileData *struct {
		MimeType string `json:"mimeType"`
		FileURI  string `json:"fileUri"`
	} `json:"fileData"`
	FunctionCall *struct {
		ID   string         `json:"id"`
		Name string         `json:"name"`
		Args map[string]any `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		ID       string         `json:"id"`
		Name     string         `json:"name"`
		Response map[string]any `json:"response"`
	} `json:"functionResponse"`
	ExecutableCode      json.RawMessage `json:"executableCode"`
	CodeExecutionResult json.RawMessage `json:"codeExecutionResult"`
	ThoughtSignature    string          `json:"thoughtSignature"`
	VideoMetadata       json.RawMessage `json:"videoMetadata"`
}

type geminiTool struct {
	FunctionDeclarations []struct {
		Name                 string          `json:"name"`
		Description          string          `json:"description"`
		Parameters           *geminiSchema   `json:"parameters"`
		ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
		Response             *geminiSchema   `json:"response"`
		ResponseJSONSchema   json.RawMessage `json:"responseJsonSchema"`
		Behavior             string          `json:"behavior"`
	} `json:"functionDeclarations"`
	GoogleSearch          json.RawMessage `json:"googleSearch"`
	GoogleSearchRetrieval json.RawMessage `json:"googleSearchRetrieval"`
	CodeExecution         json.RawMessage `json:"codeExecution"`
	URLContext            json.RawMessage `json:"urlContext"`
}

type geminiToolConfig struct {
	FunctionCallingConfig *struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames"`
	} `json:"functionCallingConfig"`
}

type geminiSafetySetting struct {
	Category  string `json:"category"`
	Threshold string `json:"threshold"`
}

type geminiGenerationConfig struct {
	StopSequences      []string        `json:"stopSequences"`
	ResponseMimeType   string          `json:"responseMimeType"`
	ResponseSchema     *geminiSchema   `json:"responseSchema"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
	ResponseModalities []string        `json:"responseModalities"`
	CandidateCount     int64           `json:"candidateCount"`
	MaxOutputTokens    int64           `json:"maxOutputTokens"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"topP"`
	TopK               *int64          `json:"topK"`
	Seed               *int64          `json:"seed"`
	PresencePenalty    *float64        `json:"presencePenalty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty"`
	ResponseLogprobs   bool            `json:"responseLogprobs"`
	Logprobs           *int64          `json:"logprobs"`
	MediaResolution    string          `json:"mediaResolution"`
	SpeechConfig       json.RawMessage `json:"speechConfig"`
	ThinkingConfig     *struct {
		IncludeThoughts bool   `json:"includeThoughts"`
		ThinkingBudget  *int64 `json:"thinkingBudget"`
		ThinkingLevel   string `json:"thinkingLevel"`
	} `json:"thinkingConfig"`
}

// geminiSchema is Gemini's Schema, the OpenAPI subset it takes for parameters and
// response schemas; JSON Schema members it lacks (additionalProperties, $schema, …)
// are unknown members and refused.
type geminiSchema struct {
	Type             string                   `json:"type"`
	Format           string                   `json:"format"`
	Title            string                   `json:"title"`
	Description      string                   `json:"description"`
	Nullable         bool                     `json:"nullable"`
	Enum             []string                 `json:"enum"`
	MaxItems         json.RawMessage          `json:"maxItems"`
	MinItems         json.RawMessage          `json:"minItems"`
	Properties       map[string]*geminiSchema `json:"properties"`
	Required         []string                 `json:"required"`
	MinProperties    json.RawMessage          `json:"minProperties"`
	MaxProperties    json.RawMessage          `json:"maxProperties"`
	MinLength        json.RawMessage          `json:"minLength"`
	MaxLength        json.RawMessage          `json:"maxLength"`
	Pattern          string                   `json:"pattern"`
	Example          json.RawMessage          `json:"example"`
	AnyOf            []*geminiSchema          `json:"anyOf"`
	PropertyOrdering []string                 `json:"propertyOrdering"`
	Default          json.RawMessage          `json:"default"`
	Items            *geminiSchema            `json:"items"`
	Minimum          *float64                 `json:"minimum"`
	Maximum          *float64                 `json:"maximum"`
}

type geminiEmbedRequest struct {
	Model                string        `json:"model"`
	Content              geminiContent `json:"content"`
	TaskType             string        `json:"taskType"`
	Title                string        `json:"title"`
	OutputDimensionality int           `json:"outputDimensionality"`
}

// decodeStrict decodes one JSON object into v, refusing unknown members with the
// message Gemini sends for them.
func decodeStrict(body []byte, v any) *GeminiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return GeminiBadRequest("Invalid JSON payload received. Unknown name " + name + ": Cannot find field.")
		}
		return GeminiBadRequest("Invalid JSON payload received. " + strings.TrimPrefix(msg, "json: "))
	}
	return nil
}

// parseGenerate reads a GenerateContentRequest and returns the 400 Gemini would
// send for it, if any.
func (req *geminiRequest) parseGenerate(body []byte) *GeminiError {
	if e := decodeStrict(body, req); e != nil {
		return e
	}
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, "* GenerateContentRequest."+fmt.Sprintf(format, args...))
	}
	if len(req.Contents) == 0 {
		bad("contents: contents is not specified")
	}
	for i, c := range req.Contents {
		if c.Role != "" && c.Role != "user" && c.Role != "model" {
			return GeminiBadRequest("Please use a valid role: user, model.")
		}
		validateGeminiParts(fmt.Sprintf("contents[%d]", i), c.Parts, bad)
	}
	if si := req.SystemInstruction; si != nil {
		validateGeminiParts("system_instruction", si.Parts, bad)
		for j, p := range si.Parts {
			if p.Text == nil {
				bad("system_instruction.parts[%d]: only text parts are allowed in the system instruction", j)
			}
		}
	}
	for i, t := range req.Tools {
		for j, d := range t.FunctionDeclarations {
			at := fmt.Sprintf("tools[%d].function_declarations[%d]", i, j)
			if d.Name == "" {
				bad("%s.name: [FIELD_INVALID] Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 64.", at)
			}
			if d.Parameters != nil && d.ParametersJSONSchema != nil {
				bad("%s: parameters and parameters_json_schema cannot both be set", at)
			}
			validateGeminiSchema(at+".parameters", d.Parameters, bad)
		}
	}
	if tc := req.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		fc := tc.FunctionCallingConfig
		switch fc.Mode {
		case "", "MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED":
		default:
			return GeminiBadRequest(fmt.Sprintf("Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), %q", fc.Mode))
		}
		if len(fc.AllowedFunctionNames) > 0 && fc.Mode != "ANY" && fc.Mode != "VALIDATED" {
			bad("tool_config.function_calling_config.allowed_function_names: allowed_function_names can only be set when mode is ANY or VALIDATED")
		}
	}
	if g := req.GenerationConfig; g != nil {
		if g.CandidateCount > 8 {
			bad("generation_config.candidate_count: must be at most 8")
		}
		if len(g.StopSequences) > 5 {
			bad("generation_config.stop_sequences: at most 5 stop sequences are allowed")
		}
		if g.ResponseSchema != nil && g.ResponseMimeType != "application/json" && g.ResponseMimeType != "text/x.enum" {
			bad("generation_config.response_mime_type: response_mime_type must be application/json when response_schema is set")
		}
		validateGeminiSchema("generation_config.response_schema", g.ResponseSchema, bad)
	}
	if len(problems) > 0 {
		return GeminiBadRequest(strings.Join(problems, "\n") + "\n")
	}
	return nil
}

// validateGeminiParts checks that each part carries exactly one kind of data, with
// base64 where Gemini wants bytes.
func validateGeminiParts(at string, parts []geminiPart, bad func(string, ...any)) {
	if len(parts) == 0 {
		bad("%s.parts: contents.parts must not be empty.", at)
	}
	for j, p := range parts {
		where := fmt.Sprintf("%s.parts[%d]", at, j)
		set := 0
		for _, present := range []bool{p.Text != nil, p.InlineData != nil, p.FileData != nil, p.FunctionCall != nil,
			p.FunctionResponse != nil, p.ExecutableCode != nil, p.CodeExecutionResult != nil} {
			if present {
				set++
			}
		}
		switch {
		case set == 0:
			bad("%s.data: required oneof field 'data' must have one initialized field", where)
		case set > 1:
			bad("%s.data: oneof field 'data' is already set", where)
		}
		if d := p.InlineData; d != nil {
			if d.MimeType == "" {
				bad("%s.inline_data.mime_type: a MIME type is required", where)
			}
			if !isBase64(d.Data) {
				bad("%s.inline_data.data: Base64 decoding failed", where)
			}
		}
		if f := p.FileData; f != nil && f.FileURI == "" {
			bad("%s.file_data.file_uri: a file URI is required", where)
		}
		if fc := p.FunctionCall; fc != nil && fc.Name == "" {
			bad("%s.function_call.name: a function name is required", where)
		}
		if fr := p.FunctionResponse; fr != nil && (fr.Name == "" || fr.Response == nil) {
			bad("%s.function_response: name and response are required", where)
		}
		if p.ThoughtSignature != "" && !isBase64(p.ThoughtSignature) {
			bad("%s.thought_signature: Base64 decoding failed", where)
		}
	}
}

// isBase64 accepts standard and URL-safe base64, padded or not, as protobuf's JSON
// mapping does for bytes.
func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

var geminiTypes = map[string]bool{"TYPE_UNSPECIFIED": true, "STRING": true, "NUMBER": true, "INTEGER": true,
	"BOOLEAN": true, "ARRAY": true, "OBJECT": true, "NULL": true}

// validateGeminiSchema applies the rules Gemini enforces beyond the member names.
func validateGeminiSchema(at string, s *geminiSchema, bad func(string, ...any)) {
	if s == nil {
		return
	}
	t := strings.ToUpper(s.Type)
	if s.Type != "" && !geminiTypes[t] {
		bad("%s.type: invalid value %q", at, s.Type)
	}
	if t == "STRING" && s.Format != "" && s.Format != "enum" && s.Format != "date-time" {
		bad("%s.format: only 'enum' and 'date-time' are supported for STRING type", at)
	}
	if t == "OBJECT" && s.Properties != nil && len(s.Properties) == 0 {
		bad("%s.properties: should be non-empty for OBJECT type", at)
	}
	for name, p := range s.Properties {
		validateGeminiSchema(at+".properties["+name+"]", p, bad)
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			bad("%s.required[%s]: property is not defined", at, r)
		}
	}
	validateGeminiSchema(at+".items", s.Items, bad)
	for i, a := range s.AnyOf {
		validateGeminiSchema(fmt.Sprintf("%s.any_of[%d]", at, i), a, bad)
	}
}

// parseEmbed reads a batchEmbedContents (or embedContent) request; each request's
// model must be the model of the URL, as Gemini requires.
func (req *geminiRequest) parseEmbed(body []byte, resource string, batch bool) *GeminiError {
	if batch {
		var in struct {
			Requests []geminiEmbedRequest `json:"requests"`
		}
		if e := decodeStrict(body, &in); e != nil {
			return e
		}
		if len(in.Requests) == 0 {
			return GeminiBadRequest("* BatchEmbedContentsRequest.requests: requests is not specified\n")
		}
		if len(in.Requests) > 100 {
			return GeminiBadRequest("* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n")
		}
		for i, r := range in.Requests {
			if r.Model != resource {
				return GeminiBadRequest(fmt.Sprintf("* BatchEmbedContentsRequest.requests[%d].model: the model %q must be the model of the URL, %q\n", i, r.Model, resource))
			}
		}
		req.embeds = in.Requests
	} else {
		var in geminiEmbedRequest
		if e := decodeStrict(body, &in); e != nil {
			return e
		}
		req.embeds = []geminiEmbedRequest{in}
	}
	for i, r := range req.embeds {
		var problems []string
		validateGeminiParts(fmt.Sprintf("requests[%d].content", i), r.Content.Parts, func(f string, a ...any) {
			problems = append(problems, fmt.Sprintf(f, a...))
		})
		if len(problems) > 0 {
			return GeminiBadRequest("* EmbedContentRequest." + strings.Join(problems, "\n") + "\n")
		}
	}
	return nil
}

// geminiPlan is a GeminiBehavior with the reply already split into events.
type geminiPlan struct {
	GeminiBehavior
	pieces   []string
	thoughts []string
}

func newGeminiPlan(b *GeminiBehavior) *geminiPlan {
	p := &geminiPlan{GeminiBehavior: *b}
	if p.Text == "" && len(p.FunctionCalls) == 0 && p.BlockReason == "" {
		p.Text = DefaultText
	}
	if p.FinishReason == "" {
		p.FinishReason = "STOP"
	}
	if p.Models == nil {
		p.Models = DefaultGeminiModels
	}
	if p.Text != "" {
		p.pieces = split(p.Text, p.Chunks)
	}
	if p.Thoughts != "" {
		p.thoughts = split(p.Thoughts, p.Chunks)
	}
	return p
}

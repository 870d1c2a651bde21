package gemini

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
)

// jsonEqual fails unless got and want hold the same JSON value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestTranslateChat maps OpenAI chat requests to GenerateContentRequests, one
// feature per case.
func TestTranslateChat(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	const userOut = `{"role":"user","parts":[{"text":"hi"}]}`
	tests := []struct {
		name, in, want string
	}{
		{"PlainText",
			`{"model":"m","messages":[` + user + `]}`,
			`{"contents":[` + userOut + `]}`},
		{"SystemAndDeveloperBecomeInstruction",
			`{"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use French."}]},` + user + `]}`,
			`{"systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Use French."}]},"contents":[` + userOut + `]}`},
		{"AssistantIsModelAndTurnsMerge",
			`{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"assistant","content":"c"},{"role":"assistant","content":[{"type":"text","text":"d"},{"type":"refusal","refusal":"e"}]},{"role":"user","content":"f"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"a"},{"text":"b"}]},{"role":"model","parts":[{"text":"c"},{"text":"d"},{"text":"e"}]},{"role":"user","parts":[{"text":"f"}]}]}`},
		{"EmptyAndNullContentDropped",
			`{"messages":[{"role":"user","content":""},{"role":"assistant","content":null},` + user + `,{"role":"user","content":[{"type":"text","text":""}]}]}`,
			`{"contents":[` + userOut + `]}`},
		{"ImageDataURLIsInlineData",
			`{"messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}}]}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"what?"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}`},
		{"ImageURLIsFileDataNotFetched",
			`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.JPG?x=1"}},{"type":"image_url","image_url":"https://www.youtube.com/watch?v=abc"}]}]}`,
			`{"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/cat.JPG?x=1"}},{"fileData":{"fileUri":"https://www.youtube.com/watch?v=abc"}}]}]}`},
		{"DataURLWithoutBase64IsEncoded",
			`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;charset=utf-8,hello%20world"}}]}]}`,
			`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"text/plain","data":"aGVsbG8gd29ybGQ="}}]}]}`},
		{"AudioAndFile",
			`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"mp3"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERg==","filename":"a.pdf"}},{"type":"file","file":{"file_data":"JVBERg==","filename":"b.pdf"}}]}]}`,
			`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"audio/mp3","data":"UklGRg=="}},{"inlineData":{"mimeType":"application/pdf","data":"JVBERg=="}},{"inlineData":{"mimeType":"application/pdf","data":"JVBERg=="}}]}]}`},
		{"ToolCallsAndResults",
			`{"messages":[` + user + `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"time","arguments":""}}]},` +
				`{"role":"tool","tool_call_id":"call_a","content":"{\"temp\": 21}"},{"role":"tool","tool_call_id":"call_b","content":"noon"}]}`,
			`{"contents":[` + userOut + `,{"role":"model","parts":[{"functionCall":{"name":"weather","args":{"city":"Paris"}},"thoughtSignature":"skip_thought_signature_validator"},{"functionCall":{"name":"time","args":{}}}]},` +
				`{"role":"user","parts":[{"functionResponse":{"name":"weather","response":{"temp":21}}},{"functionResponse":{"name":"time","response":{"output":"noon"}}}]}]}`},
		{"ThoughtSignatureRoundTrip",
			`{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"f","arguments":{"a":1}},"extra_content":{"google":{"thought_signature":"c2lnbmF0dXJl"}}},{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"ok"}]}]}`,
			`{"contents":[` + userOut + `,{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2lnbmF0dXJl"},{"functionCall":{"name":"f","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"ok"}}}]}]}`},
		{"ToolResultNamedByLatestCall",
			`{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"call_0","function":{"name":"first","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_0","content":"1"},` +
				`{"role":"assistant","tool_calls":[{"id":"call_0","function":{"name":"second","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_0","content":"2"}]}`,
			`{"contents":[` + userOut + `,{"role":"model","parts":[{"functionCall":{"name":"first","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},{"role":"user","parts":[{"functionResponse":{"name":"first","response":{"output":"1"}}}]},` +
				`{"role":"model","parts":[{"functionCall":{"name":"second","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},{"role":"user","parts":[{"functionResponse":{"name":"second","response":{"output":"2"}}}]}]}`},
		{"LegacyFunctionCallAndFunctionRole",
			`{"messages":[` + user + `,{"role":"assistant","function_call":{"name":"f","arguments":"{\"x\":true}"}},{"role":"function","name":"f","content":"done"}],"functions":[{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"boolean"}}}}],"function_call":{"name":"f"}}`,
			`{"contents":[` + userOut + `,{"role":"model","parts":[{"functionCall":{"name":"f","args":{"x":true}},"thoughtSignature":"skip_thought_signature_validator"}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"done"}}}]}],` +
				`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"x":{"type":"BOOLEAN"}}}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}}`},
		{"ToolsAndAutoChoice",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now.","parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"city":{"type":"string","description":"City"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"],"additionalProperties":false},"strict":true}},{"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}],"tool_choice":"auto"}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather now.","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING","description":"City"},"unit":{"type":"STRING","enum":["c","f"],"format":"enum"}},"required":["city"]}},{"name":"now"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}`},
		{"ToolChoiceNone",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`},
		{"ToolChoiceRequired",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}`},
		{"ToolChoiceNamed",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}}`},
		{"AllowedToolsRequired",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"f"}}]}}}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}}`},
		{"AllowedToolsAutoDeclaresOnlyThose",
			`{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"g"}}]}}}`,
			`{"contents":[` + userOut + `],"tools":[{"functionDeclarations":[{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}`},
		{"ToolChoiceWithoutToolsOmitted",
			`{"messages":[` + user + `],"tool_choice":"auto","tools":[]}`,
			`{"contents":[` + userOut + `]}`},
		{"GenerationConfig",
			`{"messages":[` + user + `],"max_tokens":100,"temperature":0.2,"top_p":0.9,"n":3,"stop":["END","\n\n"],"presence_penalty":0.5,"frequency_penalty":-0.5,"seed":7,"user":"u","stream_options":{"include_usage":true},"logprobs":false,"parallel_tool_calls":true}`,
			`{"contents":[` + userOut + `],"generationConfig":{"maxOutputTokens":100,"temperature":0.2,"topP":0.9,"candidateCount":3,"stopSequences":["END","\n\n"],"presencePenalty":0.5,"frequencyPenalty":-0.5,"seed":7}}`},
		{"MaxCompletionTokensWinsAndStopString",
			`{"messages":[` + user + `],"max_tokens":100,"max_completion_tokens":50,"stop":"STOP","n":1,"temperature":0}`,
			`{"contents":[` + userOut + `],"generationConfig":{"maxOutputTokens":50,"stopSequences":["STOP"],"temperature":0}}`},
		{"JSONObject",
			`{"messages":[` + user + `],"response_format":{"type":"json_object"}}`,
			`{"contents":[` + userOut + `],"generationConfig":{"responseMimeType":"application/json"}}`},
		{"JSONSchema",
			`{"messages":[` + user + `],"response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}}}}`,
			`{"contents":[` + userOut + `],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"INTEGER"}},"required":["n"]}}}`},
		{"ReasoningEffort",
			`{"messages":[` + user + `],"reasoning_effort":"low"}`,
			`{"contents":[` + userOut + `],"generationConfig":{"thinkingConfig":{"thinkingBudget":1024}}}`},
		{"ReasoningEffortNone",
			`{"messages":[` + user + `],"reasoning_effort":"none"}`,
			`{"contents":[` + userOut + `],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`},
		{"GoogleExtraBody",
			`{"messages":[` + user + `],"reasoning_effort":"high","extra_body":{"google":{"thinking_config":{"include_thoughts":true},"cached_content":"cachedContents/abc","safety_settings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}}}`,
			`{"contents":[` + userOut + `],"generationConfig":{"thinkingConfig":{"thinkingBudget":24576,"includeThoughts":true}},"cachedContent":"cachedContents/abc","safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}`},
		{"GoogleTopLevelThinkingLevel",
			`{"messages":[` + user + `],"google":{"thinking_config":{"thinking_level":"low","thinking_budget":99}}}`,
			`{"contents":[` + userOut + `],"generationConfig":{"thinkingConfig":{"thinkingLevel":"LOW"}}}`},
		{"HTMLNotEscaped",
			`{"messages":[{"role":"user","content":"a<b && c>d"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"a<b && c>d"}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translateChat([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tt.want)
			if tt.name == "HTMLNotEscaped" && !strings.Contains(string(got), "a<b && c>d") {
				t.Errorf("text was escaped: %s", got)
			}
		})
	}
}

// TestTranslateChatRefusals covers requests Gemini cannot take: each is a 400 for the
// client, made without calling the upstream.
func TestTranslateChatRefusals(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	tests := []struct {
		name, in, want string
	}{
		{"NotJSON", `{"messages":`, "not a valid chat completion"},
		{"OnlySystem", `{"messages":[{"role":"system","content":"x"}]}`, "at least one user"},
		{"UnknownRole", `{"messages":[{"role":"critic","content":"x"}]}`, `messages[0].role: role "critic"`},
		{"ToolResultWithoutCall", `{"messages":[` + user + `,{"role":"tool","tool_call_id":"call_9","content":"x"}]}`, `messages[1].tool_call_id`},
		{"ImageInSystem", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},` + user + `]}`, "messages[0].content[0].type"},
		{"BadArguments", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"[1,2]"}}]}]}`, "tool_calls[0].function.arguments"},
		{"InvalidArgumentsJSON", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{oops"}}]}]}`, "JSON object"},
		{"CustomToolCall", `{"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"a","type":"custom","custom":{"name":"f"}}]}]}`, `type "custom"`},
		{"FileID", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "file ids"},
		{"FTPImage", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "data: URL or an http(s) URL"},
		{"BadDataURL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]}`, "not a valid data: URL"},
		{"UnknownPartType", `{"messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, `content type "video"`},
		{"WebSearchTool", `{"messages":[` + user + `],"tools":[{"type":"web_search"}]}`, `tool type "web_search"`},
		{"ToolChoiceUnknownFunction", `{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`, `"g"`},
		{"RequiredWithoutTools", `{"messages":[` + user + `],"tool_choice":"required"}`, "declares no tools"},
		{"BadToolChoice", `{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "not one of"},
		{"BadStop", `{"messages":[` + user + `],"stop":7}`, "stop"},
		{"BadResponseFormat", `{"messages":[` + user + `],"response_format":{"type":"yaml"}}`, "response_format.type"},
		{"BadReasoningEffort", `{"messages":[` + user + `],"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{"SchemaRefCycle", `{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f","parameters":{"$ref":"#/$defs/a","$defs":{"a":{"type":"object","properties":{"b":{"$ref":"#/$defs/a"}}}}}}}]}`, "cycle"},
		{"SchemaRefOutside", `{"messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"https://x/schema"}}}}}]}`, "$ref"},
		{"FunctionWithoutName", `{"messages":[` + user + `],"tools":[{"type":"function","function":{"description":"x"}}]}`, "tools[0].function.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := translateChat([]byte(tt.in))
			var ue *providers.UpstreamError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want an UpstreamError", err)
			}
			if ue.Status != 400 || ue.Code != "invalid_request" || ue.Retryable() || !strings.Contains(ue.Message, tt.want) {
				t.Errorf("got %+v, want a 400 mentioning %q", ue, tt.want)
			}
		})
	}
}

func TestModelPath(t *testing.T) {
	for in, want := range map[string]string{
		"gemini-2.5-flash":            "/models/gemini-2.5-flash",
		"models/gemini-2.5-pro":       "/models/gemini-2.5-pro",
		"tunedModels/my-model":        "/tunedModels/my-model",
		"../../files/x?key=1#y":       "/models/..%2F..%2Ffiles%2Fx%3Fkey=1%23y",
		" gemini-2.0-flash-001 ":      "/models/gemini-2.0-flash-001",
		"gemini-embedding-001:whoops": "/models/gemini-embedding-001%3Awhoops",
	} {
		got, err := modelPath(in)
		if err != nil || got != want {
			t.Errorf("modelPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := modelPath("models/"); err == nil {
		t.Error("empty model accepted")
	}
}

package anthropic

import (
	"strings"
	"testing"
)

// TestTranslateRequest checks every mapping from an OpenAI chat body to a Messages
// body, as the exact JSON sent upstream.
func TestTranslateRequest(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	const userOut = `{"role":"user","content":[{"type":"text","text":"hi"}]}`
	tests := []struct {
		name string
		body string // the "messages" array, or a whole body when it starts with {
		want string // the expected Messages body after "model" and "max_tokens"
	}{
		{"PlainUser", `[` + user + `]`,
			`"messages":[` + userOut + `]`},
		{"SystemAndDeveloperJoinedAtTop",
			`[{"role":"system","content":"A."},` + user + `,{"role":"developer","content":[{"type":"text","text":"B.","cache_control":{"type":"ephemeral"}}]}]`,
			`"system":[{"type":"text","text":"A."},{"type":"text","text":"B.","cache_control":{"type":"ephemeral"}}],"messages":[` + userOut + `]`},
		{"MultiTurn",
			`[` + user + `,{"role":"assistant","content":"hello"},{"role":"user","content":"again"}]`,
			`"messages":[` + userOut + `,{"role":"assistant","content":[{"type":"text","text":"hello"}]},{"role":"user","content":[{"type":"text","text":"again"}]}]`},
		{"ConsecutiveSameRoleMerged",
			`[` + user + `,{"role":"user","content":[{"type":"text","text":"more"}]}]`,
			`"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"more"}]}]`},
		{"EmptyAssistantDropped",
			`[` + user + `,{"role":"assistant","content":""},{"role":"user","content":"again"}]`,
			`"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"again"}]}]`},
		{"DataURLImage",
			`[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}}]}]`,
			`"messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]`},
		{"HTTPImageHandedThrough",
			`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]`,
			`"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]`},
		{"ImageURLAsString",
			`[{"role":"user","content":[{"type":"image_url","image_url":"http://example.com/cat.jpg"}]}]`,
			`"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"http://example.com/cat.jpg"}}]}]`},
		{"PDFFile",
			`[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}]}]`,
			`"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]`},
		{"ToolCallsAndResults",
			`[` + user + `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},` +
				`{"role":"tool","tool_call_id":"call_1","content":"18C"},{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},{"role":"user","content":"thanks"}]`,
			`"messages":[` + userOut + `,{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"now","input":{}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},{"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"noon"}]},{"type":"text","text":"thanks"}]}]`},
		{"AssistantTextBeforeToolCalls",
			`[` + user + `,{"role":"assistant","content":"Checking.","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":""}]`,
			`"messages":[` + userOut + `,{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"c","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"c"}]}]`},
		{"Tools",
			`{"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},{"type":"function","function":{"name":"now"}}],"messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},{"name":"now","input_schema":{"type":"object","properties":{}}}]`},
		{"ToolChoiceAuto", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"auto"}`},
		{"ToolChoiceNone", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none","messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"none"}`},
		{"ToolChoiceRequiredIsAny", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"any"}`},
		{"ToolChoiceNamed", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"tool","name":"f"}`},
		{"NoParallelToolCalls", `{"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false,"messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`},
		{"ToolChoiceWithoutToolsDropped", `{"tool_choice":"auto","parallel_tool_calls":false,"messages":[` + user + `]}`,
			`"messages":[` + userOut + `]`},
		{"SamplingAndStops", `{"temperature":0.2,"top_p":0.9,"stop":"END","user":"u-42","messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"temperature":0.2,"top_p":0.9,"stop_sequences":["END"],"metadata":{"user_id":"u-42"}`},
		{"StopArray", `{"stop":["a","","b"],"messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"stop_sequences":["a","b"]`},
		{"AnthropicExtensionsHandedThrough", `{"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[` + user + `]}`,
			`"messages":[` + userOut + `],"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024}`},
		{"OpenAIOnlyMembersDropped", `{"stream_options":{"include_usage":true},"response_format":{"type":"json_object"},"seed":1,"logprobs":true,"n":1,"messages":[` + user + `]}`,
			`"messages":[` + userOut + `]`},
		{"HTMLNotEscaped", `[{"role":"user","content":"<b>&</b>"}]`,
			`"messages":[{"role":"user","content":[{"type":"text","text":"<b>&</b>"}]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if !strings.HasPrefix(body, "{") {
				body = `{"messages":` + body + `}`
			}
			body = `{"model":"ignored","max_tokens":100,` + body[1:]
			got, err := translateRequest([]byte(body), "claude-x", false)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"model":"claude-x","max_tokens":100,` + tt.want + `}`
			if string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestTranslateRequestMaxTokensAndStream(t *testing.T) {
	tests := []struct {
		name, body string
		stream     bool
		want       string
	}{
		{"MaxCompletionTokensWins", `{"model":"m","max_tokens":10,"max_completion_tokens":20,"messages":[{"role":"user","content":"hi"}]}`, false, `"max_tokens":20`},
		{"MaxTokens", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, false, `"max_tokens":10`},
		{"DefaultWhenAbsent", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, false, `"max_tokens":4096`},
		{"ModelFromBodyWhenNoneGiven", `{"model":"from-body","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`, false, `"model":"from-body"`},
		{"StreamSetByTheCall", `{"model":"m","max_tokens":1,"stream":false,"messages":[{"role":"user","content":"hi"}]}`, true, `"stream":true`},
		{"NoStreamMember", `{"model":"m","max_tokens":1,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, false, `"max_tokens":1,"messages"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := "m"
			if tt.name == "ModelFromBodyWhenNoneGiven" {
				model = ""
			}
			got, err := translateRequest([]byte(tt.body), model, tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), tt.want) {
				t.Errorf("got %s, want it to contain %s", got, tt.want)
			}
		})
	}
}

func TestTranslateRequestRefusals(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"NotJSON", `{"messages":`, "not a valid chat completion request"},
		{"SeveralChoices", `{"n":2,"messages":[{"role":"user","content":"hi"}]}`, "n=2"},
		{"NoMessages", `{"messages":[{"role":"system","content":"only a system prompt"}]}`, "no user or assistant message"},
		{"FunctionRole", `{"messages":[{"role":"function","name":"f","content":"1"}]}`, `role "function"`},
		{"AudioPart", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]}`, `"input_audio"`},
		{"NonBase64DataURL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/svg+xml,<svg/>"}}]}]}`, "base64"},
		{"RelativeImageURL", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"/cat.png"}}]}]}`, "http(s) URL"},
		{"ImageInSystem", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"hi"}]}`, "only text parts"},
		{"ArgumentsNotAnObject", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]}`, "JSON object"},
		{"ArgumentsBroken", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}`, "JSON object"},
		{"ToolCallWithoutID", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "needs an id"},
		{"ToolMessageWithoutID", `{"messages":[{"role":"tool","content":"1"}]}`, "tool_call_id is required"},
		{"NonFunctionTool", `{"tools":[{"type":"web_search_preview"}],"messages":[{"role":"user","content":"hi"}]}`, `"web_search_preview"`},
		{"BadToolChoice", `{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes","messages":[{"role":"user","content":"hi"}]}`, "sometimes"},
		{"BadStop", `{"stop":5,"messages":[{"role":"user","content":"hi"}]}`, "stop must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := translateRequest([]byte(tt.body), "m", false)
			ue := upstreamError(t, err)
			if ue.Status != 400 || ue.Code != "invalid_request_error" || ue.Retryable() || !strings.Contains(ue.Message, tt.msg) {
				t.Errorf("%+v; want a 400 mentioning %q", ue, tt.msg)
			}
		})
	}
}

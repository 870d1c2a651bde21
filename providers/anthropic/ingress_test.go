package anthropic

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestRequestToOpenAI checks every mapping from an Anthropic Messages body to an
// OpenAI chat body, as exact JSON.
func TestRequestToOpenAI(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	const userOut = `{"role":"user","content":"hi"}`
	tests := []struct {
		name string
		body string // members after model and max_tokens
		want string // members after model and messages' start
	}{
		{"PlainUser", `"messages":[` + user + `]`,
			`"messages":[` + userOut + `],"max_tokens":64`},
		{"SystemString", `"system":"Be brief.","messages":[` + user + `]`,
			`"messages":[{"role":"system","content":"Be brief."},` + userOut + `],"max_tokens":64`},
		{"SystemBlocksJoined", `"system":[{"type":"text","text":"A.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"B."}],"messages":[` + user + `]`,
			`"messages":[{"role":"system","content":"A.\nB."},` + userOut + `],"max_tokens":64`},
		{"TextBlocks", `"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]`,
			`"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"max_tokens":64`},
		{"OneTextBlockIsAString", `"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}}]}]`,
			`"messages":[{"role":"user","content":"a"}],"max_tokens":64`},
		{"Images", `"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},{"type":"image","source":{"type":"url","url":"https://x.test/a.jpg"}},{"type":"text","text":"?"}]}]`,
			`"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}},{"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}},{"type":"text","text":"?"}]}],"max_tokens":64`},
		{"Documents", `"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain doc"}}]}]`,
			`"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"document.pdf"}},{"type":"text","text":"plain doc"}]}],"max_tokens":64`},
		{"ToolRoundTrip",
			`"messages":[` + user + `,{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city": "Paris"}},{"type":"tool_use","id":"toolu_2","name":"now","input":{}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"noon"},{"type":"image","source":{"type":"url","url":"https://x.test/clock.png"}}]},{"type":"text","text":"thanks"}]}]`,
			`"messages":[` + userOut + `,{"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"toolu_2","type":"function","function":{"name":"now","arguments":"{}"}}]},` +
				`{"role":"tool","content":"18C","tool_call_id":"toolu_1"},{"role":"tool","content":"noon","tool_call_id":"toolu_2"},` +
				`{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x.test/clock.png"}},{"type":"text","text":"thanks"}]}],"max_tokens":64`},
		{"AssistantToolUseOnly", `"messages":[` + user + `,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]`,
			`"messages":[` + userOut + `,{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"","tool_call_id":"t"}],"max_tokens":64`},
		{"Tools", `"messages":[` + user + `],"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},{"type":"custom","name":"now","input_schema":null}]`,
			`"messages":[` + userOut + `],"max_tokens":64,"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},{"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}]`},
		{"ToolChoiceAny", `"messages":[` + user + `],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}`,
			`"messages":[` + userOut + `],"max_tokens":64,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"required","parallel_tool_calls":false`},
		{"ToolChoiceTool", `"messages":[` + user + `],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"f"}`,
			`"messages":[` + userOut + `],"max_tokens":64,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":{"type":"function","function":{"name":"f"}}`},
		{"ToolChoiceAutoAndNone", `"messages":[` + user + `],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"none"}`,
			`"messages":[` + userOut + `],"max_tokens":64,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"none"`},
		{"SamplingStopsUser", `"messages":[` + user + `],"temperature":0.5,"top_p":0.8,"top_k":40,"stop_sequences":["END"],"metadata":{"user_id":"u-9"},"thinking":{"type":"enabled","budget_tokens":2000}`,
			`"messages":[` + userOut + `],"max_tokens":64,"temperature":0.5,"top_p":0.8,"stop":["END"],"user":"u-9"`},
		{"Stream", `"messages":[` + user + `],"stream":true`,
			`"messages":[` + userOut + `],"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, model, stream, maxTokens, err := RequestToOpenAI([]byte(`{"model":"claude-x","max_tokens":64,` + tt.body + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"model":"claude-x",` + tt.want + `}`; string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if model != "claude-x" || maxTokens != 64 || stream != strings.Contains(tt.body, `"stream":true`) {
				t.Errorf("model %q, stream %v, max_tokens %d", model, stream, maxTokens)
			}
		})
	}
}

func TestRequestToOpenAIRefusals(t *testing.T) {
	tests := []struct{ name, body, param, msg string }{
		{"NotJSON", `{"model":`, "", "not valid JSON"},
		{"WrongType", `{"model":"m","max_tokens":"many","messages":[]}`, "max_tokens", "max_tokens"},
		{"NoModel", `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "model", "model is required"},
		{"NoMaxTokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, "max_tokens", "max_tokens is required"},
		{"ZeroMaxTokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens", "at least 1"},
		{"NoMessages", `{"model":"m","max_tokens":5}`, "messages", "at least one message"},
		{"EmptyMessages", `{"model":"m","max_tokens":5,"messages":[]}`, "messages", "at least one message"},
		{"SystemRole", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages.0.role", "top-level system"},
		{"NoContent", `{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, "messages.0.content", "is required"},
		{"ContentNotBlocks", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}`, "messages.0.content", "string or an array"},
		{"ImageSystem", `{"model":"m","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]}`, "system.0.type", "text blocks"},
		{"ImageWithoutSource", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages.0.content.0.source", "needs a source"},
		{"URLDocument", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/y.pdf"}}]}]}`, "messages.0.content.0.source", "base64 and text"},
		{"UnknownBlock", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result"}]}]}`, "messages.0.content.0.type", `"search_result"`},
		{"ServerTool", `{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}`, "tools.0.type", "Anthropic's own tools"},
		{"ToolWithoutName", `{"model":"m","max_tokens":5,"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"x"}]}`, "tools.0.name", "required"},
		{"NamedChoiceWithoutName", `{"model":"m","max_tokens":5,"tools":[{"name":"f"}],"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice.name", "name of a tool"},
		{"BadChoice", `{"model":"m","max_tokens":5,"tools":[{"name":"f"}],"tool_choice":{"type":"maybe"}, "messages":[{"role":"user","content":"x"}]}`, "tool_choice.type", "maybe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, _, err := RequestToOpenAI([]byte(tt.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *RequestError", err, err)
			}
			if re.Param != tt.param || !strings.Contains(re.Message, tt.msg) || re.Error() != re.Message {
				t.Errorf("%+v; want param %q and a message mentioning %q", re, tt.param, tt.msg)
			}
		})
	}
}

func TestResponseFromOpenAI(t *testing.T) {
	const head = `{"id":"chatcmpl-abc","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[`
	tests := []struct {
		name, body, model, want string
	}{
		{"Text", head + `{"index":0,"message":{"role":"assistant","content":"Hi.","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":3,"total_tokens":33,"prompt_tokens_details":{"cached_tokens":20}}}`, "claude-alias",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"claude-alias","content":[{"type":"text","text":"Hi."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,"output_tokens":3}}`},
		{"Length", head + `{"index":0,"message":{"content":"cut"},"finish_reason":"length"}]}`, "",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"gpt-4o-mini","content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`},
		{"ToolCalls", head + `{"index":0,"message":{"content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": 1}"}},{"id":"","type":"function","function":{"name":"g","arguments":"broken {"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":9}}`, "m",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"m","content":[{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},{"type":"tool_use","id":"toolu_2","name":"g","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}`},
		{"Refusal", head + `{"index":0,"message":{"content":null,"refusal":"I can't."},"finish_reason":"content_filter"}]}`, "m",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"I can't."}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`},
		{"ReasoningLeftOutAndEscapesKept", head + `{"index":0,"message":{"content":"a\"<b>\u00e9","reasoning_content":"think"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"prompt_cache_hit_tokens":4}}`, "m",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"a\"<b>\u00e9"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":4,"output_tokens":1}}`},
		{"OtherChoicesIgnored", head + `{"index":1,"message":{"content":"B"},"finish_reason":"length"},{"index":0,"message":{"content":"A"},"finish_reason":"stop"}]}`, "m",
			`{"id":"msg_abc","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"A"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResponseFromOpenAI([]byte(tt.body), tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Error("not valid JSON")
			}
		})
	}
	for _, bad := range []string{`nope`, `[1]`, `{"error":{"message":"x"}}`, `{"id":`} {
		if _, err := ResponseFromOpenAI([]byte(bad), "m"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestCountTokensRequest(t *testing.T) {
	body := `{"model":"m","system":"Sys.","tools":[{"name":"f","description":"Does f.","input_schema":{"type":"object"}}],"messages":[` +
		`{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"done"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]},{"type":"document","source":{"type":"text","data":"doc"}}]}]}`
	texts, images, err := CountTokensRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Sys.", "Look:", "hmm", "f", `{"a":1}`, "done", "doc", "f", "Does f.", `{"type":"object"}`}
	if !slices.Equal(texts, want) || images != 2 {
		t.Errorf("texts %q, images %d; want %q, 2", texts, images, want)
	}
	var re *RequestError
	if _, _, err := CountTokensRequest([]byte(`{"model":"m"}`)); !errors.As(err, &re) || re.Param != "messages" {
		t.Errorf("err = %v", err)
	}
}

func TestErrorJSON(t *testing.T) {
	got := ErrorJSON("rate_limit_error", `Too many "requests"`)
	if string(got) != `{"type":"error","error":{"type":"rate_limit_error","message":"Too many \"requests\""}}` {
		t.Errorf("%s", got)
	}
	// The adapter reads its own error bodies back the same way.
	if ue := New(Config{}).errorFromBody(0, got); ue.Status != 429 || ue.Code != "rate_limit_error" || ue.Message != `Too many "requests"` {
		t.Errorf("%+v", ue)
	}
}

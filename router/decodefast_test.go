package router

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeFastSamples are member values of chat bodies: the usual forms decodeFast
// reads itself, and forms it must leave to encoding/json.
var decodeFastSamples = []string{
	`"gpt-4o-mini"`, `"caf\u00e9"`, "\"bad \xff\"", `true`, `false`, `null`, `16`, `-3`, `1.5`, `1e3`, `99999999999999999999`,
	`[{"role":"user","content":"Say hello."}]`,
	`[{"role":"system","content":"Be brief."},{"role":"user","name":"ann","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1"}]}]`,
	`[{"Role":"user","content":"x"}]`, `[{"r\u006fle":"user"}]`, `[{"role":"us\"er"}]`, `[{"role":1}]`,
	`[null]`, `[1]`, `[]`, `{"role":"user"}`, `[{"role":"a","role":"b","extra":{"role":2}}]`,
}

// FuzzDecodeFast holds decodeFast to encoding/json: whatever it decodes, json.Unmarshal
// decodes without error into the same value.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeFastSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !validText(raw) {
			return // decodeFast reads only members of a validated body
		}
		targets := []func() any{
			func() any { return new(string) },
			func() any { return new(bool) },
			func() any { return new(*int64) },
			func() any { return new([]chatMessage) },
		}
		for _, target := range targets {
			fast, slow := target(), target()
			if !decodeFast(raw, fast) {
				continue
			}
			if err := json.Unmarshal(raw, slow); err != nil {
				t.Fatalf("%s into %T: decodeFast took it, encoding/json says %v", raw, fast, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s into %T:\nfast %#v\nslow %#v", raw, fast, reflect.ValueOf(fast).Elem(), reflect.ValueOf(slow).Elem())
			}
		}
	})
}

func TestDecodeFastTakesTheUsualForms(t *testing.T) {
	var model string
	var stream bool
	var maxTokens *int64
	var msgs []chatMessage
	for _, c := range []struct {
		raw string
		ptr any
	}{{`"gpt-4o-mini"`, &model}, {`true`, &stream}, {`16`, &maxTokens}, {decodeFastSamples[12], &msgs}} {
		if !decodeFast([]byte(c.raw), c.ptr) {
			t.Fatalf("decodeFast left %s to encoding/json", c.raw)
		}
	}
	if model != "gpt-4o-mini" || !stream || *maxTokens != 16 || len(msgs) != 3 || msgs[1].Name != "ann" || string(msgs[2].ToolCalls) != `[{"id":"c1"}]` || string(msgs[2].Content) != "null" {
		t.Fatalf("got %q %v %d %+v", model, stream, *maxTokens, msgs)
	}
	for _, raw := range []string{`"caf\u00e9"`, `1.5`, `[{"Role":"user"}]`, `[{"role":1}]`, `[null]`} {
		var s string
		var m []chatMessage
		var n *int64
		if decodeFast([]byte(raw), &s) || decodeFast([]byte(raw), &m) || decodeFast([]byte(raw), &n) {
			t.Errorf("decodeFast took %s, which is encoding/json's to decode", raw)
		}
	}
}

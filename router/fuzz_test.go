package router

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParseChat: no body makes the parser panic, and whatever it accepts renders an
// upstream body that is one valid JSON object carrying exactly the model it billed.
func FuzzParseChat(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"http://x"}}]}],"stream":true}`,
		`{"model":"a","model":"b","messages":[{"role":"user","content":"x"}],"max_tokens":5,"n":2}`,
		`{"model":"m","messages":[{"role":"tool","content":null,"tool_calls":[]}],"tools":[{"type":"function"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"\ud83d\ude00"}],"stream":true,"stream_options":{"include_usage":false}}`,
		`[]`, `{}`, `{"model":1}`, `{"messages":{}}`,
		`{"Model":"m","MESSAGES":[{"Role":"u"}],"messages":[{"role":"v","name":"n"}],"max_Tokens":2,"n":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseChat(body)
		if err != nil {
			return
		}
		// Read member by member, the body gives what one json.Unmarshal of it whole
		// gives, unless a key repeats: then only its last value counts.
		var whole chatRequest
		if topLevelKeys(body) == len(p.members) && (json.Unmarshal(body, &whole) != nil || !reflect.DeepEqual(whole, p.req)) {
			t.Fatalf("members read %+v, the whole body %+v", p.req, whole)
		}
		if p.promptBound() < p.promptTokens(p.req.Model) && p.images == 0 {
			t.Fatalf("byte bound %d below the exact count %d for %q", p.promptBound(), p.promptTokens(p.req.Model), body)
		}
		out, err := p.upstreamBody("upstream-model", "max_tokens", 7)
		if err != nil {
			t.Fatalf("rendering an accepted body failed: %v", err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("upstream body is not a JSON object: %s", out)
		}
		var model string
		if json.Unmarshal(obj["model"], &model) != nil || model != "upstream-model" {
			t.Fatalf("upstream body model %s", obj["model"])
		}
		for _, k := range strippedFields {
			if _, ok := obj[k]; ok {
				t.Fatalf("upstream body kept %q", k)
			}
		}
	})
}

// topLevelKeys counts the keys of an accepted body's object, each time it occurs.
func topLevelKeys(body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	n := 0
	if _, err := dec.Token(); err != nil { // the object's opening brace
		return -1
	}
	for ; dec.More(); n++ {
		var skip json.RawMessage
		if _, err := dec.Token(); err != nil || dec.Decode(&skip) != nil {
			return -1
		}
	}
	return n
}

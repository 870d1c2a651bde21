package jsonobj

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSamples = []string{
	`{}`, `[]`, ` {"a" : [1, -2.5e+3, true, false, null, "x\"y\\\/\b\f\n\r\t\u00e9"], "b":{}} `, `"s"`, `0`, `-0`, `1.0E-2`,
	`{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `tru`, `nul`, `"\x"`, `"\u12g4"`,
	"\"tab\there\"", "\"\xff\"", `{"a":1}}`, `{"a":1} x`, `[`, `{`, `{"a"`, `{"a":`, `"abc`, ``, ` `, `[{]`, `{"a":[}`,
	`{"a":1,"b":[{"c":null}],"d":"e"}`, "\t\r\n[ ]\n",
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validSamples {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := map[string]string{"[": "]", `{"a":`: "}"}[open]
			s := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			if got, want := Valid(s), json.Valid(s); got != want {
				t.Errorf("depth %d of %q: Valid %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}

// FuzzValid holds Valid to json.Valid on every input.
func FuzzValid(f *testing.F) {
	for _, s := range validSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

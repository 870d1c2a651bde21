package router

import (
	"testing"
	"unicode/utf8"
)

func TestValidText(t *testing.T) {
	cases := map[string]bool{
		`{"a":"plain"}`:                       true,
		`{"a":"caf\u00e9 \ud83d\ude00"}`:      true,
		`{"a":"escaped \\ud800 backslash"}`:   true,
		`{"a":"lone high \ud800"}`:            false,
		`{"a":"lone low \udc00"}`:             false,
		`{"a":"high then text \ud800abc"}`:    false,
		`{"a":"reversed \udc00\ud800"}`:       false,
		`{"a":"truncated \ud8"}`:              false,
		"{\"a\":\"bad utf8 \xff\"}":           false,
		`{"a":"ok \u0041 and \"quote\""}`:     true,
		`{"a":"high + non-low \ud800\u0041"}`: false,
	}
	for in, want := range cases {
		if got := validText([]byte(in)); got != want {
			t.Errorf("validText(%s) = %v, want %v", in, got, want)
		}
	}
}

func FuzzValidText(f *testing.F) {
	for _, s := range []string{`{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `"\\u"`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validText(b), validTextByteByByte(b); got != want {
			t.Fatalf("validText(%q) = %v, the byte-by-byte reference says %v", b, got, want)
		}
	})
}

// validTextByteByByte is validText's reference: the same rules, one byte at a time.
func validTextByteByByte(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			n, ok := escapeLen(body, i)
			if !ok {
				return false
			}
			i += n - 1
		}
	}
	return true
}

package router

import "testing"

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
		validText(b) // must never panic or read out of bounds
	})
}

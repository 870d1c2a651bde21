package jsonenc

import (
	"encoding/json"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "nl\n\r\t", "ctl\x00\x1f", "é ✓ 😀", "bad\xff utf8", "<html> & </html>"} {
		var want string
		if err := json.Unmarshal(AppendString(nil, s), &want); err != nil {
			t.Fatalf("%q encodes to invalid JSON: %s", s, AppendString(nil, s))
		}
		var exp string
		raw, _ := json.Marshal(s)
		_ = json.Unmarshal(raw, &exp)
		if want != exp {
			t.Errorf("%q round-trips to %q, encoding/json gives %q", s, want, exp)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\n\x00\xff😀")
	f.Fuzz(func(t *testing.T, s string) {
		var got, exp string
		if err := json.Unmarshal(AppendString(nil, s), &got); err != nil {
			t.Fatalf("invalid JSON for %q", s)
		}
		raw, _ := json.Marshal(s)
		_ = json.Unmarshal(raw, &exp)
		if got != exp {
			t.Fatalf("%q decodes to %q, want %q", s, got, exp)
		}
	})
}

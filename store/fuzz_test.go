package store

import (
	"strings"
	"testing"
)

// FuzzWellFormedKey: the cheap key check never panics, never accepts anything that
// lacks the prefix or the exact length, and a key it accepts keeps its checksum.
func FuzzWellFormedKey(f *testing.F) {
	f.Add(GenerateKey())
	f.Add("sk-tg-")
	f.Add("sk-tg-" + strings.Repeat("A", 36))
	f.Add("")
	f.Fuzz(func(t *testing.T, key string) {
		if !WellFormedKey(key) {
			return
		}
		if !strings.HasPrefix(key, KeyPrefix) || len(key) != keyLen {
			t.Fatalf("accepted %q", key)
		}
		body := key[len(KeyPrefix):]
		if checksum(body[:keyRandomLen]) != body[keyRandomLen:] {
			t.Fatalf("accepted a wrong checksum: %q", key)
		}
	})
}

package body

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadBounded(t *testing.T) {
	if b, err := ReadBounded(strings.NewReader("hello"), 5, 5); err != nil || string(b) != "hello" {
		t.Fatalf("at the limit: %q %v", b, err)
	}
	if _, err := ReadBounded(strings.NewReader("hello!"), -1, 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("past the limit: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 10); got != "short" {
		t.Fatalf("%q", got)
	}
	got := Truncate(strings.Repeat("é", 10), 7)
	if len(got) > 7 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("%q (%d bytes)", got, len(got))
	}
}

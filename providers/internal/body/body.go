// Package body holds what every adapter does with an upstream's bytes: read them
// within a bound, and cut messages short for logs and errors.
package body

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// ErrTooLarge is returned by ReadBounded for a body past its limit.
var ErrTooLarge = errors.New("body exceeds the size limit")

// ReadBounded reads all of r, failing with ErrTooLarge past limit bytes; size is the
// announced length (or -1) and only sizes the first allocation.
func ReadBounded(r io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size > limit {
		size = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// Truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

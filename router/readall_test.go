package router

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		length int64
		err    error
	}{
		{"declared", `{"model":"m"}`, 13, nil},
		{"unknown length", `{"model":"m"}`, -1, nil},
		{"shorter than declared", `{"model"`, 13, io.ErrUnexpectedEOF},
		{"longer than declared", `{"model":"m"}  `, 13, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(strings.NewReader(tc.body), tc.length)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err == nil && string(got) != tc.body {
				t.Fatalf("read %q, want %q", got, tc.body)
			}
			if tc.err == nil && tc.length == int64(len(tc.body)) && cap(got) > len(got)+1 {
				t.Fatalf("capacity %d for a %d-byte body", cap(got), len(got))
			}
		})
	}
}

package store

import (
	"crypto/rand"
	"encoding/hex"
)

// newID returns a prefixed random identifier ("ten_1f3a…"): unguessable, so an id
// seen in one tenant's answer tells nothing about another's, and readable in logs.
func newID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

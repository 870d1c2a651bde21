package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
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

// newTimeID returns a prefixed identifier that sorts by creation time: 48 bits of
// Unix milliseconds, then 48 random bits. The calls' holds (the ledger's refs) use
// it: rows indexed by an ordered key land on the last index page instead of a
// random one, which keeps each commit of the write-behind to a few dirty pages.
func newTimeID(prefix string) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"strings"
)

// API keys look like sk-tg-<30 random base62 chars><6 base62 chars of CRC-32>.
// 30 base62 characters carry 178 random bits; the checksum lets the gateway refuse a
// mistyped or made-up key without touching the database.
const (
	KeyPrefix     = "sk-tg-"
	keyRandomLen  = 30
	keyChecksum   = 6
	keyLen        = len(KeyPrefix) + keyRandomLen + keyChecksum
	base62Digits  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	keyHintLength = len(KeyPrefix) + 4
)

// GenerateKey returns a new API key; only its digest is ever stored.
func GenerateKey() string {
	var b strings.Builder
	b.Grow(keyLen)
	b.WriteString(KeyPrefix)
	n := big.NewInt(int64(len(base62Digits)))
	for i := 0; i < keyRandomLen; i++ {
		d, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(base62Digits[d.Int64()])
	}
	random := b.String()[len(KeyPrefix):]
	b.WriteString(checksum(random))
	return b.String()
}

func checksum(random string) string { return string(appendChecksum(nil, random)) }

// appendChecksum appends the keyChecksum base62 digits of random's CRC-32.
func appendChecksum(dst []byte, random string) []byte {
	sum := crc32.ChecksumIEEE([]byte(random))
	var out [keyChecksum]byte
	for i := keyChecksum - 1; i >= 0; i-- {
		out[i] = base62Digits[sum%62]
		sum /= 62
	}
	return append(dst, out[:]...)
}

// WellFormedKey checks prefix, length, alphabet and checksum: a cheap filter that
// keeps garbage keys away from the database.
func WellFormedKey(key string) bool {
	if len(key) != keyLen || !strings.HasPrefix(key, KeyPrefix) {
		return false
	}
	body := key[len(KeyPrefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62[body[i]] {
			return false
		}
	}
	var sum [keyChecksum]byte
	return string(appendChecksum(sum[:0], body[:keyRandomLen])) == body[keyRandomLen:]
}

var isBase62 = func() (t [256]bool) {
	for i := 0; i < len(base62Digits); i++ {
		t[base62Digits[i]] = true
	}
	return t
}()

// KeyDigest is the stored form of a key: SHA-256, hex. Keys carry 178 random bits,
// so a fast hash is enough; a slow password hash would only slow every call.
func KeyDigest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyHint is the part of a key safe to show again: its first characters.
func keyHint(key string) string { return key[:keyHintLength] + "…" }

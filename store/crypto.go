package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealer encrypts upstream API keys at rest with AES-256-GCM. Its key is the
// operator's secret key, kept apart from the admin credential.
type sealer struct{ aead cipher.AEAD }

// ErrBadSecretKey means the encryption key is missing or not 32 bytes.
var ErrBadSecretKey = errors.New("secret key must be 32 bytes")

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, ErrBadSecretKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns base64(nonce || ciphertext); the row id is bound in as associated
// data so a ciphertext copied onto another channel does not decrypt.
func (s *sealer) seal(plain, rowID string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(rowID))
	return base64.StdEncoding.EncodeToString(out), nil
}

func (s *sealer) open(sealed, rowID string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("stored upstream key is corrupt")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(rowID))
	if err != nil {
		return "", fmt.Errorf("stored upstream key does not decrypt: wrong TOLLGATE_SECRET_KEY?")
	}
	return string(plain), nil
}

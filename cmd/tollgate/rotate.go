package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// secretRotate re-encrypts every upstream API key under a new secret key. With the
// key kept in the data directory the file is replaced too (the new key is written
// beside it first, swapped in only after the database commits); with
// TOLLGATE_SECRET_KEY the new key is printed for the operator to roll out.
func (c *cli) secretRotate(ctx context.Context, cfg Config) error {
	newHex := c.get("new-secret-key")
	if newHex == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		newHex = hex.EncodeToString(b)
	}
	newKey, err := decodeSecretKey(newHex)
	if err != nil {
		return fmt.Errorf("--new-secret-key: %w", err)
	}
	keyFile := ""
	if cfg.SecretKey == "" {
		keyFile = filepath.Join(cfg.DataDir, "secret.key")
		if err := os.WriteFile(keyFile+".new", []byte(hex.EncodeToString(newKey)+"\n"), 0o600); err != nil {
			return err
		}
	}
	n, err := c.st.RotateSecretKey(ctx, newKey)
	if err != nil {
		if keyFile != "" {
			_ = os.Remove(keyFile + ".new") // best effort: the rotation's error is the one to report
		}
		return fmt.Errorf("nothing changed: %w", err)
	}
	if keyFile != "" {
		if err := os.Rename(keyFile+".new", keyFile); err != nil {
			return fmt.Errorf("the database now uses the key in %s.new, but it could not replace %s: %w — move it into place by hand", keyFile, keyFile, err)
		}
		fmt.Fprintf(c.out, "re-encrypted %d upstream keys; %s holds the new key. Restart the gateway.\n", n, keyFile)
		return nil
	}
	fmt.Fprintf(c.out, "re-encrypted %d upstream keys. Set TOLLGATE_SECRET_KEY=%s on every gateway process and restart them.\n", n, hex.EncodeToString(newKey))
	return nil
}

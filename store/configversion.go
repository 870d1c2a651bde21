package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// configVersionSetting changes (to a fresh random value) in the same transaction as
// every change to channels, prices or key revocations — whoever makes it: the admin
// API of any node, or the CLI. Gateways poll it to know when their caches are stale.
const configVersionSetting = "config_version"

func bumpConfigVersion(tx *gorm.DB) error {
	return tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		configVersionSetting, newID("cfg")).Error
}

// ConfigVersion returns the current configuration version ("" before any change).
func (s *Store) ConfigVersion(ctx context.Context) (string, error) {
	v, err := s.Setting(ctx, configVersionSetting)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

package store

import (
	"context"

	"gorm.io/gorm"
)

// Setting reads one named setting; ErrNotFound when it was never set.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var values []string
	if err := s.r.WithContext(ctx).Raw(`SELECT value FROM settings WHERE name = ?`, name).Scan(&values).Error; err != nil {
		return "", wrapDBError(err)
	}
	if len(values) == 0 {
		return "", ErrNotFound
	}
	return values[0], nil
}

// SetSettingOnce stores a setting only if it does not exist yet and reports whether
// it did; two nodes starting at once therefore agree on one value.
func (s *Store) SetSettingOnce(ctx context.Context, name, value string) (bool, error) {
	created := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value)
		created = res.RowsAffected == 1
		return res.Error
	})
	return created, err
}

// PutSetting stores or replaces a setting.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value).Error
	})
}

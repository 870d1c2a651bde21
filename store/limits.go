package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// migrationLimits adds per-key and per-tenant rate limits (0 = unlimited).
const migrationLimits = `ALTER TABLE api_keys ADD COLUMN limit_rpm BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE api_keys ADD COLUMN limit_tpm BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE api_keys ADD COLUMN limit_streams BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE tenants ADD COLUMN limit_rpm BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE tenants ADD COLUMN limit_tpm BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE tenants ADD COLUMN limit_streams BIGINT NOT NULL DEFAULT 0`

// RateLimits caps how fast a key or a tenant may call: requests and tokens per
// minute and concurrent streams. Zero means no cap.
type RateLimits struct {
	RequestsPerMinute int64 `gorm:"column:limit_rpm"`
	TokensPerMinute   int64 `gorm:"column:limit_tpm"`
	ConcurrentStreams int64 `gorm:"column:limit_streams"`
}

// Any says whether at least one cap is set.
func (l RateLimits) Any() bool {
	return l.RequestsPerMinute > 0 || l.TokensPerMinute > 0 || l.ConcurrentStreams > 0
}

const limitColumns = `limit_rpm, limit_tpm, limit_streams`

func (l RateLimits) valid() error {
	if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.ConcurrentStreams < 0 {
		return fmt.Errorf("%w: rate limits must not be negative (0 means unlimited)", ErrInvalid)
	}
	return nil
}

// SetKeyLimits changes a key's rate limits; gateways see it at their next
// configuration poll.
func (s *Store) SetKeyLimits(ctx context.Context, id string, l RateLimits) error {
	return s.setLimits(ctx, "api_keys", "key", id, l)
}

// SetTenantLimits changes a tenant's rate limits (shared by all its keys).
func (s *Store) SetTenantLimits(ctx context.Context, id string, l RateLimits) error {
	return s.setLimits(ctx, "tenants", "tenant", id, l)
}

func (s *Store) setLimits(ctx context.Context, table, what, id string, l RateLimits) error {
	if err := l.valid(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE `+table+` SET limit_rpm = ?, limit_tpm = ?, limit_streams = ? WHERE id = ?`,
			l.RequestsPerMinute, l.TokensPerMinute, l.ConcurrentStreams, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: %s %s", ErrNotFound, what, id)
		}
		return bumpConfigVersion(tx)
	})
}

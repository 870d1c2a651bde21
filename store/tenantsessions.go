package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// TenantSession is a signed-in tenant user. Only the SHA-256 digest of the session
// id is stored, as for admin sessions.
type TenantSession struct {
	UserID     string
	TenantID   string
	TenantName string
	Email      string
	ExpiresAt  int64 // Unix ms
	CreatedAt  int64
}

// Expires is when the session ends unless it is extended.
func (s TenantSession) Expires() time.Time { return Millis(s.ExpiresAt) }

// CreateTenantSession starts a session for a tenant user and returns its id, which
// exists only in the user's cookie.
func (s *Store) CreateTenantSession(ctx context.Context, userID string, ttl time.Duration) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := nowMillis()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM tenant_users WHERE id = ?`, userID).Scan(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: tenant user %s", ErrNotFound, userID)
		}
		if err := tx.Exec(`DELETE FROM tenant_sessions WHERE user_id = ? AND expires_at <= ?`, userID, now).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO tenant_sessions (digest, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)`,
			sessionDigest(id), userID, now+ttl.Milliseconds(), now).Error
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// TenantSession finds a live tenant session by its id, with the user's tenant;
// ErrNotFound when it is unknown, ended, or its user is gone.
func (s *Store) TenantSession(ctx context.Context, id string, now time.Time) (TenantSession, error) {
	var rows []TenantSession
	err := s.read(ctx).Raw(`SELECT s.user_id, u.tenant_id, t.name AS tenant_name, u.email, s.expires_at, s.created_at
		FROM tenant_sessions s JOIN tenant_users u ON u.id = s.user_id JOIN tenants t ON t.id = u.tenant_id
		WHERE s.digest = ? AND s.expires_at > ?`, sessionDigest(id), now.UnixMilli()).Scan(&rows).Error
	if err != nil {
		return TenantSession{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return TenantSession{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	return rows[0], nil
}

// ExtendTenantSession moves a live session's end to until.
func (s *Store) ExtendTenantSession(ctx context.Context, id string, until time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE tenant_sessions SET expires_at = ? WHERE digest = ? AND expires_at > ?`,
			until.UnixMilli(), sessionDigest(id), nowMillis()).Error
	})
}

// DeleteTenantSession ends a session (sign-out); ending an unknown one is not an error.
func (s *Store) DeleteTenantSession(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM tenant_sessions WHERE digest = ?`, sessionDigest(id)).Error
	})
}

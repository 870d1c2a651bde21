package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// TenantUser is a person who signs in to the tenant portal and sees one tenant only.
// The password is kept only as an Argon2id hash, as admin passwords are.
type TenantUser struct {
	ID          string
	TenantID    string
	Email       string
	CreatedAt   int64
	UpdatedAt   int64
	LastLoginAt int64 // Unix ms; 0 before the first sign-in
}

const tenantUserColumns = `id, tenant_id, email, created_at, updated_at, last_login_at`

// AuthenticateTenantUser checks an email and password and records the sign-in;
// ErrBadCredentials when either is wrong, taking as long for an unknown email.
func (s *Store) AuthenticateTenantUser(ctx context.Context, email, password string) (TenantUser, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var rows []struct {
		TenantUser
		PasswordHash string
	}
	if err := s.read(ctx).Raw(`SELECT `+tenantUserColumns+`, password_hash FROM tenant_users WHERE email = ?`, email).Scan(&rows).Error; err != nil {
		return TenantUser{}, wrapDBError(err)
	}
	if len(rows) == 0 || len(password) > maxPasswordBytes {
		verifyPassword(decoy(), password)
		return TenantUser{}, ErrBadCredentials
	}
	if !verifyPassword(rows[0].PasswordHash, password) {
		return TenantUser{}, ErrBadCredentials
	}
	u := rows[0].TenantUser
	u.LastLoginAt = nowMillis()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE tenant_users SET last_login_at = ? WHERE id = ?`, u.LastLoginAt, u.ID).Error
	})
	return u, err
}

// TenantUsers lists a tenant's users by email.
func (s *Store) TenantUsers(ctx context.Context, tenantID string) ([]TenantUser, error) {
	var us []TenantUser
	err := s.read(ctx).Raw(`SELECT `+tenantUserColumns+` FROM tenant_users WHERE tenant_id = ? ORDER BY email`, tenantID).Scan(&us).Error
	return us, wrapDBError(err)
}

// DeleteTenantUser removes a tenant's user and every session of it.
func (s *Store) DeleteTenantUser(ctx context.Context, tenantID, userID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM tenant_sessions WHERE user_id IN (SELECT id FROM tenant_users WHERE id = ? AND tenant_id = ?)`, userID, tenantID).Error; err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM tenant_users WHERE id = ? AND tenant_id = ?`, userID, tenantID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: no user %s in this tenant", ErrNotFound, userID)
		}
		return nil
	})
}

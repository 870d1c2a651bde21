package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Invite is a one-time link an admin sends so a person can set a password and join
// a tenant (or, for an existing user of that tenant, set a new password). Only the
// digest of its token is stored.
type Invite struct {
	ID        string
	TenantID  string
	Email     string
	ExpiresAt int64
	UsedAt    int64
	CreatedAt int64
}

// MaxInviteTTL bounds how long an invite link stays valid.
const MaxInviteTTL = 30 * 24 * time.Hour

// CreateInvite makes a one-time invite for email to join a tenant and returns it
// with its token (shown to the admin this once, for the link). An email belongs to
// at most one tenant: inviting a user of another tenant is ErrConflict.
func (s *Store) CreateInvite(ctx context.Context, tenantID, email string, ttl time.Duration) (Invite, string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Invite{}, "", err
	}
	if ttl <= 0 || ttl > MaxInviteTTL {
		return Invite{}, "", fmt.Errorf("%w: an invite is valid for at most %d days", ErrInvalid, int(MaxInviteTTL/(24*time.Hour)))
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := nowMillis()
	inv := Invite{ID: newID("inv"), TenantID: tenantID, Email: email, ExpiresAt: now + ttl.Milliseconds(), CreatedAt: now}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.tenantWith(tx, tenantID); err != nil {
			return err
		}
		var owners []string
		if err := tx.Raw(`SELECT tenant_id FROM tenant_users WHERE email = ?`, email).Scan(&owners).Error; err != nil {
			return err
		}
		if len(owners) > 0 && owners[0] != tenantID {
			return fmt.Errorf("%w: %s already signs in to another tenant; one email belongs to one tenant", ErrConflict, email)
		}
		return tx.Exec(`INSERT INTO tenant_invites (id, digest, tenant_id, email, expires_at, used_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)`,
			inv.ID, sessionDigest(token), inv.TenantID, inv.Email, inv.ExpiresAt, inv.CreatedAt).Error
	})
	if err != nil {
		return Invite{}, "", err
	}
	return inv, token, nil
}

// InviteByToken finds an invite that can still be accepted; ErrNotFound when the
// token is unknown, used or expired.
func (s *Store) InviteByToken(ctx context.Context, token string, now time.Time) (Invite, error) {
	var rows []Invite
	err := s.read(ctx).Raw(`SELECT id, tenant_id, email, expires_at, used_at, created_at FROM tenant_invites
		WHERE digest = ? AND used_at = 0 AND expires_at > ?`, sessionDigest(token), now.UnixMilli()).Scan(&rows).Error
	if err != nil {
		return Invite{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return Invite{}, fmt.Errorf("%w: invite", ErrNotFound)
	}
	return rows[0], nil
}

// Invites lists a tenant's invites, newest first (used and expired ones included).
func (s *Store) Invites(ctx context.Context, tenantID string) ([]Invite, error) {
	var rows []Invite
	err := s.read(ctx).Raw(`SELECT id, tenant_id, email, expires_at, used_at, created_at FROM tenant_invites
		WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT 200`, tenantID).Scan(&rows).Error
	return rows, wrapDBError(err)
}

// RevokeInvite makes an unused, unexpired invite of a tenant unusable.
func (s *Store) RevokeInvite(ctx context.Context, tenantID, inviteID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		now := nowMillis()
		res := tx.Exec(`UPDATE tenant_invites SET expires_at = ? WHERE id = ? AND tenant_id = ? AND used_at = 0 AND expires_at > ?`, now, inviteID, tenantID, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: no unused invite %s for this tenant", ErrNotFound, inviteID)
		}
		return nil
	})
}

// AcceptInvite uses an invite once: it creates the tenant user with password, or
// for an existing user of that tenant replaces the password and ends its sessions.
// Two racing acceptances of one token cannot both succeed.
func (s *Store) AcceptInvite(ctx context.Context, token, password string) (TenantUser, error) {
	if err := CheckPassword(password); err != nil {
		return TenantUser{}, err
	}
	hash := hashPassword(password)
	var u TenantUser
	err := s.tx(ctx, func(tx *gorm.DB) error {
		now := nowMillis()
		var invs []Invite
		if err := tx.Raw(`SELECT id, tenant_id, email, expires_at, used_at, created_at FROM tenant_invites
			WHERE digest = ? AND used_at = 0 AND expires_at > ?`, sessionDigest(token), now).Scan(&invs).Error; err != nil {
			return err
		}
		if len(invs) == 0 {
			return fmt.Errorf("%w: this invite link is unknown, was already used, or expired; ask your operator for a new one", ErrNotFound)
		}
		inv := invs[0]
		res := tx.Exec(`UPDATE tenant_invites SET used_at = ? WHERE id = ? AND used_at = 0`, now, inv.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: this invite link was already used", ErrNotFound)
		}
		var existing []TenantUser
		if err := tx.Raw(`SELECT `+tenantUserColumns+` FROM tenant_users WHERE email = ?`, inv.Email).Scan(&existing).Error; err != nil {
			return err
		}
		if len(existing) > 0 {
			u = existing[0]
			if u.TenantID != inv.TenantID {
				return fmt.Errorf("%w: %s already signs in to another tenant", ErrConflict, inv.Email)
			}
			u.UpdatedAt = now
			if err := tx.Exec(`UPDATE tenant_users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, now, u.ID).Error; err != nil {
				return err
			}
			return tx.Exec(`DELETE FROM tenant_sessions WHERE user_id = ?`, u.ID).Error
		}
		u = TenantUser{ID: newID("tu"), TenantID: inv.TenantID, Email: inv.Email, CreatedAt: now, UpdatedAt: now}
		return tx.Exec(`INSERT INTO tenant_users (id, tenant_id, email, password_hash, created_at, updated_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?, 0)`,
			u.ID, u.TenantID, u.Email, hash, now, now).Error
	})
	if err != nil {
		return TenantUser{}, err
	}
	return u, nil
}

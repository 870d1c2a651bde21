package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AdminSession is a signed-in dashboard user. Only the SHA-256 digest of the session
// id is stored, so a copy of the database cannot be used to sign in.
type AdminSession struct {
	UserID    string
	Email     string
	ExpiresAt int64 // Unix ms
	CreatedAt int64
}

// Expires is when the session ends unless it is extended.
func (s AdminSession) Expires() time.Time { return Millis(s.ExpiresAt) }

// sessionDigest is the stored form of a session id.
func sessionDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateSession starts a session for a user and returns its id — 32 random bytes,
// base64url — which exists only in the user's cookie.
func (s *Store) CreateSession(ctx context.Context, userID string, ttl time.Duration) (string, AdminSession, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := nowMillis()
	sess := AdminSession{UserID: userID, CreatedAt: now, ExpiresAt: now + ttl.Milliseconds()}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT email FROM admin_users WHERE id = ?`, userID).Scan(&sess.Email).Error; err != nil {
			return err
		}
		if sess.Email == "" {
			return fmt.Errorf("%w: admin user %s", ErrNotFound, userID)
		}
		// Sweep this user's ended sessions while here, so the table does not grow.
		if err := tx.Exec(`DELETE FROM admin_sessions WHERE user_id = ? AND expires_at <= ?`, userID, now).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO admin_sessions (digest, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)`,
			sessionDigest(id), userID, sess.ExpiresAt, now).Error
	})
	if err != nil {
		return "", AdminSession{}, err
	}
	return id, sess, nil
}

// Session finds a live session by its id; ErrNotFound when it is unknown, ended or
// its user is gone.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (AdminSession, error) {
	var rows []AdminSession
	err := s.read(ctx).Raw(`SELECT s.user_id, u.email, s.expires_at, s.created_at FROM admin_sessions s
		JOIN admin_users u ON u.id = s.user_id WHERE s.digest = ? AND s.expires_at > ?`, sessionDigest(id), now.UnixMilli()).Scan(&rows).Error
	if err != nil {
		return AdminSession{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return AdminSession{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	return rows[0], nil
}

// ExtendSession moves a live session's end to until.
func (s *Store) ExtendSession(ctx context.Context, id string, until time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE admin_sessions SET expires_at = ? WHERE digest = ? AND expires_at > ?`,
			until.UnixMilli(), sessionDigest(id), nowMillis()).Error
	})
}

// DeleteSession ends a session (sign-out); ending an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM admin_sessions WHERE digest = ?`, sessionDigest(id)).Error
	})
}

// LoginFailures counts the failed sign-ins of a subject (the caller's digest of
// address and email) since a time, and returns the oldest of them, from which the
// caller can tell when the next attempt is allowed.
func (s *Store) LoginFailures(ctx context.Context, subject string, since time.Time) (int64, time.Time, error) {
	var row struct {
		N      int64
		Oldest int64
	}
	err := s.read(ctx).Raw(`SELECT COUNT(*) AS n, COALESCE(MIN(created_at), 0) AS oldest FROM admin_login_failures
		WHERE subject = ? AND created_at > ?`, subject, since.UnixMilli()).Scan(&row).Error
	return row.N, Millis(row.Oldest), wrapDBError(err)
}

// RecordLoginFailure notes a failed sign-in and drops this subject's failures older
// than forget, so the table holds only what a rate limit can still use.
func (s *Store) RecordLoginFailure(ctx context.Context, subject string, now time.Time, forget time.Duration) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM admin_login_failures WHERE subject = ? AND created_at <= ?`, subject, now.Add(-forget).UnixMilli()).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO admin_login_failures (subject, created_at) VALUES (?, ?)`, subject, now.UnixMilli()).Error
	})
}

// ClearLoginFailures forgets a subject's failures after it signed in.
func (s *Store) ClearLoginFailures(ctx context.Context, subject string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM admin_login_failures WHERE subject = ?`, subject).Error
	})
}

package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"
)

// AdminUser is a person who may sign in to the dashboard. The password is kept only
// as an Argon2id hash.
type AdminUser struct {
	ID          string
	Email       string
	CreatedAt   int64
	UpdatedAt   int64
	LastLoginAt int64 // Unix ms; 0 before the first sign-in
}

// ErrBadCredentials is the one answer to a failed sign-in, whether the email is
// unknown or the password wrong, so a sign-in form cannot be used to find accounts.
var ErrBadCredentials = errors.New("wrong email or password")

// Password length bounds: long enough to resist guessing, short enough that hashing
// a pasted novel cannot be used to burn CPU.
const (
	MinPasswordLength = 10
	maxPasswordBytes  = 1024
)

// Argon2id parameters (RFC 9106 / OWASP: 19 MiB, 2 passes, 1 lane). They are written
// into every hash, so raising them later still verifies old hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// NormalizeEmail checks an address and returns it trimmed and lower-cased, the form
// it is stored and looked up in.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return "", fmt.Errorf("%w: %q is not an email address such as ops@example.com", ErrInvalid, shortText(email, 60))
	}
	return email, nil
}

// CheckPassword says why a new password is refused, or nil.
func CheckPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return fmt.Errorf("%w: the password must have at least %d characters", ErrInvalid, MinPasswordLength)
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("%w: the password must have at most %d bytes", ErrInvalid, maxPasswordBytes)
	}
	return nil
}

// hashPassword returns a PHC-style Argon2id string: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func hashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// verifyPassword checks a password against a hash made by hashPassword, in constant
// time; a malformed hash never verifies.
func verifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil || mem == 0 || iters == 0 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	// #nosec G115 -- want is a digest read from the stored hash (argonKeyLen bytes when
	// hashPassword wrote it), nowhere near 1<<32 bytes.
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

var (
	decoyOnce sync.Once
	decoyHash string
)

// decoy is a hash to verify against when the email is unknown, so an unknown email
// takes as long to refuse as a wrong password.
func decoy() string {
	decoyOnce.Do(func() { decoyHash = hashPassword("tollgate-decoy-password") })
	return decoyHash
}

const adminUserColumns = `id, email, created_at, updated_at, last_login_at`

// CreateAdminUser adds a dashboard user; ErrConflict when the email is taken.
func (s *Store) CreateAdminUser(ctx context.Context, email, password string) (AdminUser, error) {
	return s.createAdminUser(ctx, email, password, false)
}

// bootstrapSetting marks that the admin token was used to create the first user,
// which the dashboard allows once.
const bootstrapSetting = "admin_bootstrapped_at"

// CreateFirstAdminUser adds a user only while there is none and the bootstrap was
// never used before (ErrConflict otherwise). The dashboard's sign-in form calls it
// for the operator who proves to hold the admin token.
func (s *Store) CreateFirstAdminUser(ctx context.Context, email, password string) (AdminUser, error) {
	return s.createAdminUser(ctx, email, password, true)
}

func (s *Store) createAdminUser(ctx context.Context, email, password string, first bool) (AdminUser, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return AdminUser{}, err
	}
	if err := CheckPassword(password); err != nil {
		return AdminUser{}, err
	}
	hash := hashPassword(password)
	now := nowMillis()
	u := AdminUser{ID: newID("adm"), Email: email, CreatedAt: now, UpdatedAt: now}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if first {
			var n int64
			if err := tx.Raw(`SELECT COUNT(*) FROM admin_users`).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: an admin user already exists; sign in, or add users with `tollgate admin create`", ErrConflict)
			}
			// The settings row makes the bootstrap single-use across nodes: the second
			// of two racing transactions inserts nothing.
			res := tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, bootstrapSetting, fmt.Sprint(now))
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return fmt.Errorf("%w: the admin token was already used to create the first user; add users with `tollgate admin create`", ErrConflict)
			}
		}
		return tx.Exec(`INSERT INTO admin_users (id, email, password_hash, created_at, updated_at, last_login_at) VALUES (?, ?, ?, ?, ?, 0)`,
			u.ID, u.Email, hash, now, now).Error
	})
	if err != nil {
		return AdminUser{}, wrapConflict(err, "an admin user with email %s already exists", email)
	}
	return u, nil
}

// AdminUserCount counts dashboard users; the sign-in page offers the bootstrap
// form only while it is 0.
func (s *Store) AdminUserCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.read(ctx).Raw(`SELECT COUNT(*) FROM admin_users`).Scan(&n).Error
	return n, wrapDBError(err)
}

// AdminUsers lists dashboard users by email.
func (s *Store) AdminUsers(ctx context.Context) ([]AdminUser, error) {
	var us []AdminUser
	err := s.read(ctx).Raw(`SELECT ` + adminUserColumns + ` FROM admin_users ORDER BY email`).Scan(&us).Error
	return us, wrapDBError(err)
}

// AuthenticateAdmin checks an email and password and records the sign-in;
// ErrBadCredentials when either is wrong.
func (s *Store) AuthenticateAdmin(ctx context.Context, email, password string) (AdminUser, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var rows []struct {
		AdminUser
		PasswordHash string
	}
	if err := s.read(ctx).Raw(`SELECT `+adminUserColumns+`, password_hash FROM admin_users WHERE email = ?`, email).Scan(&rows).Error; err != nil {
		return AdminUser{}, wrapDBError(err)
	}
	if len(rows) == 0 || len(password) > maxPasswordBytes {
		verifyPassword(decoy(), password)
		return AdminUser{}, ErrBadCredentials
	}
	if !verifyPassword(rows[0].PasswordHash, password) {
		return AdminUser{}, ErrBadCredentials
	}
	u := rows[0].AdminUser
	u.LastLoginAt = nowMillis()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE admin_users SET last_login_at = ? WHERE id = ?`, u.LastLoginAt, u.ID).Error
	})
	return u, err
}

// SetAdminPassword replaces a user's password and ends all of that user's sessions.
func (s *Store) SetAdminPassword(ctx context.Context, email, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	hash := hashPassword(password)
	return s.tx(ctx, func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Raw(`SELECT id FROM admin_users WHERE email = ?`, email).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("%w: no admin user with email %s", ErrNotFound, email)
		}
		if err := tx.Exec(`UPDATE admin_users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, nowMillis(), ids[0]).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM admin_sessions WHERE user_id = ?`, ids[0]).Error
	})
}

// DeleteAdminUser removes a user and every session of it.
func (s *Store) DeleteAdminUser(ctx context.Context, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	return s.tx(ctx, func(tx *gorm.DB) error {
		var ids []string
		if err := tx.Raw(`SELECT id FROM admin_users WHERE email = ?`, email).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("%w: no admin user with email %s", ErrNotFound, email)
		}
		if err := tx.Exec(`DELETE FROM admin_sessions WHERE user_id = ?`, ids[0]).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM admin_users WHERE id = ?`, ids[0]).Error
	})
}

// shortText cuts echoed input to a readable length.
func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

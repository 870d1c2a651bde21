package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// APIKey is a tenant's credential for /v1, with its own limits.
type APIKey struct {
	ID        string
	TenantID  string
	Name      string
	Hint      string         // first characters of the key, safe to display
	Models    []string       // allowed models; empty means every model
	Budget    *billing.Nanos // spending cap for this key; nil means none
	Spent     billing.Nanos
	Held      billing.Nanos
	ExpiresAt int64 // Unix ms; 0 never
	RevokedAt int64 // Unix ms; 0 while active
	CreatedAt int64
	// Limits are the key's own rate limits; TenantLimits its tenant's (shared by
	// all the tenant's keys), read with the key so a call needs one lookup.
	Limits       RateLimits
	TenantLimits RateLimits
}

// Status is "revoked", "expired" or "active" at the given time.
func (k APIKey) Status(now time.Time) string {
	switch {
	case k.RevokedAt != 0:
		return "revoked"
	case !k.Active(now):
		return "expired"
	}
	return "active"
}

// Active says whether the key may be used at the given time.
func (k APIKey) Active(now time.Time) bool {
	return k.RevokedAt == 0 && (k.ExpiresAt == 0 || now.UnixMilli() < k.ExpiresAt)
}

// AllowsModel says whether the key may call model.
func (k APIKey) AllowsModel(model string) bool {
	if len(k.Models) == 0 {
		return true
	}
	for _, m := range k.Models {
		if m == model {
			return true
		}
	}
	return false
}

type keyRow struct {
	ID        string
	TenantID  string
	Name      string
	Hint      string
	Models    string
	Budget    *int64
	Spent     int64
	Held      int64
	ExpiresAt int64
	RevokedAt int64
	CreatedAt int64
	RateLimits
}

const keyColumns = `id, tenant_id, name, hint, models, budget, spent, held, expires_at, revoked_at, created_at, ` + limitColumns

func (r keyRow) key() APIKey {
	k := APIKey{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Hint: r.Hint, Spent: billing.Nanos(r.Spent),
		Held: billing.Nanos(r.Held), ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, CreatedAt: r.CreatedAt, Limits: r.RateLimits}
	_ = json.Unmarshal([]byte(r.Models), &k.Models)
	if r.Budget != nil {
		b := billing.Nanos(*r.Budget)
		k.Budget = &b
	}
	return k
}

// NewKey describes a key to create.
type NewKey struct {
	TenantID  string
	Name      string
	Models    []string
	Budget    *billing.Nanos
	ExpiresAt time.Time // zero: never
}

// CreateKey makes a key for a tenant and returns it with its secret, which is shown
// to the caller this once and never stored.
func (s *Store) CreateKey(ctx context.Context, nk NewKey) (APIKey, string, error) {
	if nk.Budget != nil && *nk.Budget < 0 {
		return APIKey{}, "", fmt.Errorf("%w: budget must not be negative", ErrInvalid)
	}
	models := cleanModels(nk.Models)
	secret := GenerateKey()
	k := APIKey{ID: newID("key"), TenantID: nk.TenantID, Name: strings.TrimSpace(nk.Name), Hint: keyHint(secret),
		Models: models, Budget: nk.Budget, CreatedAt: nowMillis()}
	if !nk.ExpiresAt.IsZero() {
		k.ExpiresAt = nk.ExpiresAt.UnixMilli()
	}
	modelsJSON, _ := json.Marshal(models)
	var budget *int64
	if nk.Budget != nil {
		b := int64(*nk.Budget)
		budget = &b
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.tenantWith(tx, nk.TenantID); err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO api_keys (id, tenant_id, name, digest, hint, models, budget, spent, held, expires_at, revoked_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, 0, ?)`,
			k.ID, k.TenantID, k.Name, KeyDigest(secret), k.Hint, string(modelsJSON), budget, k.ExpiresAt, k.CreatedAt).Error
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

// KeyByDigest finds the key a client presented (revoked and expired ones included:
// the caller decides, so it can say why a key is refused).
func (s *Store) KeyByDigest(ctx context.Context, digest string) (APIKey, error) {
	var rows []keyRow
	if err := s.r.WithContext(ctx).Raw(`SELECT `+keyColumns+` FROM api_keys WHERE digest = ?`, digest).Scan(&rows).Error; err != nil {
		return APIKey{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return APIKey{}, fmt.Errorf("%w: key", ErrNotFound)
	}
	k := rows[0].key()
	var tl []RateLimits
	if err := s.r.WithContext(ctx).Raw(`SELECT `+limitColumns+` FROM tenants WHERE id = ?`, k.TenantID).Scan(&tl).Error; err != nil {
		return APIKey{}, wrapDBError(err)
	}
	if len(tl) == 1 {
		k.TenantLimits = tl[0]
	}
	return k, nil
}

// Key reads one key by id.
func (s *Store) Key(ctx context.Context, id string) (APIKey, error) {
	var rows []keyRow
	if err := s.read(ctx).Raw(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return APIKey{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return APIKey{}, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return s.withMemHeld(rows[0].key()), nil
}

// withMemHeld adds what this process holds in memory (SQLite) to a key's held.
func (s *Store) withMemHeld(k APIKey) APIKey {
	_, held := s.mem.heldBy("", k.ID)
	k.Held += billing.Nanos(held)
	return k
}

// ListKeys returns a tenant's keys, newest first.
func (s *Store) ListKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	var rows []keyRow
	if err := s.read(ctx).Raw(`SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC, id`, tenantID).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	keys := make([]APIKey, len(rows))
	for i, r := range rows {
		keys[i] = s.withMemHeld(r.key())
	}
	return keys, nil
}

// RevokeKey disables a key for good. Revoking twice is not an error.
func (s *Store) RevokeKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, nowMillis(), id).Error; err != nil {
			return err
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		var rows []keyRow
		if err := tx.Raw(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("%w: key %s", ErrNotFound, id)
		}
		k = rows[0].key()
		return nil
	})
	return k, err
}

package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// Tenant is a customer of the gateway with its prepaid wallet.
type Tenant struct {
	ID          string
	Name        string
	Balance     billing.Nanos // Σ of the tenant's ledger entries
	Held        billing.Nanos // credit set aside for calls in flight
	CreditLimit billing.Nanos // how far below zero the available balance may go
	CreatedAt   int64
	UpdatedAt   int64
	RateLimits  // shared by all the tenant's keys
}

// Available is what new calls may still hold: balance − held + credit limit.
func (t Tenant) Available() billing.Nanos { return t.Balance - t.Held + t.CreditLimit }

const tenantColumns = `id, name, balance, held, credit_limit, created_at, updated_at, ` + limitColumns

// CreateTenant adds a tenant with an empty wallet.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	name = strings.TrimSpace(name)
	now := nowMillis()
	t := Tenant{ID: newID("ten"), Name: name, CreatedAt: now, UpdatedAt: now}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO tenants (id, name, balance, held, credit_limit, created_at, updated_at) VALUES (?, ?, 0, 0, 0, ?, ?)`,
			t.ID, t.Name, now, now).Error
	})
	if err != nil {
		return Tenant{}, wrapConflict(err, "a tenant named %q already exists", name)
	}
	return t, nil
}

// Tenant reads one tenant.
func (s *Store) Tenant(ctx context.Context, id string) (Tenant, error) {
	return s.tenantWith(s.read(ctx), id)
}

func (s *Store) tenantWith(db *gorm.DB, id string) (Tenant, error) {
	var ts []Tenant
	if err := db.Raw(`SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id).Scan(&ts).Error; err != nil {
		return Tenant{}, wrapDBError(err)
	}
	if len(ts) == 0 {
		return Tenant{}, fmt.Errorf("%w: tenant %s", ErrNotFound, id)
	}
	s.addMemHeld(&ts[0])
	return ts[0], nil
}

// addMemHeld adds what this process holds in memory (SQLite) to a tenant's held.
func (s *Store) addMemHeld(t *Tenant) {
	held, _ := s.mem.heldBy(t.ID, "")
	t.Held += billing.Nanos(held)
}

// TenantFilter narrows ListTenants.
type TenantFilter struct {
	Search string // substring of the name, case-insensitive
	Limit  int
	Offset int
}

// ListTenants returns tenants ordered by name.
func (s *Store) ListTenants(ctx context.Context, f TenantFilter) ([]Tenant, error) {
	q := `SELECT ` + tenantColumns + ` FROM tenants`
	var args []any
	if f.Search != "" {
		q += ` WHERE LOWER(name) LIKE ?`
		args = append(args, "%"+strings.ToLower(escapeLike(f.Search))+"%")
		q += ` ESCAPE '\'`
	}
	q += ` ORDER BY name, id LIMIT ? OFFSET ?`
	args = append(args, limitOr(f.Limit, 100), max(f.Offset, 0))
	var ts []Tenant
	err := s.read(ctx).Raw(q, args...).Scan(&ts).Error
	for i := range ts {
		s.addMemHeld(&ts[i])
	}
	return ts, wrapDBError(err)
}

// SetCreditLimit changes how far below zero a tenant's available balance may go.
func (s *Store) SetCreditLimit(ctx context.Context, id string, limit billing.Nanos) (Tenant, error) {
	if limit < 0 {
		return Tenant{}, fmt.Errorf("%w: credit limit must not be negative", ErrInvalid)
	}
	var t Tenant
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE tenants SET credit_limit = ?, updated_at = ? WHERE id = ?`, limit, nowMillis(), id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: tenant %s", ErrNotFound, id)
		}
		var err error
		t, err = s.tenantWith(tx, id)
		return err
	})
	return t, err
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func limitOr(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return min(limit, 1000)
}

func wrapConflict(err error, format string, args ...any) error {
	if err != nil && isUniqueViolation(err) {
		return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
	}
	return err
}

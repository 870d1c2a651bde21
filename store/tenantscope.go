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

// The tenant portal reads and changes a tenant's own objects only through the
// functions here: each one names the tenant in its WHERE clause, so an id of another
// tenant's key or call is simply not found — the scoping does not rest on every
// handler remembering a check.

// TenantKey reads one of a tenant's keys; ErrNotFound for a key of another tenant.
func (s *Store) TenantKey(ctx context.Context, tenantID, keyID string) (APIKey, error) {
	return s.tenantKeyWith(s.read(ctx), tenantID, keyID)
}

func (s *Store) tenantKeyWith(db *gorm.DB, tenantID, keyID string) (APIKey, error) {
	var rows []keyRow
	if err := db.Raw(`SELECT `+keyColumns+` FROM api_keys WHERE id = ? AND tenant_id = ?`, keyID, tenantID).Scan(&rows).Error; err != nil {
		return APIKey{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return APIKey{}, fmt.Errorf("%w: key %s", ErrNotFound, keyID)
	}
	return rows[0].key(), nil
}

// RevokeTenantKey disables one of a tenant's keys for good; revoking twice is not an
// error, a key of another tenant is ErrNotFound and stays untouched.
func (s *Store) RevokeTenantKey(ctx context.Context, tenantID, keyID string) (APIKey, error) {
	var k APIKey
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if k, err = s.tenantKeyWith(tx, tenantID, keyID); err != nil {
			return err
		}
		if k.RevokedAt != 0 {
			return nil
		}
		k.RevokedAt = nowMillis()
		if err := tx.Exec(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at = 0`, k.RevokedAt, keyID, tenantID).Error; err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	})
	return k, err
}

// KeyChange is what a tenant may change on one of its keys: the budget (nil: none)
// and the allowed models (empty: all).
type KeyChange struct {
	Budget *billing.Nanos
	Models []string
}

// UpdateTenantKey changes one of a tenant's keys. Gateways see the new model list at
// their next configuration poll (the budget is read at every hold anyway).
func (s *Store) UpdateTenantKey(ctx context.Context, tenantID, keyID string, ch KeyChange) (APIKey, error) {
	budget := ch.Budget
	if err := s.updateKey(ctx, keyID, tenantID, KeyUpdate{Budget: &budget, Models: &ch.Models}); err != nil {
		return APIKey{}, err
	}
	return s.TenantKey(ctx, tenantID, keyID)
}

// KeyUpdate changes some of a key's settings (the admin API's PATCH); a nil field
// stays as it is.
type KeyUpdate struct {
	Budget    **billing.Nanos // *Budget nil: no budget
	Models    *[]string       // empty: every model
	ExpiresAt *int64          // Unix ms; 0: never
}

// UpdateKey changes a key's budget, allowed models or expiry. Like UpdateTenantKey,
// other gateways see the change at their next configuration poll.
func (s *Store) UpdateKey(ctx context.Context, id string, u KeyUpdate) (APIKey, error) {
	if err := s.updateKey(ctx, id, "", u); err != nil {
		return APIKey{}, err
	}
	return s.Key(ctx, id)
}

// updateKey writes u to key id, of tenantID unless that is empty.
func (s *Store) updateKey(ctx context.Context, id, tenantID string, u KeyUpdate) error {
	var sets []string
	var args []any
	if u.Budget != nil {
		var budget *int64
		if b := *u.Budget; b != nil {
			if *b < 0 {
				return fmt.Errorf("%w: budget must not be negative", ErrInvalid)
			}
			v := int64(*b)
			budget = &v
		}
		sets, args = append(sets, "budget = ?"), append(args, budget)
	}
	if u.Models != nil {
		modelsJSON, _ := json.Marshal(cleanModels(*u.Models))
		sets, args = append(sets, "models = ?"), append(args, string(modelsJSON))
	}
	if u.ExpiresAt != nil {
		if *u.ExpiresAt < 0 {
			return fmt.Errorf("%w: expiry must not be negative", ErrInvalid)
		}
		sets, args = append(sets, "expires_at = ?"), append(args, *u.ExpiresAt)
	}
	if len(sets) == 0 {
		return nil
	}
	where := ` WHERE id = ?`
	args = append(args, id)
	if tenantID != "" {
		where += ` AND tenant_id = ?`
		args = append(args, tenantID)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE api_keys SET `+strings.Join(sets, ", ")+where, args...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: key %s", ErrNotFound, id)
		}
		return bumpConfigVersion(tx)
	})
}

// cleanModels is a key's list of allowed models without blanks and padding.
func cleanModels(in []string) []string {
	models := make([]string, 0, len(in))
	for _, m := range in {
		if m = strings.TrimSpace(m); m != "" {
			models = append(models, m)
		}
	}
	return models
}

// TenantCall reads one row of a tenant's request log; ErrNotFound for a call of
// another tenant.
func (s *Store) TenantCall(ctx context.Context, tenantID string, id int64) (CallRecord, error) {
	var rows []callRow
	if err := s.read(ctx).Raw(`SELECT `+callColumns+` FROM usage_records WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&rows).Error; err != nil {
		return CallRecord{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return CallRecord{}, fmt.Errorf("%w: call %d", ErrNotFound, id)
	}
	return rows[0].record(), nil
}

// DayModelTally is one model's calls on one UTC day.
type DayModelTally struct {
	Day   time.Time
	Model string
	Tally
}

// DailyModelTallies sums a tenant's rollup per UTC day and model, oldest day first,
// for the portal's charts and the OpenAI-style billing usage endpoint.
func (s *Store) DailyModelTallies(ctx context.Context, f RollupFilter) ([]DayModelTally, error) {
	where, args := f.where()
	var rows []tallyRow
	err := s.read(ctx).Raw(`SELECT day, model, `+tallyColumns+` FROM usage_daily WHERE `+where+
		` GROUP BY day, model ORDER BY day, model`, args...).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]DayModelTally, len(rows))
	for i, r := range rows {
		out[i] = DayModelTally{Day: time.UnixMilli(r.Day * dayMillis).UTC(), Model: r.Model, Tally: r.tally()}
	}
	return out, nil
}

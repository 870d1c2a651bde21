package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// Ledger entry kinds.
const (
	LedgerTopup = "topup" // credit added by an operator (or a payment)
	LedgerUsage = "usage" // debit for a served call; ref is the hold id
)

// LedgerEntry is one append-only change of a wallet; a tenant's balance is always
// the sum of its entries.
type LedgerEntry struct {
	ID           int64
	TenantID     string
	Amount       billing.Nanos
	BalanceAfter billing.Nanos
	Kind         string
	Ref          string
	Note         string
	CreatedAt    int64
}

const ledgerColumns = `id, tenant_id, amount, balance_after, kind, ref, note, created_at`

// MaxTopup bounds one top-up: a typo of a few extra zeros is refused, not credited.
const MaxTopup = 1_000_000 * billing.NanosPerUSD

// Topup credits a tenant. The idempotency key makes it safe to retry: the same key
// credits once and every repeat returns the first entry with replayed = true.
func (s *Store) Topup(ctx context.Context, tenantID string, amount billing.Nanos, note, idempotencyKey string) (entry LedgerEntry, replayed bool, err error) {
	if amount <= 0 || amount > MaxTopup {
		return LedgerEntry{}, false, fmt.Errorf("%w: top-up must be more than 0 and at most %s USD", ErrInvalid, MaxTopup)
	}
	if idempotencyKey == "" {
		idempotencyKey = newID("auto")
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		prev, err := findLedger(tx, tenantID, LedgerTopup, idempotencyKey)
		if err == nil {
			entry, replayed = prev, true
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		var balances []int64
		if err := tx.Raw(`UPDATE tenants SET balance = balance + ?, updated_at = ? WHERE id = ? RETURNING balance`,
			amount, nowMillis(), tenantID).Scan(&balances).Error; err != nil {
			return err
		}
		if len(balances) == 0 {
			return fmt.Errorf("%w: tenant %s", ErrNotFound, tenantID)
		}
		entry = LedgerEntry{TenantID: tenantID, Amount: amount, BalanceAfter: billing.Nanos(balances[0]), Kind: LedgerTopup,
			Ref: idempotencyKey, Note: note, CreatedAt: nowMillis()}
		return tx.Raw(`INSERT INTO ledger_entries (tenant_id, amount, balance_after, kind, ref, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			entry.TenantID, entry.Amount, entry.BalanceAfter, entry.Kind, entry.Ref, entry.Note, entry.CreatedAt).Scan(&entry.ID).Error
	})
	if errors.Is(err, ErrConflict) {
		// Another node committed the same key between our read and our insert.
		prev, ferr := findLedger(s.read(ctx), tenantID, LedgerTopup, idempotencyKey)
		if ferr != nil {
			return LedgerEntry{}, false, wrapDBError(ferr)
		}
		return prev, true, nil
	}
	return entry, replayed, err
}

func findLedger(db *gorm.DB, tenantID, kind, ref string) (LedgerEntry, error) {
	var es []LedgerEntry
	if err := db.Raw(`SELECT `+ledgerColumns+` FROM ledger_entries WHERE tenant_id = ? AND kind = ? AND ref = ?`, tenantID, kind, ref).Scan(&es).Error; err != nil {
		return LedgerEntry{}, err
	}
	if len(es) == 0 {
		return LedgerEntry{}, ErrNotFound
	}
	return es[0], nil
}

// LedgerPage lists a tenant's entries newest first; pass the last id seen as before
// (0 for the first page) to page on.
func (s *Store) LedgerPage(ctx context.Context, tenantID string, before int64, limit int) ([]LedgerEntry, error) {
	q := `SELECT ` + ledgerColumns + ` FROM ledger_entries WHERE tenant_id = ?`
	args := []any{tenantID}
	if before > 0 {
		q += ` AND id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limitOr(limit, 50))
	var es []LedgerEntry
	err := s.read(ctx).Raw(q, args...).Scan(&es).Error
	return es, wrapDBError(err)
}

// LedgerSum adds up a tenant's entries: the check behind invariant "balance == Σ ledger".
func (s *Store) LedgerSum(ctx context.Context, tenantID string) (billing.Nanos, error) {
	var sum int64
	err := s.read(ctx).Raw(`SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE tenant_id = ?`, tenantID).Scan(&sum).Error
	return billing.Nanos(sum), wrapDBError(err)
}

package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// RedeemBatch is a set of redeem codes of one amount an admin created together, to
// sell or hand out; each code credits a tenant once.
type RedeemBatch struct {
	ID        string
	Amount    billing.Nanos // credit per code
	Count     int
	ExpiresAt int64 // Unix ms; 0 never
	Note      string
	CreatedAt int64
	Redeemed  int // how many codes were used
}

// RedeemCode is one code of a batch, with the code itself (only ever read back for
// an admin's export).
type RedeemCode struct {
	ID         string
	BatchID    string
	Code       string
	Amount     billing.Nanos
	ExpiresAt  int64
	RedeemedBy string // tenant id; empty while unused
	RedeemedAt int64
}

// Redeem code limits.
const (
	MaxRedeemBatch = 10_000 // codes per batch
	redeemAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	redeemGroups   = 5 // groups of redeemGroupLen characters: 25 × log2(31) ≈ 124 random bits
	redeemGroupLen = 5
	redeemPrefix   = "TG"
)

// ErrCodeUsed refuses a code that was already redeemed; ErrCodeExpired one past its
// expiry. Both are conflicts, not missing codes, so a caller can say which.
var (
	ErrCodeUsed    = fmt.Errorf("%w: this code was already redeemed", ErrConflict)
	ErrCodeExpired = fmt.Errorf("%w: this code has expired", ErrInvalid)
)

// newRedeemCode returns a code like TG-7KQ2M-…: letters and digits that cannot be
// confused when read aloud or typed (no 0/O, 1/I/L), in dashed groups.
func newRedeemCode() string {
	buf := make([]byte, redeemGroups*redeemGroupLen)
	if _, err := rand.Read(buf); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	var b strings.Builder
	b.WriteString(redeemPrefix)
	for i, v := range buf {
		if i%redeemGroupLen == 0 {
			b.WriteByte('-')
		}
		// 256 is not a multiple of 31; the bias this leaves (under 1%) costs a
		// fraction of a bit of the 124.
		b.WriteByte(redeemAlphabet[int(v)%len(redeemAlphabet)])
	}
	return b.String()
}

// NormalizeRedeemCode is the form a code is looked up in: upper case, without
// spaces, dashes and the "TG" prefix, so a code typed loosely still matches.
func NormalizeRedeemCode(code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	code = strings.NewReplacer("-", "", " ", "", "\t", "").Replace(code)
	return strings.TrimPrefix(code, redeemPrefix)
}

func redeemDigest(code string) string { return sessionDigest("redeem:" + NormalizeRedeemCode(code)) }

// sealedRef is the associated data binding a sealed value to its row.
func sealedRef(table, id string) string { return table + ":" + id }

// CreateRedeemBatch makes count codes worth amount each, valid until expiresAt
// (zero: never), in one transaction, and returns the batch with its codes.
func (s *Store) CreateRedeemBatch(ctx context.Context, amount billing.Nanos, count int, expiresAt time.Time, note string) (RedeemBatch, []RedeemCode, error) {
	switch {
	case amount <= 0 || amount > MaxTopup:
		return RedeemBatch{}, nil, fmt.Errorf("%w: a code must be worth more than 0 and at most %s USD", ErrInvalid, MaxTopup)
	case count < 1 || count > MaxRedeemBatch:
		return RedeemBatch{}, nil, fmt.Errorf("%w: a batch has from 1 to %d codes", ErrInvalid, MaxRedeemBatch)
	case !expiresAt.IsZero() && !expiresAt.After(time.Now()):
		return RedeemBatch{}, nil, fmt.Errorf("%w: the expiry must be in the future", ErrInvalid)
	}
	now := nowMillis()
	b := RedeemBatch{ID: newID("rb"), Amount: amount, Count: count, Note: strings.TrimSpace(note), CreatedAt: now}
	if !expiresAt.IsZero() {
		b.ExpiresAt = expiresAt.UnixMilli()
	}
	codes := make([]RedeemCode, count)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO redeem_batches (id, amount, count, expires_at, note, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			b.ID, b.Amount, b.Count, b.ExpiresAt, b.Note, b.CreatedAt).Error; err != nil {
			return err
		}
		for i := range codes {
			c := RedeemCode{ID: newID("rc"), BatchID: b.ID, Code: newRedeemCode(), Amount: amount, ExpiresAt: b.ExpiresAt}
			sealed, err := s.sealer.seal(c.Code, sealedRef("redeem_codes", c.ID))
			if err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO redeem_codes (id, batch_id, digest, code_enc, amount, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
				c.ID, c.BatchID, redeemDigest(c.Code), sealed, c.Amount, c.ExpiresAt).Error; err != nil {
				return err
			}
			codes[i] = c
		}
		return nil
	})
	if err != nil {
		return RedeemBatch{}, nil, err
	}
	return b, codes, nil
}

const redeemBatchColumns = `b.id, b.amount, b.count, b.expires_at, b.note, b.created_at,
	(SELECT COUNT(*) FROM redeem_codes c WHERE c.batch_id = b.id AND c.redeemed_at <> 0) AS redeemed`

// RedeemBatches lists batches newest first.
func (s *Store) RedeemBatches(ctx context.Context, limit int) ([]RedeemBatch, error) {
	var bs []RedeemBatch
	err := s.read(ctx).Raw(`SELECT `+redeemBatchColumns+` FROM redeem_batches b ORDER BY b.created_at DESC, b.id LIMIT ?`,
		limitOr(limit, 100)).Scan(&bs).Error
	return bs, wrapDBError(err)
}

// RedeemBatch reads one batch.
func (s *Store) RedeemBatch(ctx context.Context, id string) (RedeemBatch, error) {
	var bs []RedeemBatch
	if err := s.read(ctx).Raw(`SELECT `+redeemBatchColumns+` FROM redeem_batches b WHERE b.id = ?`, id).Scan(&bs).Error; err != nil {
		return RedeemBatch{}, wrapDBError(err)
	}
	if len(bs) == 0 {
		return RedeemBatch{}, fmt.Errorf("%w: redeem batch %s", ErrNotFound, id)
	}
	return bs[0], nil
}

// RedeemCodes returns a batch's codes with the codes themselves, for an admin to
// export; it fails when they do not decrypt with the configured secret key.
func (s *Store) RedeemCodes(ctx context.Context, batchID string) ([]RedeemCode, error) {
	if _, err := s.RedeemBatch(ctx, batchID); err != nil {
		return nil, err
	}
	var rows []struct {
		RedeemCode
		CodeEnc string
	}
	err := s.read(ctx).Raw(`SELECT id, batch_id, code_enc, amount, expires_at, redeemed_by, redeemed_at FROM redeem_codes
		WHERE batch_id = ? ORDER BY id`, batchID).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]RedeemCode, len(rows))
	for i, r := range rows {
		code, err := s.sealer.open(r.CodeEnc, sealedRef("redeem_codes", r.ID))
		if err != nil {
			return nil, fmt.Errorf("redeem code %s: %w", r.ID, err)
		}
		out[i] = r.RedeemCode
		out[i].Code = code
	}
	return out, nil
}

// Redeem credits a tenant with a code's amount, once: the code is marked used and
// the ledger entry (kind "redeem", ref the code's id) written in one transaction,
// and the conditional UPDATE lets only one of any number of racing redemptions —
// by one tenant or several, on one node or many — take it. ErrNotFound for an
// unknown code, ErrCodeUsed or ErrCodeExpired otherwise.
func (s *Store) Redeem(ctx context.Context, tenantID, code string) (LedgerEntry, error) {
	var entry LedgerEntry
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var rows []struct {
			ID         string
			BatchID    string
			Amount     int64
			ExpiresAt  int64
			RedeemedBy string
		}
		if err := tx.Raw(`SELECT id, batch_id, amount, expires_at, redeemed_by FROM redeem_codes WHERE digest = ?`, redeemDigest(code)).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("%w: no such redeem code; check it for typos", ErrNotFound)
		}
		r := rows[0]
		now := nowMillis()
		if r.ExpiresAt != 0 && now >= r.ExpiresAt {
			return ErrCodeExpired
		}
		res := tx.Exec(`UPDATE redeem_codes SET redeemed_by = ?, redeemed_at = ? WHERE id = ? AND redeemed_at = 0`, tenantID, now, r.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrCodeUsed
		}
		var err error
		entry, err = credit(tx, tenantID, billing.Nanos(r.Amount), LedgerRedeem, r.ID, "redeem code from batch "+r.BatchID)
		return err
	})
	if errors.Is(err, ErrConflict) && !errors.Is(err, ErrCodeUsed) {
		// The ledger refused a second entry for this code: it was credited already.
		return LedgerEntry{}, ErrCodeUsed
	}
	return entry, err
}

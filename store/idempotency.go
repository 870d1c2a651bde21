package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migrationIdempotency stores the answers of /v1 calls made with an Idempotency-Key.
const migrationIdempotency = `CREATE TABLE idempotency_keys (
		tenant_id    TEXT NOT NULL,
		idem_key     TEXT NOT NULL,
		request_hash TEXT NOT NULL,
		state        TEXT NOT NULL,
		status       INTEGER NOT NULL DEFAULT 0,
		content_type TEXT NOT NULL DEFAULT '',
		body         TEXT NOT NULL DEFAULT '',
		locked_until BIGINT NOT NULL,
		expires_at   BIGINT NOT NULL,
		created_at   BIGINT NOT NULL,
		PRIMARY KEY (tenant_id, idem_key)
	);
	CREATE INDEX idempotency_expires ON idempotency_keys (expires_at)`

// Idempotency outcomes of ClaimIdempotencyKey.
var (
	ErrIdempotencyInFlight = errors.New("a request with this idempotency key is still in flight")
	ErrIdempotencyMismatch = errors.New("this idempotency key was used with a different request")
)

// IdempotentAnswer is a stored answer replayed for a repeated request.
type IdempotentAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}

// ClaimIdempotencyKey starts a call under a client's idempotency key. It returns
// (nil, nil) when the caller owns the key now and must Complete or Abandon it; a
// stored answer when the same request already completed; ErrIdempotencyInFlight
// while the first is still running; ErrIdempotencyMismatch for a different request
// under the same key. A claim whose owner died is taken over after lease.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, tenantID, key, requestHash string, lease, keep time.Duration) (*IdempotentAnswer, error) {
	var answer *IdempotentAnswer
	err := s.tx(ctx, func(tx *gorm.DB) error {
		now := nowMillis()
		var rows []struct {
			RequestHash string
			State       string
			Status      int
			ContentType string
			Body        string
			LockedUntil int64
			ExpiresAt   int64
		}
		if err := tx.Raw(`SELECT request_hash, state, status, content_type, body, locked_until, expires_at FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?`,
			tenantID, key).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 1 && rows[0].ExpiresAt > now {
			r := rows[0]
			switch {
			case r.RequestHash != requestHash:
				return ErrIdempotencyMismatch
			case r.State == "done":
				answer = &IdempotentAnswer{Status: r.Status, ContentType: r.ContentType, Body: []byte(r.Body)}
				return nil
			case r.LockedUntil > now:
				return ErrIdempotencyInFlight
			}
		}
		return tx.Exec(`INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, state, locked_until, expires_at, created_at)
			VALUES (?, ?, ?, 'in_flight', ?, ?, ?)
			ON CONFLICT (tenant_id, idem_key) DO UPDATE SET request_hash = excluded.request_hash, state = 'in_flight', status = 0,
			content_type = '', body = '', locked_until = excluded.locked_until, expires_at = excluded.expires_at, created_at = excluded.created_at`,
			tenantID, key, requestHash, now+lease.Milliseconds(), now+keep.Milliseconds(), now).Error
	})
	if errors.Is(err, ErrIdempotencyInFlight) || errors.Is(err, ErrIdempotencyMismatch) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", err)
	}
	return answer, nil
}

// CompleteIdempotencyKey stores the answer to replay for the key.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenantID, key string, a IdempotentAnswer) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE idempotency_keys SET state = 'done', status = ?, content_type = ?, body = ? WHERE tenant_id = ? AND idem_key = ?`,
			a.Status, a.ContentType, string(a.Body), tenantID, key).Error
	})
}

// AbandonIdempotencyKey forgets a claim whose call failed without a charge, so the
// client may retry under the same key.
func (s *Store) AbandonIdempotencyKey(ctx context.Context, tenantID, key string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?`, tenantID, key).Error
	})
}

// SweepIdempotencyKeys deletes keys past their retention.
func (s *Store) SweepIdempotencyKeys(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM idempotency_keys WHERE expires_at <= ?`, now.UnixMilli())
		n = res.RowsAffected
		return res.Error
	})
	return n, err
}

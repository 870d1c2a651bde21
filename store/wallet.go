package store

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// Attempt is one try of one upstream channel within a call.
type Attempt struct {
	ChannelID string `json:"channel_id"`
	Provider  string `json:"provider"`
	Status    int    `json:"status"`
	Error     string `json:"error,omitempty"`
	LatencyMs int64  `json:"latency_ms"`
}

// CallRecord is one row of the request log: every call, served, failed or refused.
type CallRecord struct {
	ID            int64
	RequestID     string
	TenantID      string
	KeyID         string
	Endpoint      string // "chat", "embeddings", ...
	Model         string // the model the client asked for (and was billed for)
	UpstreamModel string // the name sent upstream after mapping
	ChannelID     string
	Provider      string
	Status        int // HTTP status the client got
	ErrorCode     string
	ErrorMessage  string
	Stream        bool
	Usage         billing.Usage
	Estimated     bool // usage counted by the gateway, not reported by the upstream
	HoldAmount    billing.Nanos
	Cost          billing.Nanos // what was debited
	Attempts      []Attempt
	LatencyMs     int64
	CreatedAt     int64
}

// Reserve sets the call's upper-bound cost aside in the tenant's wallet (and in the
// key's budget, when it has one). On SQLite the hold lives in memory (memwallet.go).
// On PostgreSQL, which several nodes share, a conditional UPDATE is the whole
// concurrency story: it succeeds only while balance − held + credit_limit still
// covers the amount, so no interleaving of callers can overdraw a wallet. The usual
// call (a key without a budget, credit enough) is that one statement with the hold's
// INSERT; a budgeted key or a refusal takes the transaction below.
func (s *Store) Reserve(ctx context.Context, req billing.HoldRequest) (billing.Hold, error) {
	if req.Amount < 0 {
		return billing.Hold{}, fmt.Errorf("%w: negative hold", ErrInvalid)
	}
	now := nowMillis()
	ttl := req.TTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	if s.mem != nil {
		return s.reserveInMemory(ctx, req, now+ttl.Milliseconds())
	}
	hold := billing.Hold{ID: newTimeID("hold"), TenantID: req.TenantID, KeyID: req.KeyID, Amount: req.Amount}
	res := s.w.WithContext(ctx).Exec(`WITH t AS (UPDATE tenants SET held = held + ? WHERE id = ? AND balance - held + credit_limit >= ?
			AND NOT EXISTS (SELECT 1 FROM api_keys WHERE id = ? AND budget IS NOT NULL) RETURNING id)
		INSERT INTO holds (id, tenant_id, key_id, request_id, amount, key_held, expires_at, created_at)
		SELECT ?, ?, ?, ?, ?, FALSE, ?, ? FROM t`,
		req.Amount, req.TenantID, req.Amount, req.KeyID,
		hold.ID, req.TenantID, req.KeyID, req.RequestID, req.Amount, now+ttl.Milliseconds(), now)
	if res.Error != nil {
		return billing.Hold{}, wrapDBError(res.Error)
	}
	if res.RowsAffected == 1 {
		return hold, nil
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE tenants SET held = held + ? WHERE id = ? AND balance - held + credit_limit >= ?`,
			req.Amount, req.TenantID, req.Amount)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			t, err := s.tenantWith(tx, req.TenantID)
			if err != nil {
				return err
			}
			return &billing.InsufficientCreditError{Need: req.Amount, Available: t.Available()}
		}
		keyHeld := false
		if req.KeyID != "" {
			res := tx.Exec(`UPDATE api_keys SET held = held + ? WHERE id = ? AND budget IS NOT NULL AND budget - spent - held >= ?`,
				req.Amount, req.KeyID, req.Amount)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				var budgets []struct {
					Budget      *int64
					Spent, Held int64
				}
				if err := tx.Raw(`SELECT budget, spent, held FROM api_keys WHERE id = ?`, req.KeyID).Scan(&budgets).Error; err != nil {
					return err
				}
				if len(budgets) == 1 && budgets[0].Budget != nil {
					b := budgets[0]
					return &billing.InsufficientCreditError{Need: req.Amount, Available: billing.Nanos(*b.Budget - b.Spent - b.Held), KeyBudget: true}
				}
			} else {
				keyHeld = true
			}
		}
		return tx.Exec(`INSERT INTO holds (id, tenant_id, key_id, request_id, amount, key_held, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			hold.ID, req.TenantID, req.KeyID, req.RequestID, req.Amount, keyHeld, now+ttl.Milliseconds(), now).Error
	})
	if err != nil {
		return billing.Hold{}, err
	}
	return hold, nil
}

type holdRow struct {
	TenantID string
	KeyID    string
	Amount   int64
	KeyHeld  bool
}

// takeHold deletes a hold and returns it; ErrHoldNotFound when it is already gone.
// Deleting first makes settle and release mutually exclusive, once each.
func takeHold(tx *gorm.DB, id string) (holdRow, error) {
	var rows []holdRow
	if err := tx.Raw(`SELECT tenant_id, key_id, amount, key_held FROM holds WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return holdRow{}, err
	}
	if len(rows) == 0 {
		return holdRow{}, billing.ErrHoldNotFound
	}
	res := tx.Exec(`DELETE FROM holds WHERE id = ?`, id)
	if res.Error != nil {
		return holdRow{}, res.Error
	}
	if res.RowsAffected == 0 {
		return holdRow{}, billing.ErrHoldNotFound
	}
	return rows[0], nil
}

// Settle ends a hold for a served call: it debits the cost (never more than the hold,
// so the wallet cannot go past its limit), releases the rest, and writes the ledger
// entry and the request-log row, keyed by the hold id. On SQLite the wallet changes
// at once and the writes are queued behind the answer (writer.go); elsewhere they
// are one transaction. It returns what was debited; settling the same hold again is
// ErrHoldNotFound.
func (s *Store) Settle(ctx context.Context, hold billing.Hold, rec CallRecord) (billing.Nanos, error) {
	if s.mem != nil {
		if h, charged, ok := s.mem.takeMemHold(hold.ID, int64(rec.Cost), true); ok {
			rec.TenantID, rec.HoldAmount, rec.Cost = h.tenantID, billing.Nanos(h.amount), billing.Nanos(charged)
			s.writer.enqueue(writeOp{kind: opSettle, holdID: hold.ID, tenantID: h.tenantID, keyID: h.keyID, charged: charged, rec: rec})
			return billing.Nanos(charged), nil
		}
		// Not in memory: a hold written by an earlier version, or one already ended.
	}
	var charged billing.Nanos
	err := s.tx(ctx, func(tx *gorm.DB) error {
		h, err := takeHold(tx, hold.ID)
		if err != nil {
			return err
		}
		charged = min(max(rec.Cost, 0), billing.Nanos(h.Amount))
		now := nowMillis()
		var balance int64
		if err := tx.Raw(`UPDATE tenants SET balance = balance - ?, held = held - ?, updated_at = ? WHERE id = ? RETURNING balance`,
			charged, h.Amount, now, h.TenantID).Scan(&balance).Error; err != nil {
			return err
		}
		if h.KeyID != "" {
			released := int64(0)
			if h.KeyHeld {
				released = h.Amount
			}
			if err := tx.Exec(`UPDATE api_keys SET spent = spent + ?, held = held - ? WHERE id = ?`, charged, released, h.KeyID).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`INSERT INTO ledger_entries (tenant_id, amount, balance_after, kind, ref, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			h.TenantID, -charged, balance, LedgerUsage, hold.ID, rec.Model, now).Error; err != nil {
			return err
		}
		rec.TenantID, rec.HoldAmount, rec.Cost = h.TenantID, billing.Nanos(h.Amount), charged
		return insertRecord(tx, &rec, now)
	})
	return charged, err
}

// Release ends a hold without a debit (the call failed or was never made) and, when
// rec is given, logs the call.
func (s *Store) Release(ctx context.Context, hold billing.Hold, rec *CallRecord) error {
	if s.mem != nil {
		if h, _, ok := s.mem.takeMemHold(hold.ID, 0, false); ok {
			if rec != nil {
				r := *rec
				r.HoldAmount, r.Cost = billing.Nanos(h.amount), 0
				rec.HoldAmount, rec.Cost = r.HoldAmount, 0
				s.writer.enqueue(writeOp{kind: opRecord, rec: r})
			}
			return nil
		}
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		h, err := takeHold(tx, hold.ID)
		if err != nil {
			return err
		}
		if err := releaseHeld(tx, h); err != nil {
			return err
		}
		if rec == nil {
			return nil
		}
		rec.HoldAmount, rec.Cost = billing.Nanos(h.Amount), 0
		return insertRecord(tx, rec, nowMillis())
	})
}

func releaseHeld(tx *gorm.DB, h holdRow) error {
	if err := tx.Exec(`UPDATE tenants SET held = held - ? WHERE id = ?`, h.Amount, h.TenantID).Error; err != nil {
		return err
	}
	if h.KeyHeld {
		return tx.Exec(`UPDATE api_keys SET held = held - ? WHERE id = ?`, h.Amount, h.KeyID).Error
	}
	return nil
}

// RecordCall logs a call that held nothing (refused before a hold, e.g. 402 or 404).
func (s *Store) RecordCall(ctx context.Context, rec CallRecord) error {
	if s.writer != nil {
		s.writer.enqueue(writeOp{kind: opRecord, rec: rec})
		return nil
	}
	return s.tx(ctx, func(tx *gorm.DB) error { return insertRecord(tx, &rec, nowMillis()) })
}

const (
	sqlRecordInsert = `INSERT INTO usage_records (request_id, tenant_id, key_id, endpoint, model, upstream_model, channel_id, provider,
		status, error_code, error_message, stream, prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens,
		reasoning_tokens, estimated, hold_amount, cost, attempts, latency_ms, created_at) VALUES `
	recordRowSQL = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func insertRecord(tx *gorm.DB, r *CallRecord, now int64) error {
	if r.CreatedAt == 0 {
		r.CreatedAt = now
	}
	// The dashboard's daily rollup moves with the log, in this transaction (store/dashboard.go).
	if err := rollUp(tx, r); err != nil {
		return err
	}
	return tx.Exec(sqlRecordInsert+recordRowSQL, appendRecordArgs(nil, r)...).Error
}

// SweepExpiredHolds releases holds whose call can no longer be running (the process
// that made them died, say) and logs each as a call that ended without settling.
// It returns how many it released.
func (s *Store) SweepExpiredHolds(ctx context.Context, now time.Time) (int, error) {
	released := 0
	if s.mem != nil {
		for _, h := range s.mem.expired(now.UnixMilli()) {
			s.writer.enqueue(writeOp{kind: opRecord, rec: expiredRecord(h.requestID, h.keyID, h.tenantID, h.amount)})
			released++
		}
	}
	var ids []struct {
		ID, RequestID, KeyID string
	}
	if err := s.read(ctx).Raw(`SELECT id, request_id, key_id FROM holds WHERE expires_at <= ? ORDER BY expires_at LIMIT 1000`, now.UnixMilli()).Scan(&ids).Error; err != nil {
		return 0, wrapDBError(err)
	}
	for _, h := range ids {
		rec := &CallRecord{}
		err := s.tx(ctx, func(tx *gorm.DB) error {
			hr, err := takeHold(tx, h.ID)
			if err != nil {
				return err
			}
			if err := releaseHeld(tx, hr); err != nil {
				return err
			}
			*rec = expiredRecord(h.RequestID, h.KeyID, hr.TenantID, hr.Amount)
			return insertRecord(tx, rec, nowMillis())
		})
		switch {
		case err == nil:
			released++
		case err == billing.ErrHoldNotFound:
			// settled by its owner in the meantime
		default:
			return released, err
		}
	}
	return released, nil
}

// expiredRecord is the request-log row of a hold released because it expired.
func expiredRecord(requestID, keyID, tenantID string, amount int64) CallRecord {
	return CallRecord{RequestID: requestID, KeyID: keyID, TenantID: tenantID, Endpoint: "unknown", HoldAmount: billing.Nanos(amount),
		ErrorCode: "hold_expired", ErrorMessage: "the call never settled (its gateway process stopped); its hold was released without a charge"}
}

// OpenHolds counts holds not yet settled or released, and their total.
func (s *Store) OpenHolds(ctx context.Context) (count int64, total billing.Nanos, err error) {
	var row struct {
		N     int64
		Total int64
	}
	err = s.read(ctx).Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM holds`).Scan(&row).Error
	n, t := s.mem.open()
	return row.N + n, billing.Nanos(row.Total + t), wrapDBError(err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// PendingSettlement is a served call whose settlement could not be written because
// the database was unavailable: the call happened, so it must still be billed.
type PendingSettlement struct {
	Hold   billing.Hold `json:"hold"`
	Record CallRecord   `json:"record"`
}

// Outbox is a durable, append-only file of pending settlements, one JSON line each,
// fsynced before the gateway moves on. It is drained into the store once the store
// answers again; settlement is keyed by the hold id, so a replay never bills twice.
type Outbox struct {
	mu   sync.Mutex
	path string
	n    int
}

// UseOutbox gives the write-behind writer (SQLite) a place for the settlements it
// cannot commit, so a crash during a database outage does not lose them.
func (s *Store) UseOutbox(o *Outbox) {
	if s.writer != nil {
		s.writer.outbox.Store(o)
	}
}

// OpenOutbox opens (or creates) the outbox file at path.
func OpenOutbox(path string) (*Outbox, error) {
	o := &Outbox{path: path}
	pending, err := o.read()
	if err != nil {
		return nil, err
	}
	o.n = len(pending)
	return o, nil
}

// Add appends a settlement and syncs it to disk.
func (o *Outbox) Add(p PendingSettlement) error {
	line, err := json.Marshal(p)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	o.n++
	return nil
}

// Len is the number of settlements waiting.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

func (o *Outbox) read() ([]PendingSettlement, error) {
	raw, err := os.ReadFile(o.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []PendingSettlement
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var p PendingSettlement
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			// A torn last line from a crash mid-write: everything before it stands.
			continue
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// DrainOutbox settles what the outbox holds. It stops at the first store failure
// and keeps the rest for the next try; it returns how many it settled.
func (s *Store) DrainOutbox(ctx context.Context, o *Outbox) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pending, err := o.read()
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	done := 0
	var drainErr error
	var rest []PendingSettlement
	for i, p := range pending {
		err := s.SettleLate(ctx, p.Hold, p.Record)
		switch {
		case err == nil:
			done++
			continue
		case errors.Is(err, ErrUnavailable), ctx.Err() != nil:
			drainErr, rest = err, pending[i:]
		default:
			// Not a store outage: this entry will never apply (its tenant is gone,
			// say). Park it for an operator instead of blocking the ones behind it.
			if derr := appendLines(o.path+".failed", []PendingSettlement{p}); derr != nil {
				drainErr, rest = derr, pending[i:]
			} else {
				continue
			}
		}
		break
	}
	var buf bytes.Buffer
	for _, p := range rest {
		line, _ := json.Marshal(p)
		buf.Write(append(line, '\n'))
	}
	tmp := o.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return done, err
	}
	if err := os.Rename(tmp, o.path); err != nil {
		return done, err
	}
	o.n = len(rest)
	return done, drainErr
}

func appendLines(path string, ps []PendingSettlement) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304 -- the outbox file in the configured data directory
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range ps {
		line, _ := json.Marshal(p)
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return f.Sync()
}

// SettleLate settles a served call from the outbox. Normally that is Settle; when
// the hold is gone (released by the sweeper while the store was away) and no debit
// for it exists yet, the cost is debited directly — the call was served, so it is
// billed, once: the ledger's unique (tenant, kind, ref) forbids a second entry.
func (s *Store) SettleLate(ctx context.Context, hold billing.Hold, rec CallRecord) error {
	_, err := s.Settle(ctx, hold, rec)
	if !errors.Is(err, billing.ErrHoldNotFound) {
		return err
	}
	if s.mem != nil {
		// A settlement the writer spilled here is still counted unflushed in memory:
		// it moves into the balance with this commit, under the writer's lock.
		s.mem.commitMu.Lock()
		defer s.mem.commitMu.Unlock()
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := findLedger(tx, hold.TenantID, LedgerUsage, hold.ID); err == nil {
			return nil // already settled
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		charged := min(max(rec.Cost, 0), hold.Amount)
		now := nowMillis()
		var balance int64
		if err := tx.Raw(`UPDATE tenants SET balance = balance - ?, updated_at = ? WHERE id = ? RETURNING balance`,
			charged, now, hold.TenantID).Scan(&balance).Error; err != nil {
			return err
		}
		if hold.KeyID != "" {
			if err := tx.Exec(`UPDATE api_keys SET spent = spent + ? WHERE id = ?`, charged, hold.KeyID).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`INSERT INTO ledger_entries (tenant_id, amount, balance_after, kind, ref, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			hold.TenantID, -charged, balance, LedgerUsage, hold.ID, fmt.Sprintf("%s (settled late)", rec.Model), now).Error; err != nil {
			return err
		}
		rec.TenantID, rec.HoldAmount, rec.Cost = hold.TenantID, hold.Amount, charged
		return insertRecord(tx, &rec, now)
	})
	if err == nil {
		s.mem.landed(hold.ID)
	}
	return err
}

package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// The in-memory wallet (SQLite). One process owns a SQLite database, so it can hold
// the calls' credit in memory and write their settlements in batches behind their
// answers (writer.go), instead of paying two synchronous transactions per call.
//
// The database stays the truth for what is committed: balances, credit limits, key
// budgets and spend. Memory is the truth for what is not: the open holds of this
// process and the debits settled here but not yet committed ("unflushed"). What a
// call may hold is
//
//	balance − held(db) − held(memory) − unflushed + credit limit
//
// checked and taken under one mutex, so no interleaving of callers can overdraw a
// wallet. A committed batch moves its debits from unflushed into the cached balance
// under commitMu, and a reload of a cached row reads the database under the same
// lock (shared), so the two never count a debit twice or not at all.
//
// What a crash (SIGKILL, power loss) can lose: the open holds, which is the same as
// releasing them, and the settlements not yet committed — those of calls answered
// in the writer's current cycle, at most maxQueuedWrites of them. Those calls were
// served and are not billed; nothing is ever billed twice and no wallet can go
// below its limit (cmd/tollgate/crash_test.go measures it).

// walletTTL bounds how stale a cached balance may be when another process (the CLI,
// a restore) changed the database: every cached row is read again after it.
const walletTTL = time.Second

type tenantWallet struct {
	balance, dbHeld, creditLimit int64 // as last read, plus committed batches since
	loadedAt                     time.Time
	gen                          uint64 // memWallet.gen when read
	held, unflushed              int64
}

func (t *tenantWallet) available() int64 {
	return t.balance - t.dbHeld - t.held - t.unflushed + t.creditLimit
}

type keyWallet struct {
	hasBudget             bool
	budget, spent, dbHeld int64
	loadedAt              time.Time
	gen                   uint64
	held, unflushed       int64
}

func (k *keyWallet) available() int64 { return k.budget - k.spent - k.dbHeld - k.held - k.unflushed }

type memHold struct {
	tenantID, keyID, requestID string
	amount                     int64
	keyHeld                    bool
	expiresAt                  int64 // Unix ms
}

// spilled is a settlement the writer could not commit and handed to the outbox:
// its debit stays unflushed until SettleLate writes it.
type spilled struct {
	tenantID, keyID string
	charged         int64
}

type memWallet struct {
	commitMu sync.RWMutex // exclusive: a commit and its bookkeeping; shared: a reload

	mu      sync.Mutex
	tenants map[string]*tenantWallet
	keys    map[string]*keyWallet
	holds   map[string]memHold
	spilled map[string]spilled // hold id → settlement waiting in the outbox
	gen     uint64             // bumped by forget: every cached row is stale
}

func newMemWallet() *memWallet {
	return &memWallet{tenants: map[string]*tenantWallet{}, keys: map[string]*keyWallet{},
		holds: map[string]memHold{}, spilled: map[string]spilled{}}
}

// fresh reports whether both rows are cached and recent enough.
func (m *memWallet) fresh(tenantID, keyID string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tenants[tenantID]
	if t == nil || t.gen != m.gen || now.Sub(t.loadedAt) > walletTTL {
		return false
	}
	if keyID == "" {
		return true
	}
	k := m.keys[keyID]
	return k != nil && k.gen == m.gen && now.Sub(k.loadedAt) <= walletTTL
}

// load reads the tenant's (and key's) committed wallet columns into the cache.
func (s *Store) loadWallet(ctx context.Context, tenantID, keyID string) error {
	m := s.mem
	m.commitMu.RLock()
	defer m.commitMu.RUnlock()
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()
	var ts []struct {
		Balance, Held, CreditLimit int64
	}
	if err := s.r.WithContext(ctx).Raw(`SELECT balance, held, credit_limit FROM tenants WHERE id = ?`, tenantID).Scan(&ts).Error; err != nil {
		return wrapDBError(err)
	}
	if len(ts) == 0 {
		return fmt.Errorf("%w: tenant %s", ErrNotFound, tenantID)
	}
	var ks []struct {
		Budget      *int64
		Spent, Held int64
	}
	if keyID != "" {
		if err := s.r.WithContext(ctx).Raw(`SELECT budget, spent, held FROM api_keys WHERE id = ?`, keyID).Scan(&ks).Error; err != nil {
			return wrapDBError(err)
		}
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	// A forget while reading leaves gen behind m.gen: these values are used (they
	// are as good as any read made at the same time), and the next call reads again.
	t := m.tenants[tenantID]
	if t == nil {
		t = &tenantWallet{}
		m.tenants[tenantID] = t
	}
	t.balance, t.dbHeld, t.creditLimit, t.loadedAt, t.gen = ts[0].Balance, ts[0].Held, ts[0].CreditLimit, now, gen
	if keyID != "" {
		k := m.keys[keyID]
		if k == nil {
			k = &keyWallet{}
			m.keys[keyID] = k
		}
		k.hasBudget, k.budget, k.spent, k.dbHeld, k.loadedAt, k.gen = false, 0, 0, 0, now, gen
		if len(ks) == 1 {
			k.spent, k.dbHeld = ks[0].Spent, ks[0].Held
			if ks[0].Budget != nil {
				k.hasBudget, k.budget = true, *ks[0].Budget
			}
		}
	}
	return nil
}

// forget makes the next calls read their wallets again; the store's other writers
// of wallet columns (top-ups, credit limits, key budgets) call it after they commit.
func (m *memWallet) forget() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.gen++
	m.mu.Unlock()
}

func (s *Store) reserveInMemory(ctx context.Context, req billing.HoldRequest, expiresAt int64) (billing.Hold, error) {
	if err := s.writer.healthy(); err != nil {
		return billing.Hold{}, err
	}
	m := s.mem
	if !m.fresh(req.TenantID, req.KeyID, time.Now()) {
		if err := s.loadWallet(ctx, req.TenantID, req.KeyID); err != nil {
			return billing.Hold{}, err
		}
	}
	hold := billing.Hold{ID: newTimeID("hold"), TenantID: req.TenantID, KeyID: req.KeyID, Amount: req.Amount}
	amount := int64(req.Amount)
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tenants[req.TenantID] // loaded above: entries are never removed
	if avail := t.available(); avail < amount {
		return billing.Hold{}, &billing.InsufficientCreditError{Need: req.Amount, Available: billing.Nanos(avail)}
	}
	keyHeld := false
	if req.KeyID != "" {
		if k := m.keys[req.KeyID]; k.hasBudget {
			if avail := k.available(); avail < amount {
				return billing.Hold{}, &billing.InsufficientCreditError{Need: req.Amount, Available: billing.Nanos(avail), KeyBudget: true}
			}
			k.held += amount
			keyHeld = true
		}
	}
	t.held += amount
	m.holds[hold.ID] = memHold{tenantID: req.TenantID, keyID: req.KeyID, requestID: req.RequestID, amount: amount,
		keyHeld: keyHeld, expiresAt: expiresAt}
	return hold, nil
}

// takeMemHold ends an in-memory hold: it gives its credit back and, for a settled
// call, marks the debit unflushed. ok is false when the hold is not in memory.
func (m *memWallet) takeMemHold(id string, cost int64, settle bool) (h memHold, charged int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok = m.holds[id]
	if !ok {
		return memHold{}, 0, false
	}
	delete(m.holds, id)
	if settle {
		charged = min(max(cost, 0), h.amount)
	}
	t := m.tenants[h.tenantID]
	t.held -= h.amount
	t.unflushed += charged
	if h.keyID != "" {
		k := m.keys[h.keyID]
		if h.keyHeld {
			k.held -= h.amount
		}
		k.unflushed += charged
	}
	return h, charged, true
}

// committed moves a committed batch's debits from unflushed into the cached
// balances; the caller holds commitMu.
func (m *memWallet) committed(ops []writeOp) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ops {
		op := &ops[i]
		if op.kind != opSettle {
			continue
		}
		m.applyDebit(op.tenantID, op.keyID, op.charged)
	}
}

func (m *memWallet) applyDebit(tenantID, keyID string, charged int64) {
	if t := m.tenants[tenantID]; t != nil {
		t.unflushed -= charged
		t.balance -= charged
	}
	if keyID != "" {
		if k := m.keys[keyID]; k != nil {
			k.unflushed -= charged
			k.spent += charged
		}
	}
}

// expired takes the in-memory holds past their expiry (a call that never ended: a
// bug, as every call ends by the upstream timeout) and releases them.
func (m *memWallet) expired(nowMs int64) []memHold {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []memHold
	for id, h := range m.holds {
		if h.expiresAt <= nowMs {
			delete(m.holds, id)
			m.tenants[h.tenantID].held -= h.amount
			if h.keyHeld {
				m.keys[h.keyID].held -= h.amount
			}
			out = append(out, h)
		}
	}
	return out
}

// heldBy returns the credit this process holds in memory for a tenant and a key.
func (m *memWallet) heldBy(tenantID, keyID string) (tenant, key int64) {
	if m == nil {
		return 0, 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tenants[tenantID]; t != nil {
		tenant = t.held + t.unflushed
	}
	if k := m.keys[keyID]; k != nil {
		key = k.held + k.unflushed
	}
	return tenant, key
}

// open counts the in-memory holds and their total.
func (m *memWallet) open() (n int64, total int64) {
	if m == nil {
		return 0, 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.holds {
		n++
		total += h.amount
	}
	return n, total
}

// landed ends the bookkeeping of a spilled settlement once SettleLate wrote it (or
// found it written); the caller holds commitMu.
func (m *memWallet) landed(holdID string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if sp, ok := m.spilled[holdID]; ok {
		delete(m.spilled, holdID)
		m.applyDebit(sp.tenantID, sp.keyID, sp.charged)
	}
}

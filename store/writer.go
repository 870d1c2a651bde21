package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The write-behind writer (SQLite). Settlements and request-log rows are queued by
// the calls and written by one goroutine, each cycle's whole queue in one
// transaction: the debits of a tenant become one UPDATE, the ledger entries and log
// rows multi-row INSERTs, the dashboard's rollup one upsert per group. A call does
// not wait for the commit; the wallet already counts its debit (memwallet.go).
//
// When a commit fails, the store stops taking new holds (503) until one succeeds,
// the batch's settlements go to the durable outbox when there is one (SettleLate
// writes them later, once), and everything else is tried again.

const (
	maxQueuedWrites = 8192                   // a full queue makes callers wait
	stalledAfter    = 2 * time.Second        // a commit this old stops new holds
	writeRetryDelay = 200 * time.Millisecond // first pause after a failed commit
	rowsPerInsert   = 64                     // rows of one multi-row INSERT
	// commitEvery spaces commits out: a commit writes every page its rows dirtied,
	// and the rows of one cycle share most pages (ordered ids keep the indexes'
	// inserts on their last pages). A busy writer — busyRate writes a millisecond
	// or more — waits longer, busyCommitEvery: at 32 connections that took the
	// writer from 12 % to 7 % of the gateway's CPU. A lighter load keeps the short
	// cycle, whose commits are short too: with 20 ms cycles at one connection, the
	// calls that ran into a commit moved the p99 from 1.2 to 1.9 ms. The cycle is
	// also most of what a crash can lose. An idle writer commits at once.
	commitEvery     = 5 * time.Millisecond
	busyCommitEvery = 20 * time.Millisecond
	busyRate        = 4 // writes per millisecond, about 4,000 calls a second
	// writerNice is the writer thread's nice value (Linux). No call waits for a
	// commit, but a commit's CPU competes with the calls on a small machine; at
	// one connection a lower priority took the added p99 from 1.4–1.9 ms to
	// 1.1–1.3 ms. Under full load the scheduler still gives it its share, and a
	// writer that falls behind commits bigger, cheaper batches.
	writerNice = 10
)

type opKind uint8

const (
	opRecord opKind = iota // a request-log row only
	opSettle               // a debit, its ledger entry and its log row
)

type writeOp struct {
	kind            opKind
	holdID          string
	tenantID, keyID string
	charged         int64
	rec             CallRecord
}

type writer struct {
	db        *sql.DB
	mem       *memWallet
	log       *slog.Logger
	closeOnce sync.Once

	mu       sync.Mutex
	queue    []writeOp
	spare    []writeOp
	room     *sync.Cond // signalled when the queue drains
	wake     chan struct{}
	enqueued uint64        // sequence of the last queued op
	flushed  atomic.Uint64 // sequence of the last op committed (or handed to the outbox)
	flushCh  chan struct{} // closed and replaced at every flush

	busySince atomic.Int64 // Unix ns when the running commit began; 0 when idle
	failing   atomic.Bool  // the last commit failed
	outbox    atomic.Pointer[Outbox]

	tid      atomic.Int64 // the writer's thread (Linux), once it runs
	stmtConn *sqlite3.SQLiteConn
	stmts    map[string]*sqlite3.SQLiteStmt // prepared on stmtConn
	args     []any                          // reused by every commit
	named    []driver.NamedValue
	stop     chan struct{}
	done     chan struct{}
}

func newWriter(db *sql.DB, mem *memWallet) *writer {
	w := &writer{db: db, mem: mem, log: slog.Default(), wake: make(chan struct{}, 1), flushCh: make(chan struct{}),
		stmts: map[string]*sqlite3.SQLiteStmt{}, stop: make(chan struct{}), done: make(chan struct{})}
	w.room = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// healthy is nil while writes keep up; otherwise new calls are refused, as a call
// the gateway cannot bill must not be served.
func (w *writer) healthy() error {
	if w.failing.Load() {
		return fmt.Errorf("%w: the last write to the database failed", ErrUnavailable)
	}
	if t := w.busySince.Load(); t != 0 && time.Since(time.Unix(0, t)) > stalledAfter {
		return fmt.Errorf("%w: a write to the database has been waiting for more than %s", ErrUnavailable, stalledAfter)
	}
	return nil
}

func (w *writer) enqueue(op writeOp) {
	if isClosed(w.stop) {
		// The gateway drains its calls before it closes the store, so this is a bug.
		w.log.Error("a call's write came after the store closed; it is lost", "request_id", op.rec.RequestID)
		return
	}
	w.mu.Lock()
	for len(w.queue) >= maxQueuedWrites {
		w.room.Wait()
	}
	w.queue = append(w.queue, op)
	w.enqueued++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// flush waits until every write queued before it is committed, the writer fails,
// or ctx ends. Reads call it, so they see every call settled before them.
func (w *writer) flush(ctx context.Context) error {
	w.mu.Lock()
	target, ch := w.enqueued, w.flushCh
	w.mu.Unlock()
	for w.flushed.Load() < target {
		if w.failing.Load() {
			return fmt.Errorf("%w: pending writes could not be committed", ErrUnavailable)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // recheck failing
		}
		w.mu.Lock()
		ch = w.flushCh
		w.mu.Unlock()
	}
	return nil
}

func (w *writer) run() {
	w.tid.Store(int64(yieldToCalls()))
	defer close(w.done)
	delay := writeRetryDelay
	var retry []writeOp
	var lastCommit time.Time
	every := commitEvery
	for {
		if len(retry) == 0 {
			if !w.waitForWork(delay) {
				continue
			}
		}
		if wait := every - time.Since(lastCommit); wait > 0 && !isClosed(w.stop) {
			time.Sleep(wait)
		}
		now := time.Now()
		since := now.Sub(lastCommit)
		lastCommit = now
		w.mu.Lock()
		batch := w.queue
		if len(retry) > 0 {
			batch = append(retry, w.queue...)
		}
		w.queue, w.spare = w.spare[:0], nil
		last := w.enqueued
		w.room.Broadcast()
		w.mu.Unlock()
		retry = nil
		every = cycleAfter(len(batch), since)
		stopping := isClosed(w.stop)
		if len(batch) == 0 {
			if stopping {
				return
			}
			continue
		}
		err := w.commit(batch)
		if err != nil && permanent(err) {
			// One write the database refuses must not hold up the others.
			if batch, err = w.isolate(batch); len(batch) == 0 {
				err = nil
			}
		}
		if err == nil {
			w.failing.Store(false)
			delay = writeRetryDelay
			w.markFlushed(last)
			clear(batch) // drop the records' strings before the slice is reused
			w.mu.Lock()
			w.spare = batch[:0]
			w.mu.Unlock()
			continue
		}
		w.failing.Store(true)
		w.log.Error("could not commit the calls' writes; retrying", "writes", len(batch), "error", err)
		retry = w.spill(batch, err)
		if len(retry) == 0 {
			w.markFlushed(last)
		}
		if stopping {
			if len(retry) > 0 {
				w.log.Error("store closing with writes it could not commit; they are lost", "writes", len(retry), "error", err)
			}
			return
		}
		select {
		case <-time.After(delay):
		case <-w.stop:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// cycleAfter is the wait before the next commit, after a batch of n writes queued
// over since.
func cycleAfter(n int, since time.Duration) time.Duration {
	if int64(n) >= busyRate*since.Milliseconds() {
		return busyCommitEvery
	}
	return commitEvery
}

// isolate commits a refused batch one write at a time. A write the database refuses
// on its own is logged and dropped — a settlement goes to the outbox first, which
// parks it for the operator if it can never apply — so it cannot stop the store;
// it returns the writes that failed for another reason, to be tried again.
func (w *writer) isolate(batch []writeOp) (left []writeOp, err error) {
	for _, op := range batch {
		e := w.commit([]writeOp{op})
		switch {
		case e == nil:
		case permanent(e):
			w.log.Error("the database refuses a call's write; it is dropped", "request_id", op.rec.RequestID,
				"settlement", op.kind == opSettle, "error", e)
			if op.kind == opSettle {
				w.spill([]writeOp{op}, e)
			}
		default:
			left, err = append(left, op), e
		}
	}
	return left, err
}

// permanent reports an error about the write itself (a constraint, a type), which no
// retry can fix — unlike a locked, busy or full database.
func permanent(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrConstraint, sqlite3.ErrMismatch, sqlite3.ErrTooBig, sqlite3.ErrRange:
		return true
	}
	return false
}

// waitForWork waits for queued writes or the stop. While the last commit failed
// and nothing is queued (new calls are refused then), it tries an empty write
// transaction every delay, so the store takes calls again once the database does.
func (w *writer) waitForWork(delay time.Duration) bool {
	if !w.failing.Load() {
		select {
		case <-w.wake:
		case <-w.stop:
		}
		return true
	}
	select {
	case <-w.wake:
		return true
	case <-w.stop:
		return true
	case <-time.After(delay):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tx, err := w.db.BeginTx(ctx, nil); err == nil { // BEGIN IMMEDIATE: it takes the write lock
		if tx.Commit() == nil {
			w.failing.Store(false)
		}
	}
	return false
}

func (w *writer) markFlushed(seq uint64) {
	w.flushed.Store(seq)
	w.mu.Lock()
	close(w.flushCh)
	w.flushCh = make(chan struct{})
	w.mu.Unlock()
}

// spill hands a failed batch's settlements to the outbox, so a crash during the
// outage cannot lose them, and returns what must be tried again.
func (w *writer) spill(batch []writeOp, err error) []writeOp {
	o := w.outbox.Load()
	if o == nil {
		return batch
	}
	var retry []writeOp
	for _, op := range batch {
		if op.kind == opSettle {
			p := PendingSettlement{Record: op.rec}
			p.Hold.ID, p.Hold.TenantID, p.Hold.KeyID, p.Hold.Amount = op.holdID, op.tenantID, op.keyID, op.rec.HoldAmount
			if oerr := o.Add(p); oerr == nil {
				w.mem.mu.Lock()
				w.mem.spilled[op.holdID] = spilled{tenantID: op.tenantID, keyID: op.keyID, charged: op.charged}
				w.mem.mu.Unlock()
				continue
			}
		}
		retry = append(retry, op)
	}
	return retry
}

// close commits what is queued and stops the writer; later calls do nothing.
func (w *writer) close() {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.closeStmts()
	})
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// commit writes a batch in one transaction and, under commitMu, moves its debits
// into the cached balances.
func (w *writer) commit(batch []writeOp) error {
	w.busySince.Store(time.Now().UnixNano())
	defer w.busySince.Store(0)
	// A context that cannot end keeps go-sqlite3 on this goroutine's thread (it
	// runs a cancellable statement on a goroutine of its own), so the statements
	// run at the writer's priority. A commit cannot hang on a lock: the busy
	// timeout bounds that, and healthy() stops new holds while one runs long.
	ctx := context.Background()

	now := nowMillis()
	var debitOrder []string
	debits := map[string]int64{}
	spent := map[string]int64{}
	rollups := map[rollupKey]*Tally{}
	var rollupOrder []rollupKey
	for i := range batch {
		op := &batch[i]
		if op.rec.CreatedAt == 0 {
			op.rec.CreatedAt = now
		}
		if op.kind == opSettle {
			if _, ok := debits[op.tenantID]; !ok {
				debitOrder = append(debitOrder, op.tenantID)
			}
			debits[op.tenantID] += op.charged
			if op.keyID != "" {
				spent[op.keyID] += op.charged
			}
		}
		k, t := rollupOf(&op.rec)
		if sum, ok := rollups[k]; ok {
			sum.Add(t)
		} else {
			rollups[k] = &t
			rollupOrder = append(rollupOrder, k)
		}
	}
	w.mem.commitMu.Lock()
	defer w.mem.commitMu.Unlock()
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	p := &batchPlan{batch: batch, now: now, debitOrder: debitOrder, debits: debits, spent: spent,
		rollups: rollups, rollupOrder: rollupOrder}
	if err := conn.Raw(func(dc any) error { return w.write(ctx, dc, p) }); err != nil {
		return err
	}
	w.mem.committed(batch)
	return nil
}

// batchPlan is what one commit writes: the batch, each tenant's and key's total
// debit, and the rollup rows.
type batchPlan struct {
	batch       []writeOp
	now         int64
	debitOrder  []string
	debits      map[string]int64
	spent       map[string]int64
	rollups     map[rollupKey]*Tally
	rollupOrder []rollupKey
}

// write runs a batch's transaction on the writer's connection as go-sqlite3 gives
// it, past database/sql, which would convert and copy every value of every row
// into a fresh slice on each statement.
func (w *writer) write(ctx context.Context, dc any, p *batchPlan) (err error) {
	sc, ok := dc.(*sqlite3.SQLiteConn)
	if !ok {
		return fmt.Errorf("store: the writer needs go-sqlite3's connection, not %T", dc)
	}
	tx, err := sc.BeginTx(ctx, driver.TxOptions{}) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error above is the one to report
		}
	}()

	// Each tenant's balance before this batch, to give every entry its balance_after.
	running := map[string]int64{}
	for _, id := range p.debitOrder {
		after, err := w.queryInt64(sc, sqlDebit, []any{p.debits[id], p.now, id})
		if err != nil {
			return fmt.Errorf("debit tenant %s: %w", id, err)
		}
		running[id] = after + p.debits[id]
	}
	for id, amount := range p.spent {
		if err := w.exec(sc, sqlSpend, []any{amount, id}); err != nil {
			return err
		}
	}
	args := w.args[:0]
	defer func() { clear(args[:cap(args)]); w.args = args[:0] }() // keeps the slice, not the values
	n := 0
	flushLedger := func() error {
		if n == 0 {
			return nil
		}
		err := w.exec(sc, multiInsert(sqlLedgerInsert, ledgerRowSQL, n), args)
		args, n = args[:0], 0
		return err
	}
	for i := range p.batch {
		op := &p.batch[i]
		if op.kind != opSettle {
			continue
		}
		running[op.tenantID] -= op.charged
		args = append(args, op.tenantID, -op.charged, running[op.tenantID], LedgerUsage, op.holdID, op.rec.Model, p.now)
		if n++; n == rowsPerInsert {
			if err := flushLedger(); err != nil {
				return err
			}
		}
	}
	if err := flushLedger(); err != nil {
		return err
	}
	for i := range p.batch {
		args = appendRecordArgs(args, &p.batch[i].rec)
		if n++; n == rowsPerInsert || i == len(p.batch)-1 {
			if err := w.exec(sc, multiInsert(sqlRecordInsert, recordRowSQL, n), args); err != nil {
				return err
			}
			args, n = args[:0], 0
		}
	}
	for _, k := range p.rollupOrder {
		if err := w.exec(sc, sqlRollup, rollupArgs(k, p.rollups[k])); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// stmt is q prepared on sc, once per connection.
func (w *writer) stmt(sc *sqlite3.SQLiteConn, q string) (*sqlite3.SQLiteStmt, error) {
	if w.stmtConn != sc {
		w.closeStmts() // the database/sql pool replaced a broken connection
		w.stmtConn = sc
	}
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := sc.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st.(*sqlite3.SQLiteStmt)
	return w.stmts[q], nil
}

func (w *writer) closeStmts() {
	for q, st := range w.stmts {
		_ = st.Close() // finalizing a statement tells nothing worth stopping for
		delete(w.stmts, q)
	}
}

// bind numbers args for the driver in a slice the writer keeps. Every value must
// already be one of the driver's types (appendRecordArgs and rollupArgs make sure).
func (w *writer) bind(args []any) []driver.NamedValue {
	named := w.named[:0]
	for i, v := range args {
		named = append(named, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	w.named = named
	return named
}

func (w *writer) exec(sc *sqlite3.SQLiteConn, q string, args []any) error {
	st, err := w.stmt(sc, q)
	if err != nil {
		return err
	}
	// A context that cannot end keeps go-sqlite3 on this goroutine (see commit).
	_, err = st.ExecContext(context.Background(), w.bind(args))
	clear(w.named)
	return err
}

// queryInt64 runs q for the one integer its single row holds.
func (w *writer) queryInt64(sc *sqlite3.SQLiteConn, q string, args []any) (int64, error) {
	st, err := w.stmt(sc, q)
	if err != nil {
		return 0, err
	}
	rows, err := st.QueryContext(context.Background(), w.bind(args))
	clear(w.named)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := []driver.Value{nil}
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return 0, sql.ErrNoRows
		}
		return 0, err
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("store: %T where an integer was expected", dest[0])
	}
	return v, nil
}

const (
	sqlDebit        = `UPDATE tenants SET balance = balance - ?, updated_at = ? WHERE id = ? RETURNING balance`
	sqlSpend        = `UPDATE api_keys SET spent = spent + ? WHERE id = ?`
	sqlLedgerInsert = `INSERT INTO ledger_entries (tenant_id, amount, balance_after, kind, ref, note, created_at) VALUES `
	ledgerRowSQL    = `(?, ?, ?, ?, ?, ?, ?)`
)

// multiInsert is an INSERT of n rows; the statements for every n up to
// rowsPerInsert are few, built and prepared once.
func multiInsert(head, row string, n int) string {
	multiMu.Lock()
	defer multiMu.Unlock()
	k := multiKey{head, n}
	q, ok := multiSQL[k]
	if !ok {
		q = head + strings.Repeat(row+", ", n-1) + row
		multiSQL[k] = q
	}
	return q
}

type multiKey struct {
	head string
	n    int
}

var (
	multiMu  sync.Mutex
	multiSQL = map[multiKey]string{}
)

// appendRecordArgs appends a request-log row's values in sqlRecordInsert's order.
func appendRecordArgs(args []any, r *CallRecord) []any {
	attempts := "[]"
	if len(r.Attempts) > 0 {
		b, _ := json.Marshal(r.Attempts)
		attempts = string(b)
	}
	// Only the driver's own types (int64, not int or billing.Nanos): the writer
	// hands them to go-sqlite3 unconverted.
	return append(args, r.RequestID, r.TenantID, r.KeyID, r.Endpoint, r.Model, r.UpstreamModel, r.ChannelID, r.Provider,
		int64(r.Status), r.ErrorCode, truncate(r.ErrorMessage, 1000), r.Stream, r.Usage.PromptTokens, r.Usage.CachedTokens,
		r.Usage.CacheWriteTokens, r.Usage.CompletionTokens, r.Usage.ReasoningTokens, r.Estimated, int64(r.HoldAmount),
		int64(r.Cost), attempts, r.LatencyMs, r.CreatedAt)
}

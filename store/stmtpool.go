package store

import (
	"context"
	"database/sql"
	"sync"

	"gorm.io/gorm"
)

// stmtPool is the group-commit writer's connection pool: the SQLite writer's
// *sql.DB with each statement prepared once, on the database, and reused by every
// transaction. (A statement first prepared inside a transaction — what a gorm
// transaction with PrepareStmt leaves in its cache — is prepared again by
// database/sql in every later transaction; on the hot path that was a fifth of the
// store's time.)
type stmtPool struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	seen  map[string]bool // run unprepared, to prepare after the commit
}

// maxCachedStmts bounds the cache; the wallet writes use a few dozen statements.
const maxCachedStmts = 512

var (
	_ gorm.ConnPool         = (*stmtPool)(nil)
	_ gorm.ConnPoolBeginner = (*stmtPool)(nil)
	_ gorm.ConnPool         = (*stmtTx)(nil)
	_ gorm.TxCommitter      = (*stmtTx)(nil)
)

func newStmtPool(db *sql.DB) *stmtPool {
	return &stmtPool{db: db, stmts: map[string]*sql.Stmt{}, seen: map[string]bool{}}
}

// stmt returns the prepared statement for a query, or ok false the first time a
// query is seen: it cannot be prepared then, as the transaction holds the only
// writer connection, so it runs unprepared and is prepared after the commit
// (prepareSeen).
func (p *stmtPool) stmt(query string) (s *sql.Stmt, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, found := p.stmts[query]; found {
		return s, true
	}
	if len(p.stmts)+len(p.seen) < maxCachedStmts {
		p.seen[query] = true
	}
	return nil, false
}

// prepareSeen prepares, on the database, the queries transactions ran unprepared;
// call it while no transaction of the pool is open.
func (p *stmtPool) prepareSeen(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for q := range p.seen {
		if s, err := p.db.PrepareContext(ctx, q); err == nil {
			p.stmts[q] = s
		}
		delete(p.seen, q)
	}
}

func (p *stmtPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stmts {
		_ = s.Close() // the pool is being dropped; nothing would act on a failed close
	}
	p.stmts = map[string]*sql.Stmt{}
}

func (p *stmtPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *stmtPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, query, args...)
}

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, query, args...)
}

func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, query, args...)
}

// BeginTx starts a transaction whose statements come from the pool's cache.
func (p *stmtPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &stmtTx{tx: tx, p: p}, nil
}

// stmtTx runs a transaction's statements through the pool's prepared statements.
type stmtTx struct {
	tx *sql.Tx
	p  *stmtPool
}

// bound is the cached statement for a query, bound to this transaction (which
// reuses its preparation: same connection), or nil to run the query unprepared.
func (t *stmtTx) bound(ctx context.Context, query string) *sql.Stmt {
	s, ok := t.p.stmt(query)
	if !ok {
		return nil
	}
	return t.tx.StmtContext(ctx, s)
}

func (t *stmtTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.bound(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.bound(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.bound(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *stmtTx) Commit() error   { return t.tx.Commit() }
func (t *stmtTx) Rollback() error { return t.tx.Rollback() }

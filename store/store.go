// Package store keeps Tollgate's state: tenants and their wallets, keys, holds, the
// ledger, usage records, channels and prices. It is the only package that talks to the
// database (through gorm), on SQLite by default and PostgreSQL for scale-out.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when a row the caller named does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write collides with existing state (a duplicate name, say).
var ErrConflict = errors.New("conflict")

// ErrInvalid is returned for a value the store refuses (a negative amount, say).
var ErrInvalid = errors.New("invalid")

// ErrUnavailable wraps every failure to reach or use the database, so the gateway can
// fail closed with 503 instead of serving a call it cannot bill.
var ErrUnavailable = errors.New("store unavailable")

// Options configures Open.
type Options struct {
	// DSN is a SQLite file path (or "file:" URI) or a postgres:// URL.
	DSN string
	// SecretKey encrypts upstream API keys at rest (32 bytes, AES-256-GCM).
	SecretKey []byte
	// BusyTimeout is how long a SQLite write waits for a lock held by another
	// process before it fails (default 10s).
	BusyTimeout time.Duration
}

// Store is the database handle. Writes go through w; on SQLite w is a single
// connection so writers queue in Go instead of sleeping on SQLITE_BUSY, and every
// write transaction starts with BEGIN IMMEDIATE so it can never fail mid-way on a lock.
type Store struct {
	w, r    *gorm.DB
	dialect dialect
	sealer  *sealer
	mem     *memWallet // holds and unflushed debits (SQLite only)
	writer  *writer    // write-behind of settlements and log rows (SQLite only)
	wdb     *sql.DB    // the SQLite writer connection
}

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// Open connects, applies pending migrations and returns a ready store.
func Open(ctx context.Context, opts Options) (*Store, error) {
	sealer, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	s := &Store{sealer: sealer}
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, PrepareStmt: true}
	if isPostgres(opts.DSN) {
		s.dialect = dialectPostgres
		db, err := gorm.Open(postgres.Open(opts.DSN), cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: open postgres: %v", ErrUnavailable, err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(32)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		s.w, s.r = db, db
	} else {
		if err := s.openSQLite(opts.DSN, opts.BusyTimeout, cfg); err != nil {
			return nil, err
		}
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close() // opening failed: report that error, not the close's
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if s.dialect == dialectSQLite {
		s.mem = newMemWallet()
		s.writer = newWriter(s.wdb, s.mem)
	}
	return s, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func (s *Store) openSQLite(dsn string, busy time.Duration, cfg *gorm.Config) error {
	if busy <= 0 {
		busy = 10 * time.Second
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("%w: create data directory: %v", ErrUnavailable, err)
		}
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	full := "file:" + path + "?" + q.Encode()

	w, err := gorm.Open(sqlite.Open(full), cfg)
	if err != nil {
		return fmt.Errorf("%w: open sqlite: %v", ErrUnavailable, err)
	}
	wdb, _ := w.DB()
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)

	r, err := gorm.Open(sqlite.Open(full), cfg)
	if err != nil {
		_ = wdb.Close()
		return fmt.Errorf("%w: open sqlite: %v", ErrUnavailable, err)
	}
	rdb, _ := r.DB()
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	s.w, s.r, s.wdb, s.dialect = w, r, wdb, dialectSQLite
	return nil
}

// Dialect names the database engine ("sqlite" or "postgres").
func (s *Store) Dialect() string {
	if s.dialect == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*gorm.DB{s.w, s.r} {
		sqlDB, err := db.DB()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if err := sqlDB.PingContext(ctx); err != nil {
			return fmt.Errorf("%w: ping: %v", ErrUnavailable, err)
		}
	}
	return nil
}

// Close releases the database connections.
func (s *Store) Close() error {
	// The writer stays in place, closed: a reader still running (a dashboard's
	// warm-up) then flushes nothing, where clearing the field raced with it.
	if s.writer != nil {
		s.writer.close() // commits what is queued
	}
	var errs []error
	seen := map[*gorm.DB]bool{}
	for _, db := range []*gorm.DB{s.r, s.w} {
		if db == nil || seen[db] {
			continue
		}
		seen[db] = true
		if sqlDB, err := db.DB(); err == nil {
			errs = append(errs, sqlDB.Close())
		}
	}
	return errors.Join(errs...)
}

// WritesBehind reports whether settlements are queued in memory and written behind
// the answers (SQLite), rather than written before Settle returns (PostgreSQL).
func (s *Store) WritesBehind() bool { return s.writer != nil }

// Flush waits until every settlement and log row queued before it is committed
// (SQLite's write-behind; a no-op elsewhere). Reads call it first, so they see
// every call settled before them.
func (s *Store) Flush(ctx context.Context) error {
	if s.writer == nil {
		return nil
	}
	return s.writer.flush(ctx)
}

// read is the reader for a query that must see every call settled before it. When
// pending writes cannot be committed it reads what the database has.
func (s *Store) read(ctx context.Context) *gorm.DB {
	_ = s.Flush(ctx)
	return s.r.WithContext(ctx)
}

// tx runs fn in one write transaction; any error rolls it back.
// On SQLite it also makes the in-memory wallet read its rows again: these are the
// writes (top-ups, credit limits, key budgets, ...) that change them behind it.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := s.w.WithContext(ctx).Transaction(fn)
	if err == nil {
		s.mem.forget()
	}
	return wrapDBError(err)
}

// wrapDBError leaves our own sentinels alone and marks everything else as the store
// being unavailable, so no caller mistakes a broken database for a business answer.
func wrapDBError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), isDomainError(err):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// isDomainError reports errors that carry a business answer, not a database fault.
func isDomainError(err error) bool {
	return errors.Is(err, billing.ErrInsufficientCredit) || errors.Is(err, billing.ErrHoldNotFound) || errors.Is(err, ErrInvalid) ||
		errors.Is(err, ErrIdempotencyInFlight) || errors.Is(err, ErrIdempotencyMismatch)
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

// nowMillis is the store's clock: times are int64 Unix milliseconds in every table,
// which sort, compare and index the same way on SQLite and PostgreSQL.
func nowMillis() int64 { return time.Now().UnixMilli() }

// Millis converts a stored timestamp to time.Time (zero for 0).
func Millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

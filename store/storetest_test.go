package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// engines returns the databases every store test runs on: SQLite always, and
// PostgreSQL when TOLLGATE_TEST_POSTGRES_DSN names one.
func engines(t *testing.T) map[string]func(t *testing.T) *Store {
	t.Helper()
	out := map[string]func(t *testing.T) *Store{"sqlite": openSQLite}
	if dsn := os.Getenv("TOLLGATE_TEST_POSTGRES_DSN"); dsn != "" {
		out["postgres"] = func(t *testing.T) *Store { return openPostgres(t, dsn) }
	} else {
		logSkipOnce.Do(func() {
			fmt.Println("store: PostgreSQL suite skipped: TOLLGATE_TEST_POSTGRES_DSN is not set")
		})
	}
	return out
}

var logSkipOnce sync.Once

func testKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func openSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: filepath.Join(t.TempDir(), "tollgate.db"), SecretKey: testKey()})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres gives each test its own schema, so tests never see each other's rows.
func openPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	sqlAdmin, _ := admin.DB()
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		sqlAdmin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), Options{DSN: u.String(), SecretKey: testKey()})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachEngine runs fn as a subtest on every engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, s *Store)) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

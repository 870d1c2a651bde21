package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// openAt opens (and migrates) a SQLite store at path; the caller closes it.
func openAt(t *testing.T, path string, key []byte) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: path, SecretKey: key})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return s
}

// balanceOf reads a tenant's balance and the sum of its ledger.
func balanceOf(t *testing.T, s *Store, id string) (balance, ledger billing.Nanos) {
	t.Helper()
	ctx := context.Background()
	ten, err := s.Tenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.LedgerSum(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return ten.Balance, sum
}

// TestBackupSQLiteWhileWriting: a backup taken while top-ups keep committing is one
// consistent snapshot — every wallet's balance equals its ledger in the copy — and
// the copy opens as a working store.
func TestBackupSQLiteWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tollgate.db")
	key := testKey()
	s := openAt(t, dbPath, key)
	defer s.Close()
	var tenants []string
	for i := range 3 {
		ten, err := s.CreateTenant(ctx, fmt.Sprintf("t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, ten.ID)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var writes atomic.Int64
	for _, id := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := s.Topup(ctx, id, billing.Nanos(1000+n), "", fmt.Sprintf("k%d", n)); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for writes.Load() < 30 { // let the writers get going so the backup races them
		time.Sleep(time.Millisecond)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	info, err := BackupSQLite(ctx, dbPath, dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != dest || info.Tenants != 3 || info.SchemaVersion != SchemaVersion() || info.Bytes == 0 {
		t.Fatalf("info %+v", info)
	}
	if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v %v", st.Mode(), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".*tmp*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	b := openAt(t, dest, key)
	defer b.Close()
	var copied billing.Nanos
	for _, id := range tenants {
		bal, sum := balanceOf(t, b, id)
		if bal != sum {
			t.Fatalf("tenant %s in the backup: balance %d != ledger %d (not one snapshot)", id, bal, sum)
		}
		copied += bal
	}
	if copied == 0 {
		t.Fatal("the backup holds none of the top-ups")
	}
}

func TestBackupSQLiteRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tollgate.db")
	s := openAt(t, dbPath, testKey())
	s.Close()

	t.Run("DestinationExists", func(t *testing.T) {
		dest := filepath.Join(dir, "exists.db")
		os.WriteFile(dest, []byte("keep me"), 0o600)
		if _, err := BackupSQLite(ctx, dbPath, dest); err == nil {
			t.Fatal("overwrote an existing file")
		}
		if b, _ := os.ReadFile(dest); string(b) != "keep me" {
			t.Fatal("existing file changed")
		}
	})
	t.Run("MissingDatabaseIsNotCreated", func(t *testing.T) {
		missing := filepath.Join(dir, "nope", "tollgate.db")
		if _, err := BackupSQLite(ctx, missing, filepath.Join(dir, "b1.db")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err %v, want not-exist", err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("backup created the database it was asked to copy")
		}
	})
	t.Run("ErrNotTollgate", func(t *testing.T) {
		other := filepath.Join(dir, "other.db")
		db, _ := sql.Open("sqlite3", other)
		db.Exec(`CREATE TABLE notes (body TEXT)`)
		db.Close()
		if _, err := BackupSQLite(ctx, other, filepath.Join(dir, "b2.db")); !errors.Is(err, ErrNotTollgate) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Postgres", func(t *testing.T) {
		if _, err := BackupSQLite(ctx, "postgres://u@h/db", filepath.Join(dir, "b3.db")); err == nil {
			t.Fatal("backed up a postgres DSN")
		}
	})
}

// TestRestoreSQLite: restore refuses while the database is open, then swaps the
// backup in, keeps the previous database as .bak, and leaves no stale WAL behind.
func TestRestoreSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tollgate.db")
	key := testKey()
	s := openAt(t, dbPath, key)
	ten, _ := s.CreateTenant(ctx, "acme")
	s.Topup(ctx, ten.ID, 5_000_000_000, "", "first")
	if _, err := s.CreateChannel(ctx, ChannelInput{Name: ptr("up"), Provider: ptr("openai"), BaseURL: ptr("http://127.0.0.1:1/v1"),
		APIKey: ptr("sk-upstream"), Models: ptr([]string{"gpt-4o-mini"})}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := BackupSQLite(ctx, dbPath, backup); err != nil {
		t.Fatal(err)
	}
	// Changes after the backup: the restore must undo them, the .bak must keep them.
	s.Topup(ctx, ten.ID, 2_000_000_000, "", "second")

	t.Run("ErrInUse", func(t *testing.T) {
		_, err := RestoreSQLite(ctx, RestoreOptions{Backup: backup, DBPath: dbPath, SecretKey: key})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("err %v, want ErrInUse", err)
		}
		if bal, _ := balanceOf(t, s, ten.ID); bal != 7_000_000_000 {
			t.Fatalf("refused restore changed the database: balance %d", bal)
		}
	})
	s.Close()

	t.Run("ErrSecretKeyMismatch", func(t *testing.T) {
		for _, wrong := range [][]byte{testKey(), nil} {
			_, err := RestoreSQLite(ctx, RestoreOptions{Backup: backup, DBPath: dbPath, SecretKey: wrong})
			if !errors.Is(err, ErrSecretKeyMismatch) {
				t.Fatalf("key %x: err %v", wrong, err)
			}
		}
		if _, err := os.Stat(dbPath + ".bak"); err == nil {
			t.Fatal("a refused restore retired the database")
		}
	})

	info, err := RestoreSQLite(ctx, RestoreOptions{Backup: backup, DBPath: dbPath, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != dbPath || info.Tenants != 1 || info.Channels != 1 {
		t.Fatalf("info %+v", info)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(dbPath + side); err == nil {
			t.Fatalf("%s left next to the restored database", side)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	r := openAt(t, dbPath, key)
	if bal, sum := balanceOf(t, r, ten.ID); bal != 5_000_000_000 || sum != bal {
		t.Fatalf("restored balance %d ledger %d, want 5 USD", bal, sum)
	}
	if chs, err := r.ListChannels(ctx); err != nil || len(chs) != 1 || chs[0].APIKey != "sk-upstream" {
		t.Fatalf("restored channels %+v %v", chs, err)
	}
	r.Close()
	old := openAt(t, dbPath+".bak", key)
	defer old.Close()
	if bal, _ := balanceOf(t, old, ten.ID); bal != 7_000_000_000 {
		t.Fatalf(".bak balance %d, want the pre-restore 7 USD", bal)
	}
	if st, err := os.Stat(dbPath + ".bak"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf(".bak: %v %v", st, err)
	}
}

func TestRestoreSQLiteRefusesBadBackups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "tollgate.db")
	key := testKey()
	s := openAt(t, dbPath, key)
	ten, _ := s.CreateTenant(ctx, "acme")
	s.Close()
	before, _ := os.ReadFile(dbPath)

	newer := filepath.Join(t.TempDir(), "newer.db")
	if _, err := BackupSQLite(ctx, dbPath, newer); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite3", newer)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, []byte("this is not a database at all, just some text that is long enough"), 0o600)
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	os.WriteFile(truncated, before[:len(before)/2], 0o600)

	for name, c := range map[string]struct {
		path string
		want error
	}{
		"ErrSchemaTooNew":   {newer, ErrSchemaTooNew},
		"ErrNotTollgate":    {garbage, ErrNotTollgate},
		"TruncatedFile":     {truncated, ErrNotTollgate},
		"MissingBackupFile": {filepath.Join(dir, "missing.db"), os.ErrNotExist},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := RestoreSQLite(ctx, RestoreOptions{Backup: c.path, DBPath: dbPath, SecretKey: key})
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if after, _ := os.ReadFile(dbPath); string(after) != string(before) {
				t.Fatal("a refused restore changed the database")
			}
			if _, err := os.Stat(dbPath + ".bak"); err == nil {
				t.Fatal("a refused restore retired the database")
			}
		})
	}

	t.Run("IntoEmptyDataDir", func(t *testing.T) {
		good := filepath.Join(t.TempDir(), "good.db")
		if _, err := BackupSQLite(ctx, dbPath, good); err != nil {
			t.Fatal(err)
		}
		fresh := filepath.Join(t.TempDir(), "data", "tollgate.db")
		if _, err := RestoreSQLite(ctx, RestoreOptions{Backup: good, DBPath: fresh, SecretKey: key}); err != nil {
			t.Fatal(err)
		}
		r := openAt(t, fresh, key)
		defer r.Close()
		if _, err := r.Tenant(ctx, ten.ID); err != nil {
			t.Fatalf("restored tenant: %v", err)
		}
	})
}

// TestRestoreSQLiteKeepsOwner: restored as root for a gateway that runs as its own
// user, the new database and the .bak belong to that user, not to root.
func TestRestoreSQLiteKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change file owners")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	dbPath := filepath.Join(dir, "tollgate.db")
	key := testKey()
	s := openAt(t, dbPath, key)
	s.Close()
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := BackupSQLite(ctx, dbPath, backup); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	for _, p := range []string{dir, dbPath} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := RestoreSQLite(ctx, RestoreOptions{Backup: backup, DBPath: dbPath, SecretKey: key}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dbPath, dbPath + ".bak"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != nobody || sys.Gid != nobody {
			t.Errorf("%s owned by %d:%d, want the gateway user %d", p, sys.Uid, sys.Gid, nobody)
		}
	}
}

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Backup and restore work on the SQLite file itself, apart from an open Store: a
// backup must not migrate or lock the database a running gateway is using, and a
// restore must happen while no gateway has it open. PostgreSQL has its own tools
// (pg_dump, pg_restore); these functions refuse a postgres:// DSN.

// ErrInUse is returned by RestoreSQLite while another process has the database open.
var ErrInUse = errors.New("database in use")

// ErrNotTollgate is returned for a file that is not a readable Tollgate database.
var ErrNotTollgate = errors.New("not a Tollgate database")

// ErrSchemaTooNew is returned for a database written by a newer Tollgate, whose
// schema this binary does not know; restoring it would break the gateway.
var ErrSchemaTooNew = errors.New("database schema is newer than this tollgate")

// ErrSecretKeyMismatch is returned when the upstream API keys in a database do not
// decrypt with the secret key given: the gateway could not start on it.
var ErrSecretKeyMismatch = errors.New("channel API keys do not decrypt with this secret key")

// DatabaseInfo describes a Tollgate SQLite database file, so an operator can see
// what a backup holds before trusting it.
type DatabaseInfo struct {
	Path          string
	SchemaVersion int   // highest migration applied
	Tenants       int64 // rows in tenants
	Channels      int64 // rows in channels
	OpenHolds     int64 // holds not yet settled or released
	Bytes         int64 // file size, with the WAL file's
}

// tollgateTables exist in every Tollgate database since schema version 1.
var tollgateTables = []string{"schema_migrations", "settings", "tenants", "api_keys", "holds", "ledger_entries"}

// sqliteURI builds a DSN for the mattn driver that never creates a missing file
// (mode=rw) and treats the path literally even when it contains URI characters.
func sqliteURI(path string, params ...string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + strings.Join(append([]string{"mode=rw"}, params...), "&")
}

// openFile opens one SQLite file on a single connection, without migrating it.
func openFile(path string, params ...string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", sqliteURI(path, params...))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// InspectSQLite checks that path is an intact Tollgate database whose schema this
// binary knows, and reports what it holds. It reads only.
func InspectSQLite(ctx context.Context, path string) (DatabaseInfo, error) {
	db, err := openFile(path, "_query_only=true", "_busy_timeout=5000")
	if err != nil {
		return DatabaseInfo{}, err
	}
	defer db.Close()
	return inspect(ctx, db, path, true)
}

// inspect reads a database's identity and size; full adds SQLite's quick_check,
// which reads every page and so is kept for backups, not for live databases.
func inspect(ctx context.Context, db *sql.DB, path string, full bool) (DatabaseInfo, error) {
	info := DatabaseInfo{Path: path}
	if full {
		var result string
		if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&result); err != nil {
			return info, fmt.Errorf("%w: %s: %v", ErrNotTollgate, path, err)
		}
		if result != "ok" {
			return info, fmt.Errorf("%w: %s is damaged: %s", ErrNotTollgate, path, result)
		}
	}
	var found int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?` + strings.Repeat(", ?", len(tollgateTables)-1) + `)`
	args := make([]any, len(tollgateTables))
	for i, t := range tollgateTables {
		args[i] = t
	}
	if err := db.QueryRowContext(ctx, q, args...).Scan(&found); err != nil {
		return info, fmt.Errorf("%w: %s: %v", ErrNotTollgate, path, err)
	}
	if found != len(tollgateTables) {
		return info, fmt.Errorf("%w: %s has no Tollgate tables", ErrNotTollgate, path)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&info.SchemaVersion); err != nil {
		return info, fmt.Errorf("%w: %s: %v", ErrNotTollgate, path, err)
	}
	if info.SchemaVersion < 1 {
		return info, fmt.Errorf("%w: %s has no migrations applied", ErrNotTollgate, path)
	}
	if info.SchemaVersion > SchemaVersion() {
		return info, fmt.Errorf("%w: %s is at schema version %d, this tollgate knows up to %d: upgrade tollgate first",
			ErrSchemaTooNew, path, info.SchemaVersion, SchemaVersion())
	}
	hasChannels, err := tableExists(ctx, db, "channels") // since schema version 3
	if err != nil {
		return info, fmt.Errorf("%w: %s: %v", ErrNotTollgate, path, err)
	}
	counts := map[string]*int64{"tenants": &info.Tenants, "holds": &info.OpenHolds}
	if hasChannels {
		counts["channels"] = &info.Channels
	}
	for table, dst := range counts {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(dst); err != nil {
			return info, fmt.Errorf("%w: %s: %v", ErrNotTollgate, path, err)
		}
	}
	for _, f := range []string{path, path + "-wal"} { // a live database keeps recent pages in its WAL
		if st, err := os.Stat(f); err == nil {
			info.Bytes += st.Size()
		}
	}
	return info, nil
}

// BackupSQLite writes a consistent copy of the database at dbPath to dest with
// VACUUM INTO, which reads one snapshot and so is safe while a gateway keeps
// writing. The copy is checked, made private (0600), and only then appears at dest;
// an existing dest is never overwritten.
func BackupSQLite(ctx context.Context, dbPath, dest string) (DatabaseInfo, error) {
	if isPostgres(dbPath) {
		return DatabaseInfo{}, errors.New("backup copies a SQLite database; for PostgreSQL use pg_dump")
	}
	if _, err := os.Lstat(dest); err == nil {
		return DatabaseInfo{}, fmt.Errorf("%s already exists: choose a new file name", dest)
	}
	src, err := openFile(dbPath, "_busy_timeout=10000")
	if err != nil {
		return DatabaseInfo{}, fmt.Errorf("open database: %w", err)
	}
	defer src.Close()
	if _, err := inspect(ctx, src, dbPath, false); err != nil {
		return DatabaseInfo{}, err
	}
	tmp := tempName(dest)
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return DatabaseInfo{}, fmt.Errorf("backup: %w", err)
	}
	info, err := InspectSQLite(ctx, tmp)
	if err != nil {
		return info, fmt.Errorf("the backup did not verify: %w", err)
	}
	if err := publish(tmp, dest); err != nil {
		return info, err
	}
	info.Path = dest
	return info, nil
}

// RestoreOptions says what RestoreSQLite restores, and where.
type RestoreOptions struct {
	Backup string // the backup file (from BackupSQLite, or a copy of a stopped gateway's database)
	DBPath string // the live database file to replace
	// SecretKey is the key the gateway will run with. Every channel API key in the
	// backup must decrypt with it, so a restore into a data directory with another
	// key (or none) is refused before it happens; nil is fine for a backup that
	// holds no channel keys.
	SecretKey []byte
}

// RestoreSQLite replaces the database at DBPath with a backup. It checks the backup
// first (intact, a Tollgate database, a schema this binary knows, and the secret
// key), refuses with ErrInUse while another process has the database open, keeps
// the previous database as DBPath+".bak", and swaps the new file in with one rename,
// so the database is always either the old one or the new one.
func RestoreSQLite(ctx context.Context, opts RestoreOptions) (DatabaseInfo, error) {
	if isPostgres(opts.DBPath) {
		return DatabaseInfo{}, errors.New("restore replaces a SQLite database; for PostgreSQL use pg_restore (or psql for a plain pg_dump)")
	}
	if err := os.MkdirAll(filepath.Dir(opts.DBPath), 0o700); err != nil {
		return DatabaseInfo{}, err
	}
	// Work on a private copy next to the database, so the final rename is atomic
	// and the operator's backup file is never touched.
	tmp := tempName(opts.DBPath)
	defer func() {
		_ = os.Remove(tmp) // a no-op once renamed
		_ = removeSidecars(tmp)
	}()
	if err := copyFile(opts.Backup, tmp); err != nil {
		return DatabaseInfo{}, fmt.Errorf("read backup: %w", err)
	}
	info, err := InspectSQLite(ctx, tmp)
	if err != nil {
		return info, err
	}
	if err := checkChannelKeys(ctx, tmp, opts.SecretKey); err != nil {
		return info, err
	}
	if err := removeSidecars(tmp); err != nil { // left by the checks if the copy is in WAL mode
		return info, err
	}
	if err := retire(ctx, opts.DBPath); err != nil {
		return info, err
	}
	// Run as root for a gateway that runs as its own user, the new file must still
	// be the gateway's to write.
	if err := matchOwner(tmp, filepath.Dir(opts.DBPath)); err != nil {
		return info, err
	}
	if err := publish(tmp, opts.DBPath); err != nil {
		return info, err
	}
	info.Path = opts.DBPath
	return info, nil
}

// retire makes sure nobody uses the database at path, keeps a consistent copy of it
// as path.bak, and removes its WAL sidecar files: a stale WAL next to the restored
// file would be replayed into it. A missing database is fine (a fresh data dir).
func retire(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// In exclusive locking mode the first write transaction needs an exclusive lock
	// on the file, which SQLite cannot get while any other connection (a running
	// gateway, a CLI command) has the database open.
	db, err := openFile(path, "_busy_timeout=0", "_locking_mode=EXCLUSIVE")
	if err != nil {
		return fmt.Errorf("open current database: %w", err)
	}
	defer db.Close()
	inUse := func(err error) error {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			return fmt.Errorf("%w: %s is open in another process; stop the gateway (and any tollgate command) first", ErrInUse, path)
		}
		return fmt.Errorf("lock current database: %w", err)
	}
	conn, err := db.Conn(ctx) // one connection holds the lock from here to the end
	if err != nil {
		return inUse(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		return inUse(err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("lock current database: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint current database: %w", err)
	}
	bak := path + ".bak"
	tmp := tempName(bak)
	defer os.Remove(tmp)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("keep the current database as %s: %w", bak, err)
	}
	if err := matchOwner(tmp, path); err != nil {
		return err
	}
	if err := publish(tmp, bak); err != nil {
		return err
	}
	if err := conn.Close(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return removeSidecars(path)
}

// checkChannelKeys decrypts every stored upstream API key with key; a nil key
// passes only a database that stores none.
func checkChannelKeys(ctx context.Context, path string, key []byte) error {
	var s *sealer
	if key != nil {
		var err error
		if s, err = newSealer(key); err != nil {
			return err
		}
	}
	db, err := openFile(path, "_query_only=true")
	if err != nil {
		return err
	}
	defer db.Close()
	if ok, err := tableExists(ctx, db, "channels"); err != nil || !ok {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, name, api_key_enc FROM channels WHERE api_key_enc <> ''`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, enc string
		if err := rows.Scan(&id, &name, &enc); err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("%w: the backup holds encrypted channel API keys (channel %q) and no secret key was given", ErrSecretKeyMismatch, name)
		}
		if _, err := s.open(enc, id); err != nil {
			return fmt.Errorf("%w (channel %q): restore the secret key that was in use when the backup was made", ErrSecretKeyMismatch, name)
		}
	}
	return rows.Err()
}

// tableExists reports whether the database has a table of that name.
func tableExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// removeSidecars deletes the WAL, shared-memory and rollback-journal files that
// belong to a database file.
func removeSidecars(path string) error {
	for _, side := range []string{path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(side); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", side, err)
		}
	}
	return nil
}

// tempName is a unique hidden name next to path, so a later rename stays on one
// file system.
func tempName(path string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(b[:]))
}

// matchOwner gives path the owner of like when this process runs as root (a no-op
// otherwise, and where the platform has no Unix owners).
func matchOwner(path, like string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(like)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return os.Lchown(path, int(sys.Uid), int(sys.Gid))
	}
	return nil
}

// copyFile copies src to a new file dst (mode 0600) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src) // #nosec G304 -- the backup file the operator named to restore
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- a new temp file beside the database (O_EXCL)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close() // that error is the one to report
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close() // that error is the one to report
		return err
	}
	return out.Close()
}

// publish makes a finished temp file private and durable, renames it into place
// and syncs the directory, so a crash leaves either the old file or the new one.
func publish(tmp, dst string) error {
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0) // #nosec G304 -- our own temp file, opened to sync it
	if err != nil {
		return err
	}
	serr := f.Sync()
	if err := errors.Join(serr, f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tollgate-gw/tollgate/store"
)

// pgDumpHint is what backup and restore say when the gateway runs on PostgreSQL,
// whose own tools do this job better than any copy Tollgate could make.
const pgDumpHint = `this gateway uses PostgreSQL (TOLLGATE_DATABASE_URL); use PostgreSQL's own tools:
    pg_dump --format=custom --file=tollgate.dump "$TOLLGATE_DATABASE_URL"      # backup
    pg_restore --clean --if-exists --dbname="$TOLLGATE_DATABASE_URL" tollgate.dump   # restore (gateways stopped)`

// backupCmd runs `tollgate backup <file>`: a consistent copy of the SQLite database,
// taken while the gateway keeps serving.
func backupCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	own := flag.NewFlagSet("tollgate backup", flag.ContinueOnError)
	cfg, files, err := parseOps("backup", "backup [flags] <file>", own, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(files) != 1 {
		return opsUsageError(own, stderr, "name one file to write the backup to")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("backup copies the SQLite database; " + pgDumpHint)
	}
	info, err := store.BackupSQLite(context.Background(), cfg.DSN(), files[0])
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s: is --data-dir (TOLLGATE_DATA_DIR) right? (%v)", cfg.DSN(), err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %s\n", cfg.DSN(), info.Path, describe(info))
	fmt.Fprintf(stderr, "note: channel API keys in the backup are encrypted with the secret key (%s);\n      keep a copy of it too, stored apart from the backup.\n", secretKeySource(cfg))
	return nil
}

// restoreCmd runs `tollgate restore <file>`: it replaces the SQLite database with a
// checked backup while no gateway has it open, and keeps the old one as .bak.
func restoreCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	own := flag.NewFlagSet("tollgate restore", flag.ContinueOnError)
	cfg, files, err := parseOps("restore", "restore [flags] <file>", own, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(files) != 1 {
		return opsUsageError(own, stderr, "name the backup file to restore")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("restore replaces the SQLite database; " + pgDumpHint)
	}
	if cfg.DataDir == "" {
		return errors.New("TOLLGATE_DATA_DIR / --data-dir must not be empty")
	}
	key, err := existingSecretKey(cfg)
	if err != nil {
		return err
	}
	info, err := store.RestoreSQLite(context.Background(), store.RestoreOptions{Backup: files[0], DBPath: cfg.DSN(), SecretKey: key})
	if errors.Is(err, store.ErrSecretKeyMismatch) && key == nil {
		return fmt.Errorf("%w: there is no %s and TOLLGATE_SECRET_KEY is not set; put the secret key of the backed-up installation in place first",
			err, filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s\n", files[0], info.Path, describe(info))
	if _, err := os.Stat(info.Path + ".bak"); err == nil {
		fmt.Fprintf(stdout, "the previous database is kept as %s.bak\n", info.Path)
	}
	if info.SchemaVersion < store.SchemaVersion() {
		fmt.Fprintf(stdout, "the backup is at schema version %d; the next start migrates it to %d\n", info.SchemaVersion, store.SchemaVersion())
	}
	return nil
}

// existingSecretKey returns the configured secret key or the one in the data
// directory, without generating one (restore must not invent a key the backup's
// channels were never encrypted with); nil when there is none.
func existingSecretKey(cfg Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		return decodeSecretKey(cfg.SecretKey)
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	b, err := os.ReadFile(path) // #nosec G304 -- the key file in the operator's configured data directory
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := decodeSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// secretKeySource names where the secret key comes from, for messages.
func secretKeySource(cfg Config) string {
	if cfg.SecretKey != "" {
		return "TOLLGATE_SECRET_KEY"
	}
	return filepath.Join(cfg.DataDir, "secret.key")
}

// describe summarizes a database for one line of output.
func describe(info store.DatabaseInfo) string {
	return fmt.Sprintf("schema version %d, %d tenants, %d channels, %d open holds, %s",
		info.SchemaVersion, info.Tenants, info.Channels, info.OpenHolds, humanBytes(info.Bytes))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

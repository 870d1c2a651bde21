package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// migrations is the ordered schema history. Append only: a released step is never
// edited, a change is a new step. Each step runs in its own transaction together with
// the bump of schema_migrations, so a crash leaves the schema at a known version.
// Placeholders: {{id}} an auto-increment primary key, {{bool}} a boolean column.
var migrations = []string{
	// 1: tenants with their wallet columns, keys, holds and the ledger.
	`CREATE TABLE settings (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	CREATE TABLE tenants (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL,
		balance      BIGINT NOT NULL DEFAULT 0,
		held         BIGINT NOT NULL DEFAULT 0,
		credit_limit BIGINT NOT NULL DEFAULT 0,
		created_at   BIGINT NOT NULL,
		updated_at   BIGINT NOT NULL,
		CHECK (held >= 0),
		CHECK (credit_limit >= 0)
	);
	CREATE UNIQUE INDEX tenants_name ON tenants (name);
	CREATE TABLE api_keys (
		id           TEXT PRIMARY KEY,
		tenant_id    TEXT NOT NULL REFERENCES tenants (id),
		name         TEXT NOT NULL,
		digest       TEXT NOT NULL,
		hint         TEXT NOT NULL,
		models       TEXT NOT NULL DEFAULT '[]',
		budget       BIGINT,
		spent        BIGINT NOT NULL DEFAULT 0,
		held         BIGINT NOT NULL DEFAULT 0,
		expires_at   BIGINT NOT NULL DEFAULT 0,
		revoked_at   BIGINT NOT NULL DEFAULT 0,
		created_at   BIGINT NOT NULL,
		CHECK (held >= 0)
	);
	CREATE UNIQUE INDEX api_keys_digest ON api_keys (digest);
	CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
	CREATE TABLE holds (
		id         TEXT PRIMARY KEY,
		tenant_id  TEXT NOT NULL REFERENCES tenants (id),
		key_id     TEXT NOT NULL,
		request_id TEXT NOT NULL,
		amount     BIGINT NOT NULL,
		key_held   {{bool}} NOT NULL,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL,
		CHECK (amount >= 0)
	);
	CREATE INDEX holds_expires ON holds (expires_at);
	CREATE INDEX holds_tenant ON holds (tenant_id);
	CREATE TABLE ledger_entries (
		id            {{id}},
		tenant_id     TEXT NOT NULL REFERENCES tenants (id),
		amount        BIGINT NOT NULL,
		balance_after BIGINT NOT NULL,
		kind          TEXT NOT NULL,
		ref           TEXT NOT NULL,
		note          TEXT NOT NULL DEFAULT '',
		created_at    BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX ledger_ref ON ledger_entries (tenant_id, kind, ref);
	CREATE INDEX ledger_tenant_id ON ledger_entries (tenant_id, id);`,

	// 2: the request log (one row per call, served or refused) and its indexes.
	`CREATE TABLE usage_records (
		id                 {{id}},
		request_id         TEXT NOT NULL,
		tenant_id          TEXT NOT NULL,
		key_id             TEXT NOT NULL,
		endpoint           TEXT NOT NULL,
		model              TEXT NOT NULL,
		upstream_model     TEXT NOT NULL DEFAULT '',
		channel_id         TEXT NOT NULL DEFAULT '',
		provider           TEXT NOT NULL DEFAULT '',
		status             INTEGER NOT NULL,
		error_code         TEXT NOT NULL DEFAULT '',
		error_message      TEXT NOT NULL DEFAULT '',
		stream             {{bool}} NOT NULL,
		prompt_tokens      BIGINT NOT NULL DEFAULT 0,
		cached_tokens      BIGINT NOT NULL DEFAULT 0,
		cache_write_tokens BIGINT NOT NULL DEFAULT 0,
		completion_tokens  BIGINT NOT NULL DEFAULT 0,
		reasoning_tokens   BIGINT NOT NULL DEFAULT 0,
		estimated          {{bool}} NOT NULL,
		hold_amount        BIGINT NOT NULL DEFAULT 0,
		cost               BIGINT NOT NULL DEFAULT 0,
		attempts           TEXT NOT NULL DEFAULT '[]',
		latency_ms         BIGINT NOT NULL DEFAULT 0,
		created_at         BIGINT NOT NULL
	);
	CREATE INDEX usage_created ON usage_records (created_at);
	CREATE INDEX usage_tenant_created ON usage_records (tenant_id, created_at);
	CREATE INDEX usage_key_created ON usage_records (key_id, created_at);
	CREATE INDEX usage_request ON usage_records (request_id);`,

	// 3: upstream channels and price overrides.
	`CREATE TABLE channels (
		id          TEXT PRIMARY KEY,
		name        TEXT NOT NULL,
		provider    TEXT NOT NULL,
		base_url    TEXT NOT NULL,
		api_key_enc TEXT NOT NULL DEFAULT '',
		models      TEXT NOT NULL DEFAULT '[]',
		model_map   TEXT NOT NULL DEFAULT '{}',
		priority    INTEGER NOT NULL DEFAULT 0,
		weight      INTEGER NOT NULL DEFAULT 1,
		enabled     {{bool}} NOT NULL,
		created_at  BIGINT NOT NULL,
		updated_at  BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX channels_name ON channels (name);
	CREATE TABLE prices (
		model          TEXT PRIMARY KEY,
		provider       TEXT NOT NULL DEFAULT '',
		input          BIGINT NOT NULL,
		output         BIGINT NOT NULL,
		cached_input   BIGINT NOT NULL DEFAULT 0,
		cache_write    BIGINT NOT NULL DEFAULT 0,
		context_window BIGINT NOT NULL DEFAULT 0,
		max_output     BIGINT NOT NULL DEFAULT 0,
		updated_at     BIGINT NOT NULL
	);`,

	// 4: per-channel provider options (Azure's api-version, say).
	`ALTER TABLE channels ADD COLUMN options TEXT NOT NULL DEFAULT '{}'`,

	// 5: answers kept for client idempotency keys on /v1 (store/idempotency.go).
	migrationIdempotency,

	// 6: the audit log of administrative changes (store/audit.go).
	migrationAudit,

	// 7: rate limits per key and per tenant (store/limits.go).
	migrationLimits,

	// 8: the dashboard's admin users, sessions, sign-in throttle and daily usage
	// rollup (store/dashboard.go).
	migrationDashboard,

	// 9: tenant self-service: tenant users, invites and sessions, redeem codes, Stripe
	// Checkout sessions and events, low-balance alerts (store/portal.go).
	migrationPortal,
}

// SchemaVersion is the version a fully migrated database reports.
func SchemaVersion() int { return len(migrations) }

func (s *Store) renderMigration(sql string) string {
	id, boolean := "INTEGER PRIMARY KEY AUTOINCREMENT", "BOOLEAN"
	if s.dialect == dialectPostgres {
		id = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return strings.NewReplacer("{{id}}", id, "{{bool}}", boolean).Replace(sql)
}

// migrate applies every step newer than the database's version, each in its own
// transaction. On PostgreSQL an advisory lock keeps two starting nodes from racing.
func (s *Store) migrate(ctx context.Context) error {
	db := s.w.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`).Error; err != nil {
		return fmt.Errorf("%w: create schema_migrations: %v", ErrUnavailable, err)
	}
	for i, step := range migrations {
		version := i + 1
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == dialectPostgres {
				if err := tx.Exec(`SELECT pg_advisory_xact_lock(7412001)`).Error; err != nil {
					return err
				}
			}
			var done int64
			if err := tx.Raw(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done).Error; err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			for _, stmt := range splitStatements(s.renderMigration(step)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
			}
			return tx.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, nowMillis()).Error
		})
		if err != nil {
			return fmt.Errorf("%w: migration %d: %v", ErrUnavailable, version, err)
		}
	}
	return nil
}

// AppliedVersion reports the schema version the database is at.
func (s *Store) AppliedVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.WithContext(ctx).Raw(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v).Error
	return v, wrapDBError(err)
}

func splitStatements(sql string) []string {
	var out []string
	for _, stmt := range strings.Split(sql, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

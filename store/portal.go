package store

import (
	"fmt"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// migrationPortal adds tenant self-service: tenant users (invited by an admin with a
// one-time link; only digests of invite tokens and session ids are kept), redeem
// code batches and codes (looked up by digest, the code itself sealed with the
// secret key so a batch can be exported again), the Stripe Checkout sessions
// Tollgate created and the webhook events it processed, and low-balance alerts with
// their delivery queue.
const migrationPortal = `CREATE TABLE tenant_users (
		id            TEXT PRIMARY KEY,
		tenant_id     TEXT NOT NULL REFERENCES tenants (id),
		email         TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		created_at    BIGINT NOT NULL,
		updated_at    BIGINT NOT NULL,
		last_login_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX tenant_users_email ON tenant_users (email);
	CREATE INDEX tenant_users_tenant ON tenant_users (tenant_id);
	CREATE TABLE tenant_invites (
		id         TEXT PRIMARY KEY,
		digest     TEXT NOT NULL,
		tenant_id  TEXT NOT NULL REFERENCES tenants (id),
		email      TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at    BIGINT NOT NULL DEFAULT 0,
		created_at BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX tenant_invites_digest ON tenant_invites (digest);
	CREATE INDEX tenant_invites_tenant ON tenant_invites (tenant_id);
	CREATE TABLE tenant_sessions (
		digest     TEXT PRIMARY KEY,
		user_id    TEXT NOT NULL REFERENCES tenant_users (id) ON DELETE CASCADE,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX tenant_sessions_user ON tenant_sessions (user_id);
	CREATE TABLE redeem_batches (
		id         TEXT PRIMARY KEY,
		amount     BIGINT NOT NULL,
		count      INTEGER NOT NULL,
		expires_at BIGINT NOT NULL DEFAULT 0,
		note       TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		CHECK (amount > 0)
	);
	CREATE TABLE redeem_codes (
		id          TEXT PRIMARY KEY,
		batch_id    TEXT NOT NULL REFERENCES redeem_batches (id),
		digest      TEXT NOT NULL,
		code_enc    TEXT NOT NULL,
		amount      BIGINT NOT NULL,
		expires_at  BIGINT NOT NULL DEFAULT 0,
		redeemed_by TEXT NOT NULL DEFAULT '',
		redeemed_at BIGINT NOT NULL DEFAULT 0,
		CHECK (amount > 0)
	);
	CREATE UNIQUE INDEX redeem_codes_digest ON redeem_codes (digest);
	CREATE INDEX redeem_codes_batch ON redeem_codes (batch_id);
	CREATE TABLE checkout_sessions (
		id           TEXT PRIMARY KEY,
		tenant_id    TEXT NOT NULL REFERENCES tenants (id),
		amount_minor BIGINT NOT NULL,
		currency     TEXT NOT NULL,
		credit       BIGINT NOT NULL,
		status       TEXT NOT NULL,
		event_id     TEXT NOT NULL DEFAULT '',
		created_at   BIGINT NOT NULL,
		completed_at BIGINT NOT NULL DEFAULT 0,
		CHECK (amount_minor > 0),
		CHECK (credit > 0)
	);
	CREATE INDEX checkout_sessions_tenant ON checkout_sessions (tenant_id, created_at);
	CREATE TABLE stripe_events (
		id         TEXT PRIMARY KEY,
		type       TEXT NOT NULL,
		session_id TEXT NOT NULL DEFAULT '',
		outcome    TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE balance_alerts (
		tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
		threshold  BIGINT NOT NULL,
		url        TEXT NOT NULL,
		secret_enc TEXT NOT NULL,
		armed      {{bool}} NOT NULL,
		updated_at BIGINT NOT NULL
	);
	CREATE TABLE alert_deliveries (
		id              TEXT PRIMARY KEY,
		tenant_id       TEXT NOT NULL REFERENCES tenants (id),
		payload         TEXT NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at BIGINT NOT NULL,
		delivered_at    BIGINT NOT NULL DEFAULT 0,
		failed_at       BIGINT NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		created_at      BIGINT NOT NULL
	);
	CREATE INDEX alert_deliveries_due ON alert_deliveries (delivered_at, failed_at, next_attempt_at);
	CREATE INDEX alert_deliveries_tenant ON alert_deliveries (tenant_id, created_at)`

// Ledger entry kinds of tenant self-service credits; each carries a ref that makes
// it unique per tenant (the ledger's UNIQUE(tenant_id, kind, ref)).
const (
	LedgerRedeem = "redeem" // a redeem code; ref is the code's id
	LedgerStripe = "stripe" // a paid Stripe Checkout session; ref is the session id
)

// credit adds amount to a tenant's balance and writes its ledger entry, inside the
// caller's transaction. The ledger's unique (tenant, kind, ref) refuses a second
// entry for the same ref, so a credit keyed by a code or a payment lands once.
func credit(tx *gorm.DB, tenantID string, amount billing.Nanos, kind, ref, note string) (LedgerEntry, error) {
	if amount <= 0 || amount > MaxTopup {
		return LedgerEntry{}, fmt.Errorf("%w: a credit must be more than 0 and at most %s USD", ErrInvalid, MaxTopup)
	}
	now := nowMillis()
	var balances []int64
	if err := tx.Raw(`UPDATE tenants SET balance = balance + ?, updated_at = ? WHERE id = ? RETURNING balance`,
		amount, now, tenantID).Scan(&balances).Error; err != nil {
		return LedgerEntry{}, err
	}
	if len(balances) == 0 {
		return LedgerEntry{}, fmt.Errorf("%w: tenant %s", ErrNotFound, tenantID)
	}
	e := LedgerEntry{TenantID: tenantID, Amount: amount, BalanceAfter: billing.Nanos(balances[0]), Kind: kind, Ref: ref, Note: note, CreatedAt: now}
	err := tx.Raw(`INSERT INTO ledger_entries (tenant_id, amount, balance_after, kind, ref, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.TenantID, e.Amount, e.BalanceAfter, e.Kind, e.Ref, e.Note, e.CreatedAt).Scan(&e.ID).Error
	return e, err
}

// resealPortalSecrets re-encrypts the sealed columns of tenant self-service (redeem
// codes, alert signing secrets) under next, inside RotateSecretKey's transaction.
func (s *Store) resealPortalSecrets(tx *gorm.DB, next *sealer) error {
	for _, c := range []struct{ table, id, col string }{
		{"redeem_codes", "id", "code_enc"},
		{"balance_alerts", "tenant_id", "secret_enc"},
	} {
		var rows []struct{ ID, Sealed string }
		if err := tx.Raw(`SELECT ` + c.id + ` AS id, ` + c.col + ` AS sealed FROM ` + c.table).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			plain, err := s.sealer.open(r.Sealed, sealedRef(c.table, r.ID))
			if err != nil {
				return err
			}
			sealed, err := next.seal(plain, sealedRef(c.table, r.ID))
			if err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE `+c.table+` SET `+c.col+` = ? WHERE `+c.id+` = ?`, sealed, r.ID).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

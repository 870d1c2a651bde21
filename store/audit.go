package store

import (
	"context"
	"encoding/json"

	"gorm.io/gorm"
)

// migrationAudit keeps a record of every administrative change.
const migrationAudit = `CREATE TABLE audit_log (
		id         {{id}},
		actor      TEXT NOT NULL,
		action     TEXT NOT NULL,
		target     TEXT NOT NULL DEFAULT '',
		detail     TEXT NOT NULL DEFAULT '{}',
		remote     TEXT NOT NULL DEFAULT '',
		status     INTEGER NOT NULL DEFAULT 0,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX audit_created ON audit_log (created_at)`

// AuditEntry is one administrative action: who did what to which object, and how
// it ended. Detail never holds a secret (callers redact it before it gets here).
type AuditEntry struct {
	ID        int64
	Actor     string            // "admin-token", "user:<email>", "cli"
	Action    string            // e.g. "POST /tenants/:id/topups"
	Target    string            // the object's id, if the route names one
	Detail    map[string]string // redacted request fields
	Remote    string            // client address
	Status    int               // HTTP status of the answer (0 for the CLI)
	CreatedAt int64
}

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	detail, _ := json.Marshal(e.Detail)
	if e.Detail == nil {
		detail = []byte("{}")
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO audit_log (actor, action, target, detail, remote, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			e.Actor, e.Action, e.Target, string(detail), e.Remote, e.Status, nowMillis()).Error
	})
}

// AuditLog lists entries newest first; before pages on (0 for the first page).
func (s *Store) AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	q := `SELECT id, actor, action, target, detail, remote, status, created_at FROM audit_log`
	var args []any
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limitOr(limit, 50))
	var rows []struct {
		ID                                    int64
		Actor, Action, Target, Detail, Remote string
		Status                                int
		CreatedAt                             int64
	}
	if err := s.read(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{ID: r.ID, Actor: r.Actor, Action: r.Action, Target: r.Target, Remote: r.Remote, Status: r.Status, CreatedAt: r.CreatedAt}
		_ = json.Unmarshal([]byte(r.Detail), &out[i].Detail)
	}
	return out, nil
}

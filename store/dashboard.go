package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// migrationDashboard adds what the admin dashboard needs: admin users, their
// sessions (only digests of the session ids) and failed sign-ins; usage_daily, a
// rollup of the request log by UTC day, tenant, key, model and serving channel,
// which rollUp keeps as calls are logged and which is backfilled here from the rows
// already logged; and an index for the request log's status filter (402s).
const migrationDashboard = `CREATE TABLE admin_users (
		id            TEXT PRIMARY KEY,
		email         TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		created_at    BIGINT NOT NULL,
		updated_at    BIGINT NOT NULL,
		last_login_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE UNIQUE INDEX admin_users_email ON admin_users (email);
	CREATE TABLE admin_sessions (
		digest     TEXT PRIMARY KEY,
		user_id    TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
	CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
	CREATE TABLE admin_login_failures (
		subject    TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX admin_login_failures_subject ON admin_login_failures (subject, created_at);
	CREATE TABLE usage_daily (
		day               BIGINT NOT NULL,
		tenant_id         TEXT NOT NULL,
		key_id            TEXT NOT NULL,
		model             TEXT NOT NULL,
		channel_id        TEXT NOT NULL,
		provider          TEXT NOT NULL,
		calls             BIGINT NOT NULL DEFAULT 0,
		served            BIGINT NOT NULL DEFAULT 0,
		refused           BIGINT NOT NULL DEFAULT 0,
		failed            BIGINT NOT NULL DEFAULT 0,
		cost              BIGINT NOT NULL DEFAULT 0,
		prompt_tokens     BIGINT NOT NULL DEFAULT 0,
		completion_tokens BIGINT NOT NULL DEFAULT 0,
		cached_tokens     BIGINT NOT NULL DEFAULT 0,
		latency_ms        BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (day, tenant_id, key_id, model, channel_id, provider)
	);
	CREATE INDEX usage_daily_tenant ON usage_daily (tenant_id, day);
	INSERT INTO usage_daily (day, tenant_id, key_id, model, channel_id, provider, calls, served, refused, failed,
		cost, prompt_tokens, completion_tokens, cached_tokens, latency_ms)
	SELECT created_at / 86400000, tenant_id, key_id, model, channel_id, provider, COUNT(*),
		SUM(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END),
		SUM(CASE WHEN status = 402 THEN 1 ELSE 0 END),
		SUM(CASE WHEN (status < 200 OR status >= 300) AND status <> 402 THEN 1 ELSE 0 END),
		SUM(cost), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
		SUM(CASE WHEN status >= 200 AND status < 300 THEN latency_ms ELSE 0 END)
	FROM usage_records
	GROUP BY created_at / 86400000, tenant_id, key_id, model, channel_id, provider;
	CREATE INDEX usage_status ON usage_records (status, id)`

// Tally counts calls and what they consumed. Served calls answered 2xx, refused
// ones 402 (no credit), failed ones anything else.
type Tally struct {
	Calls            int64
	Served           int64
	Refused          int64
	Failed           int64
	Cost             billing.Nanos
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	LatencyMs        int64 // summed over served calls
}

// Add sums another tally into t.
func (t *Tally) Add(o Tally) {
	t.Calls += o.Calls
	t.Served += o.Served
	t.Refused += o.Refused
	t.Failed += o.Failed
	t.Cost += o.Cost
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.CachedTokens += o.CachedTokens
	t.LatencyMs += o.LatencyMs
}

// FailureRate is the share of calls that failed (402s not counted), 0 without calls.
func (t Tally) FailureRate() float64 { return ratio(t.Failed, t.Calls) }

// RefusedRate is the share of calls refused with 402, 0 without calls.
func (t Tally) RefusedRate() float64 { return ratio(t.Refused, t.Calls) }

// AvgLatencyMs is the mean latency of served calls, 0 without any.
func (t Tally) AvgLatencyMs() float64 { return ratio(t.LatencyMs, t.Served) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// rollUp adds one call to its row of usage_daily. It is the one call insertRecord
// makes for the dashboard, inside the transaction that logs the call, so the rollup
// always agrees with the request log. (The write-behind writer adds a batch's calls
// up per row first, with the same rollupOf.)
func rollUp(tx *gorm.DB, r *CallRecord) error {
	k, t := rollupOf(r)
	return tx.Exec(sqlRollup, rollupArgs(k, &t)...).Error
}

// rollupKey names one row of usage_daily.
type rollupKey struct {
	day                                         int64
	tenantID, keyID, model, channelID, provider string
}

// rollupArgs are sqlRollup's values for adding t to row k.
func rollupArgs(k rollupKey, t *Tally) []any {
	return []any{k.day, k.tenantID, k.keyID, k.model, k.channelID, k.provider, t.Calls, t.Served, t.Refused, t.Failed,
		int64(t.Cost), t.PromptTokens, t.CompletionTokens, t.CachedTokens, t.LatencyMs} // the driver's types (see appendRecordArgs)
}

// rollupOf is one call's share of its usage_daily row.
func rollupOf(r *CallRecord) (rollupKey, Tally) {
	channel, provider := ServingChannel(*r)
	t := Tally{Calls: 1, Cost: r.Cost, PromptTokens: r.Usage.PromptTokens, CompletionTokens: r.Usage.CompletionTokens,
		CachedTokens: r.Usage.CachedTokens}
	switch {
	case r.Status >= 200 && r.Status < 300:
		t.Served, t.LatencyMs = 1, r.LatencyMs
	case r.Status == 402:
		t.Refused = 1
	default:
		t.Failed = 1
	}
	return rollupKey{r.CreatedAt / dayMillis, r.TenantID, r.KeyID, r.Model, channel, provider}, t
}

const sqlRollup = `INSERT INTO usage_daily (day, tenant_id, key_id, model, channel_id, provider, calls, served, refused, failed,
		cost, prompt_tokens, completion_tokens, cached_tokens, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (day, tenant_id, key_id, model, channel_id, provider) DO UPDATE SET calls = usage_daily.calls + excluded.calls,
		served = usage_daily.served + excluded.served, refused = usage_daily.refused + excluded.refused,
		failed = usage_daily.failed + excluded.failed, cost = usage_daily.cost + excluded.cost,
		prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
		completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
		cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens, latency_ms = usage_daily.latency_ms + excluded.latency_ms`

// ServingChannel is the channel a call is charted under: the one that served it,
// else the last one tried (so a call that failed on every channel is charged to a
// failing link), else none — a call refused before any upstream was tried.
func ServingChannel(r CallRecord) (channelID, provider string) {
	if r.ChannelID != "" {
		return r.ChannelID, r.Provider
	}
	if n := len(r.Attempts); n > 0 {
		return r.Attempts[n-1].ChannelID, r.Attempts[n-1].Provider
	}
	return "", ""
}

// RollupFilter selects days of the usage rollup. The rollup keeps whole UTC days,
// so From and To are widened to the days that contain them: [day(From), day(To)),
// where a To inside a day counts that day in. Zero bounds are open.
type RollupFilter struct {
	TenantID  string
	TenantIDs []string // when not empty, only these tenants
	From, To  time.Time
}

func (f RollupFilter) where() (string, []any) {
	where, args := "1 = 1", []any{}
	if f.TenantID != "" {
		where += " AND tenant_id = ?"
		args = append(args, f.TenantID)
	}
	if len(f.TenantIDs) > 0 {
		where += " AND tenant_id IN ?"
		args = append(args, f.TenantIDs)
	}
	if !f.From.IsZero() {
		where += " AND day >= ?"
		args = append(args, floorDiv(f.From.UnixMilli(), dayMillis))
	}
	if !f.To.IsZero() {
		where += " AND day < ?"
		args = append(args, floorDiv(f.To.UnixMilli()+dayMillis-1, dayMillis))
	}
	return where, args
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

const tallyColumns = `COALESCE(SUM(calls), 0) AS calls, COALESCE(SUM(served), 0) AS served, COALESCE(SUM(refused), 0) AS refused,
	COALESCE(SUM(failed), 0) AS failed, COALESCE(SUM(cost), 0) AS cost, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
	COALESCE(SUM(completion_tokens), 0) AS completion_tokens, COALESCE(SUM(cached_tokens), 0) AS cached_tokens,
	COALESCE(SUM(latency_ms), 0) AS latency_ms`

// tallyRow is a row of any rollup query: the grouping columns a query selects are
// filled, the others stay empty.
type tallyRow struct {
	Grp              string
	Day              int64
	TenantID         string
	KeyID            string
	Model            string
	ChannelID        string
	Provider         string
	Calls            int64
	Served           int64
	Refused          int64
	Failed           int64
	Cost             int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	LatencyMs        int64
}

func (r tallyRow) tally() Tally {
	return Tally{Calls: r.Calls, Served: r.Served, Refused: r.Refused, Failed: r.Failed, Cost: billing.Nanos(r.Cost),
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, CachedTokens: r.CachedTokens, LatencyMs: r.LatencyMs}
}

// DayTally is one UTC day of the rollup.
type DayTally struct {
	Day time.Time // midnight UTC
	Tally
}

// DailyTallies sums the rollup per UTC day, oldest first; days without calls are
// absent. The work grows with the rollup rows in the range, not with the calls.
func (s *Store) DailyTallies(ctx context.Context, f RollupFilter) ([]DayTally, error) {
	where, args := f.where()
	var rows []tallyRow
	err := s.read(ctx).Raw(`SELECT day, `+tallyColumns+` FROM usage_daily WHERE `+where+` GROUP BY day ORDER BY day`, args...).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]DayTally, len(rows))
	for i, r := range rows {
		out[i] = DayTally{Day: time.UnixMilli(r.Day * dayMillis).UTC(), Tally: r.tally()}
	}
	return out, nil
}

// Tally sums the whole range of the rollup.
func (s *Store) Tally(ctx context.Context, f RollupFilter) (Tally, error) {
	where, args := f.where()
	var row tallyRow
	err := s.read(ctx).Raw(`SELECT `+tallyColumns+` FROM usage_daily WHERE `+where, args...).Scan(&row).Error
	return row.tally(), wrapDBError(err)
}

// GroupTally is one group of TallyBy.
type GroupTally struct {
	Group string // a tenant, key or channel id, or a model name
	Tally
}

// Dimensions TallyBy groups by.
const (
	ByTenant  = "tenant"
	ByKey     = "key"
	ByModel   = "model"
	ByChannel = "channel"
)

var groupColumns = map[string]string{ByTenant: "tenant_id", ByKey: "key_id", ByModel: "model", ByChannel: "channel_id"}

// TallyBy sums the rollup per tenant, key, model or channel, most spent first (then
// most calls), at most limit groups (0: all). Calls refused before any channel was
// tried are grouped under the channel "".
func (s *Store) TallyBy(ctx context.Context, f RollupFilter, by string, limit int) ([]GroupTally, error) {
	col, ok := groupColumns[by]
	if !ok {
		return nil, fmt.Errorf("%w: cannot group usage by %q", ErrInvalid, by)
	}
	where, args := f.where()
	q := `SELECT ` + col + ` AS grp, ` + tallyColumns + ` FROM usage_daily WHERE ` + where + ` GROUP BY ` + col +
		` ORDER BY cost DESC, calls DESC, grp`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var rows []tallyRow
	if err := s.read(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]GroupTally, len(rows))
	for i, r := range rows {
		out[i] = GroupTally{Group: r.Grp, Tally: r.tally()}
	}
	return out, nil
}

// Flow is the traffic along one path tenant → key → model → channel → provider.
// ChannelID is "" for calls refused before any channel was tried (402s among them).
type Flow struct {
	TenantID  string
	KeyID     string
	Model     string
	ChannelID string
	Provider  string
	Tally
}

// Flows sums the calls of [from, to) per path, for the invocation topology. A window
// of whole UTC days is read from the rollup; any other window from the request log
// through its time index, so keep those short (an hour, a day).
func (s *Store) Flows(ctx context.Context, from, to time.Time) ([]Flow, error) {
	if from.IsZero() || to.IsZero() || !to.After(from) {
		return nil, fmt.Errorf("%w: a topology window needs from < to", ErrInvalid)
	}
	if from.UnixMilli()%dayMillis == 0 && to.UnixMilli()%dayMillis == 0 {
		where, args := RollupFilter{From: from, To: to}.where()
		return s.flows(ctx, `SELECT tenant_id, key_id, model, channel_id, provider, `+tallyColumns+` FROM usage_daily WHERE `+where+`
			GROUP BY tenant_id, key_id, model, channel_id, provider`, args)
	}
	return s.flowsFromLog(ctx, from, to)
}

// flows runs a query selecting the five path columns and the tally columns, and
// scans its rows by hand (reflection would cost more than the query).
func (s *Store) flows(ctx context.Context, q string, args []any) ([]Flow, error) {
	rows, err := s.read(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, wrapDBError(err)
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		var f Flow
		var cost int64
		if err := rows.Scan(&f.TenantID, &f.KeyID, &f.Model, &f.ChannelID, &f.Provider, &f.Calls, &f.Served, &f.Refused, &f.Failed,
			&cost, &f.PromptTokens, &f.CompletionTokens, &f.CachedTokens, &f.LatencyMs); err != nil {
			return nil, wrapDBError(err)
		}
		f.Cost = billing.Nanos(cost)
		out = append(out, f)
	}
	return out, wrapDBError(rows.Err())
}

// flowsFromLog sums the request log itself. Calls that failed on every channel carry
// no channel id; they are few, so they are read one by one and charted under the
// last channel tried, as rollUp does.
func (s *Store) flowsFromLog(ctx context.Context, from, to time.Time) ([]Flow, error) {
	const classes = `COUNT(*) AS calls, SUM(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END) AS served,
		SUM(CASE WHEN status = 402 THEN 1 ELSE 0 END) AS refused,
		SUM(CASE WHEN (status < 200 OR status >= 300) AND status <> 402 THEN 1 ELSE 0 END) AS failed,
		COALESCE(SUM(cost), 0) AS cost, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
		COALESCE(SUM(completion_tokens), 0) AS completion_tokens, COALESCE(SUM(cached_tokens), 0) AS cached_tokens,
		COALESCE(SUM(CASE WHEN status >= 200 AND status < 300 THEN latency_ms ELSE 0 END), 0) AS latency_ms`
	out, err := s.flows(ctx, `SELECT tenant_id, key_id, model, channel_id, provider, `+classes+` FROM usage_records
		WHERE created_at >= ? AND created_at < ? AND NOT (channel_id = '' AND attempts <> '[]')
		GROUP BY tenant_id, key_id, model, channel_id, provider`, []any{from.UnixMilli(), to.UnixMilli()})
	if err != nil {
		return nil, err
	}
	var rows []callRow
	err = s.read(ctx).Raw(`SELECT `+callColumns+` FROM usage_records
		WHERE created_at >= ? AND created_at < ? AND channel_id = '' AND attempts <> '[]'`, from.UnixMilli(), to.UnixMilli()).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	index := map[Flow]int{}
	for i, f := range out {
		index[Flow{TenantID: f.TenantID, KeyID: f.KeyID, Model: f.Model, ChannelID: f.ChannelID, Provider: f.Provider}] = i
	}
	for _, row := range rows {
		r := row.record()
		ch, prov := ServingChannel(r)
		k := Flow{TenantID: r.TenantID, KeyID: r.KeyID, Model: r.Model, ChannelID: ch, Provider: prov}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, k)
		}
		out[i].Tally.Add(recordTally(r))
	}
	return out, nil
}

// recordTally is one call as a tally.
func recordTally(r CallRecord) Tally {
	t := Tally{Calls: 1, Cost: r.Cost, PromptTokens: r.Usage.PromptTokens, CompletionTokens: r.Usage.CompletionTokens, CachedTokens: r.Usage.CachedTokens}
	switch {
	case r.Status >= 200 && r.Status < 300:
		t.Served, t.LatencyMs = 1, r.LatencyMs
	case r.Status == 402:
		t.Refused = 1
	default:
		t.Failed = 1
	}
	return t
}

// DayFlows is one UTC day of the rollup, row by row.
type DayFlows struct {
	Day   time.Time // midnight UTC
	Flows []Flow
}

// FlowsByDay reads the rollup's rows for the whole UTC days covering [from, to),
// oldest day first (days without calls are absent). It reads rows as they are
// stored, without grouping, so a caller can keep finished days and sum any window
// of them itself; rows are scanned by hand because a month of them is tens of
// thousands.
func (s *Store) FlowsByDay(ctx context.Context, from, to time.Time) ([]DayFlows, error) {
	where, args := RollupFilter{From: from, To: to}.where()
	rows, err := s.read(ctx).Raw(`SELECT day, tenant_id, key_id, model, channel_id, provider, calls, served, refused, failed,
		cost, prompt_tokens, completion_tokens, cached_tokens, latency_ms FROM usage_daily WHERE `+where+` ORDER BY day`, args...).Rows()
	if err != nil {
		return nil, wrapDBError(err)
	}
	defer rows.Close()
	var out []DayFlows
	for rows.Next() {
		var day int64
		var f Flow
		var cost int64
		if err := rows.Scan(&day, &f.TenantID, &f.KeyID, &f.Model, &f.ChannelID, &f.Provider, &f.Calls, &f.Served, &f.Refused, &f.Failed,
			&cost, &f.PromptTokens, &f.CompletionTokens, &f.CachedTokens, &f.LatencyMs); err != nil {
			return nil, wrapDBError(err)
		}
		f.Cost = billing.Nanos(cost)
		d := time.UnixMilli(day * dayMillis).UTC()
		if n := len(out); n == 0 || !out[n-1].Day.Equal(d) {
			out = append(out, DayFlows{Day: d})
		}
		out[len(out)-1].Flows = append(out[len(out)-1].Flows, f)
	}
	return out, wrapDBError(rows.Err())
}

// Call reads one row of the request log by its id.
func (s *Store) Call(ctx context.Context, id int64) (CallRecord, error) {
	var rows []callRow
	if err := s.read(ctx).Raw(`SELECT `+callColumns+` FROM usage_records WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return CallRecord{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return CallRecord{}, fmt.Errorf("%w: call %d", ErrNotFound, id)
	}
	return rows[0].record(), nil
}

// RecordCalls logs many calls that held nothing in one transaction each thousand,
// keeping their CreatedAt when set: for imports, and for seeding benchmarks with a
// realistic history. Wallets are not touched.
func (s *Store) RecordCalls(ctx context.Context, recs []CallRecord) error {
	for start := 0; start < len(recs); start += 1000 {
		batch := recs[start:min(start+1000, len(recs))]
		err := s.tx(ctx, func(tx *gorm.DB) error {
			now := nowMillis()
			for i := range batch {
				r := batch[i]
				if err := insertRecord(tx, &r, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TenantNames maps tenant ids to names, for labelling aggregates; unknown ids are absent.
func (s *Store) TenantNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct{ ID, Name string }
	if err := s.read(ctx).Raw(`SELECT id, name FROM tenants WHERE id IN ?`, ids).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}

// KeysByID reads the keys with the given ids; unknown ids are absent.
func (s *Store) KeysByID(ctx context.Context, ids []string) (map[string]APIKey, error) {
	out := make(map[string]APIKey, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []keyRow
	if err := s.read(ctx).Raw(`SELECT `+keyColumns+` FROM api_keys WHERE id IN ?`, ids).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	for _, r := range rows {
		out[r.ID] = r.key()
	}
	return out, nil
}

// CountTenants counts the tenants ListTenants would page through for a search.
func (s *Store) CountTenants(ctx context.Context, search string) (int64, error) {
	q, args := `SELECT COUNT(*) FROM tenants`, []any{}
	if search != "" {
		q += ` WHERE LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+strings.ToLower(escapeLike(search))+"%")
	}
	var n int64
	err := s.read(ctx).Raw(q, args...).Scan(&n).Error
	return n, wrapDBError(err)
}

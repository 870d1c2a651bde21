package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// UsageQuery selects served calls to aggregate.
type UsageQuery struct {
	TenantID string    // empty: every tenant
	From, To time.Time // half-open [From, To); zero: unbounded
	GroupBy  string    // "model", "day" or "key"
}

// UsageRow is one group of an aggregate.
type UsageRow struct {
	Group            string
	Calls            int64
	PromptTokens     int64
	CachedTokens     int64
	CompletionTokens int64
	Cost             billing.Nanos
}

const dayMillis = 24 * 60 * 60 * 1000

// Usage aggregates the request log's served calls (status 2xx). Every filter column
// leads an index, so the work grows with the rows in the window, not the table.
func (s *Store) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	var groupExpr string
	switch q.GroupBy {
	case "model":
		groupExpr = "model"
	case "key":
		groupExpr = "key_id"
	case "day", "":
		groupExpr = fmt.Sprintf("(created_at / %d)", dayMillis)
	default:
		return nil, fmt.Errorf("%w: group_by must be model, day or key", ErrInvalid)
	}
	where, args := "status >= 200 AND status < 300", []any{}
	if q.TenantID != "" {
		where += " AND tenant_id = ?"
		args = append(args, q.TenantID)
	}
	if !q.From.IsZero() {
		where += " AND created_at >= ?"
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where += " AND created_at < ?"
		args = append(args, q.To.UnixMilli())
	}
	sql := `SELECT CAST(` + groupExpr + ` AS TEXT) AS grp, COUNT(*) AS calls, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
		COALESCE(SUM(cached_tokens), 0) AS cached_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
		COALESCE(SUM(cost), 0) AS cost FROM usage_records WHERE ` + where + ` GROUP BY ` + groupExpr + ` ORDER BY ` + groupExpr
	var rows []struct {
		Grp              string
		Calls            int64
		PromptTokens     int64
		CachedTokens     int64
		CompletionTokens int64
		Cost             int64
	}
	if err := s.read(ctx).Raw(sql, args...).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]UsageRow, len(rows))
	for i, r := range rows {
		out[i] = UsageRow{Group: groupString(r.Grp, q.GroupBy), Calls: r.Calls, PromptTokens: r.PromptTokens,
			CachedTokens: r.CachedTokens, CompletionTokens: r.CompletionTokens, Cost: billing.Nanos(r.Cost)}
	}
	return out, nil
}

func groupString(s string, groupBy string) string {
	if groupBy == "day" || groupBy == "" {
		if day, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(day * dayMillis).UTC().Format("2006-01-02")
		}
	}
	return s
}

// CallFilter narrows the request log.
type CallFilter struct {
	TenantID string
	KeyID    string
	Model    string
	Status   int // 0: any
	From, To time.Time
	Before   int64 // page on: the last id seen
	Limit    int
}

const callColumns = `id, request_id, tenant_id, key_id, endpoint, model, upstream_model, channel_id, provider, status,
	error_code, error_message, stream, prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, reasoning_tokens,
	estimated, hold_amount, cost, attempts, latency_ms, created_at`

type callRow struct {
	ID               int64
	RequestID        string
	TenantID         string
	KeyID            string
	Endpoint         string
	Model            string
	UpstreamModel    string
	ChannelID        string
	Provider         string
	Status           int
	ErrorCode        string
	ErrorMessage     string
	Stream           bool
	PromptTokens     int64
	CachedTokens     int64
	CacheWriteTokens int64
	CompletionTokens int64
	ReasoningTokens  int64
	Estimated        bool
	HoldAmount       int64
	Cost             int64
	Attempts         string
	LatencyMs        int64
	CreatedAt        int64
}

func (r callRow) record() CallRecord {
	c := CallRecord{ID: r.ID, RequestID: r.RequestID, TenantID: r.TenantID, KeyID: r.KeyID, Endpoint: r.Endpoint,
		Model: r.Model, UpstreamModel: r.UpstreamModel, ChannelID: r.ChannelID, Provider: r.Provider, Status: r.Status,
		ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, Stream: r.Stream, Estimated: r.Estimated,
		Usage: billing.Usage{PromptTokens: r.PromptTokens, CachedTokens: r.CachedTokens, CacheWriteTokens: r.CacheWriteTokens,
			CompletionTokens: r.CompletionTokens, ReasoningTokens: r.ReasoningTokens},
		HoldAmount: billing.Nanos(r.HoldAmount), Cost: billing.Nanos(r.Cost), LatencyMs: r.LatencyMs, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal([]byte(r.Attempts), &c.Attempts)
	return c
}

// Calls lists the request log newest first.
func (s *Store) Calls(ctx context.Context, f CallFilter) ([]CallRecord, error) {
	where, args := "1 = 1", []any{}
	add := func(cond string, v any) { where += " AND " + cond; args = append(args, v) }
	if f.TenantID != "" {
		add("tenant_id = ?", f.TenantID)
	}
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.Model != "" {
		add("model = ?", f.Model)
	}
	if f.Status != 0 {
		add("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("created_at < ?", f.To.UnixMilli())
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	var rows []callRow
	err := s.read(ctx).Raw(`SELECT `+callColumns+` FROM usage_records WHERE `+where+` ORDER BY id DESC LIMIT ?`,
		append(args, limitOr(f.Limit, 50))...).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]CallRecord, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

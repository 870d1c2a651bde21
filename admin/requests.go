package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// callJSON is one row of the request log: every call, served, failed or refused,
// with what it held and what it cost.
type callJSON struct {
	ID               int64           `json:"id"`
	RequestID        string          `json:"request_id"`
	TenantID         string          `json:"tenant_id"`
	KeyID            string          `json:"key_id"`
	Endpoint         string          `json:"endpoint"`
	Model            string          `json:"model"`
	UpstreamModel    string          `json:"upstream_model"`
	ChannelID        string          `json:"channel_id"`
	Provider         string          `json:"provider"`
	Status           int             `json:"status"`
	ErrorCode        string          `json:"error_code"`
	ErrorMessage     string          `json:"error_message"`
	Stream           bool            `json:"stream"`
	PromptTokens     int64           `json:"prompt_tokens"`
	CachedTokens     int64           `json:"cached_tokens"`
	CacheWriteTokens int64           `json:"cache_write_tokens"`
	CompletionTokens int64           `json:"completion_tokens"`
	ReasoningTokens  int64           `json:"reasoning_tokens"`
	Estimated        bool            `json:"estimated"`
	HoldUSD          string          `json:"hold_usd"`
	CostUSD          string          `json:"cost_usd"`
	Attempts         []store.Attempt `json:"attempts"`
	LatencyMs        int64           `json:"latency_ms"`
	CreatedAt        string          `json:"created_at"`
}

func callOut(r store.CallRecord) callJSON {
	out := callJSON{ID: r.ID, RequestID: r.RequestID, TenantID: r.TenantID, KeyID: r.KeyID, Endpoint: r.Endpoint,
		Model: r.Model, UpstreamModel: r.UpstreamModel, ChannelID: r.ChannelID, Provider: r.Provider, Status: r.Status,
		ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, Stream: r.Stream,
		PromptTokens: r.Usage.PromptTokens, CachedTokens: r.Usage.CachedTokens, CacheWriteTokens: r.Usage.CacheWriteTokens,
		CompletionTokens: r.Usage.CompletionTokens, ReasoningTokens: r.Usage.ReasoningTokens, Estimated: r.Estimated,
		HoldUSD: r.HoldAmount.String(), CostUSD: r.Cost.String(), Attempts: r.Attempts, LatencyMs: r.LatencyMs,
		CreatedAt: stamp(r.CreatedAt)}
	if out.Attempts == nil {
		out.Attempts = []store.Attempt{}
	}
	return out
}

// requests pages through the request log newest first, filtered by tenant, key,
// model, status and time.
func (a *API) requests(c *gin.Context) error {
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 1, 1<<63-1)
	if err != nil {
		return err
	}
	status, err := queryInt(c, "status", 0, 100, 599)
	if err != nil {
		return invalid("status", "status must be an HTTP status code from 100 to 599.")
	}
	from, to, err := timeRange(c)
	if err != nil {
		return err
	}
	rs, err := a.store.Calls(c.Request.Context(), store.CallFilter{TenantID: c.Query("tenant_id"), KeyID: c.Query("key_id"),
		Model: c.Query("model"), Status: int(status), From: from, To: to, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]callJSON, len(rs))
	var last int64
	for i, r := range rs {
		out[i] = callOut(r)
		last = r.ID
	}
	c.JSON(http.StatusOK, gin.H{"data": out, "next_before": nextBefore(len(rs), limit, last)})
	return nil
}

// holds reports the credit set aside for calls in flight. A count that never drops
// to zero on an idle gateway points at holds that are not being settled.
func (a *API) holds(c *gin.Context) error {
	n, total, err := a.store.OpenHolds(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"count": n, "total_usd": total.String()})
	return nil
}

package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// usageTotals are the summed counters of served calls; cost is an exact decimal.
type usageTotals struct {
	Calls            int64  `json:"calls"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CachedTokens     int64  `json:"cached_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	CostUSD          string `json:"cost_usd"`
}

// usageRowJSON is one group of the usage report.
type usageRowJSON struct {
	Group string `json:"group"`
	usageTotals
}

// groupings are the values group_by accepts, in the order the message lists them.
var groupings = []string{"model", "day", "key"}

// usage aggregates served calls by model, UTC day or key, with a grand total, so an
// operator can see who used what without exporting the request log.
func (a *API) usage(c *gin.Context) error {
	groupBy := c.Query("group_by")
	if groupBy == "" {
		groupBy = "day"
	}
	valid := false
	for _, g := range groupings {
		valid = valid || g == groupBy
	}
	if !valid {
		return invalid("group_by", "group_by must be one of model, day or key (default day).")
	}
	from, to, err := timeRange(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	tenantID := c.Query("tenant_id")
	if tenantID != "" {
		if _, err := a.store.Tenant(ctx, tenantID); err != nil {
			return notFound(err, "tenant", tenantID, tenantHint)
		}
	}
	rows, err := a.store.Usage(ctx, store.UsageQuery{TenantID: tenantID, From: from, To: to, GroupBy: groupBy})
	if err != nil {
		return err
	}
	out := make([]usageRowJSON, len(rows))
	var total usageTotals
	var cost billing.Nanos
	for i, r := range rows {
		out[i] = usageRowJSON{Group: r.Group, usageTotals: usageTotals{Calls: r.Calls, PromptTokens: r.PromptTokens,
			CachedTokens: r.CachedTokens, CompletionTokens: r.CompletionTokens, CostUSD: r.Cost.String()}}
		total.Calls += r.Calls
		total.PromptTokens += r.PromptTokens
		total.CachedTokens += r.CachedTokens
		total.CompletionTokens += r.CompletionTokens
		cost += r.Cost
	}
	total.CostUSD = cost.String()
	c.JSON(http.StatusOK, gin.H{"group_by": groupBy, "data": out, "total": total})
	return nil
}

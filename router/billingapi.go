package router

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// The OpenAI-style billing endpoints, for clients (chat front-ends, key checkers)
// that show an account's balance: they answer for the calling key's tenant, in the
// shape OpenAI's dashboard API used. Tollgate's own exact figures ride along under
// "tollgate", as decimal strings.

// maxUsageDays bounds one usage query, as OpenAI's did.
const maxUsageDays = 100

// RegisterBilling mounts GET /v1/dashboard/billing/{subscription,usage} (and the
// same without /v1, where some clients look) behind key authentication.
func (g *Gateway) RegisterBilling(e *gin.Engine) {
	for _, prefix := range []string{"/v1/dashboard/billing", "/dashboard/billing"} {
		b := e.Group(prefix, g.authenticate)
		b.GET("/subscription", g.handle(g.billingSubscription))
		b.GET("/usage", g.handle(g.billingUsage))
	}
}

// usdFloat is an amount as the float dollars these endpoints speak; only here, at
// the edge, does money become a float.
func usdFloat(n billing.Nanos) float64 { return float64(n) / float64(billing.NanosPerUSD) }

// billingSubscription answers with the tenant's credit as a "hard limit": what it
// can still spend plus everything it has spent, so a client that subtracts the
// usage since the tenant's first call (hard_limit_usd − total_usage/100) shows
// exactly the credit available now.
func (g *Gateway) billingSubscription(c *gin.Context) error {
	k := keyOf(c)
	ctx := c.Request.Context()
	t, err := g.store.Tenant(ctx, k.TenantID)
	if err != nil {
		return err
	}
	spent, err := g.store.Tally(ctx, store.RollupFilter{TenantID: t.ID})
	if err != nil {
		return err
	}
	limit := usdFloat(max(t.Available(), 0) + spent.Cost)
	accessUntil := int64(0)
	if k.ExpiresAt != 0 {
		accessUntil = k.ExpiresAt / 1000
	}
	own := gin.H{"tenant_id": t.ID, "balance_usd": t.Balance.String(), "held_usd": t.Held.String(),
		"credit_limit_usd": t.CreditLimit.String(), "available_usd": t.Available().String(), "spent_usd": spent.Cost.String()}
	if k.Budget != nil {
		own["key_budget_usd"] = k.Budget.String()
		own["key_spent_usd"] = k.Spent.String()
	}
	c.JSON(http.StatusOK, gin.H{
		"object":                "billing_subscription",
		"has_payment_method":    true,
		"canceled":              false,
		"delinquent":            t.Available() <= 0,
		"account_name":          t.Name,
		"soft_limit_usd":        limit,
		"hard_limit_usd":        limit,
		"system_hard_limit_usd": limit,
		"access_until":          accessUntil,
		"plan":                  gin.H{"title": "Tollgate prepaid", "id": "tollgate-prepaid"},
		"tollgate":              own,
	})
	return nil
}

// billingUsage answers with the tenant's spend in [start_date, end_date) (UTC
// dates, end exclusive as OpenAI's was; default: this month so far) in cents, per
// day and model.
func (g *Gateway) billingUsage(c *gin.Context) error {
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from, to := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), today.AddDate(0, 0, 1)
	var err error
	if s := c.Query("start_date"); s != "" {
		if from, err = time.Parse(time.DateOnly, s); err != nil {
			return apiErr(ErrInvalidRequest, "start_date", "start_date must be a date such as 2025-01-01 (UTC).")
		}
	}
	if s := c.Query("end_date"); s != "" {
		if to, err = time.Parse(time.DateOnly, s); err != nil {
			return apiErr(ErrInvalidRequest, "end_date", "end_date must be a date such as 2025-02-01 (UTC, exclusive).")
		}
	}
	switch {
	case !to.After(from):
		return apiErr(ErrInvalidRequest, "end_date", "end_date must be after start_date.")
	case to.Sub(from) > maxUsageDays*24*time.Hour:
		return apiErr(ErrInvalidRequest, "end_date", "Usage can be asked for at most %d days at a time.", maxUsageDays)
	}
	rows, err := g.store.DailyModelTallies(c.Request.Context(), store.RollupFilter{TenantID: keyOf(c).TenantID, From: from, To: to})
	if err != nil {
		return err
	}
	type lineItem struct {
		Name string  `json:"name"`
		Cost float64 `json:"cost"` // cents
	}
	type dailyCost struct {
		Timestamp float64    `json:"timestamp"`
		LineItems []lineItem `json:"line_items"`
	}
	daily := []dailyCost{}
	var total billing.Nanos
	for _, r := range rows {
		if r.Cost == 0 {
			continue // refused and failed calls cost nothing
		}
		if n := len(daily); n == 0 || daily[n-1].Timestamp != float64(r.Day.Unix()) {
			daily = append(daily, dailyCost{Timestamp: float64(r.Day.Unix()), LineItems: []lineItem{}})
		}
		d := &daily[len(daily)-1]
		d.LineItems = append(d.LineItems, lineItem{Name: r.Model, Cost: usdFloat(r.Cost) * 100})
		total += r.Cost
	}
	c.JSON(http.StatusOK, gin.H{"object": "list", "daily_costs": daily, "total_usage": usdFloat(total) * 100,
		"tollgate": gin.H{"start_date": from.Format(time.DateOnly), "end_date": to.Format(time.DateOnly), "total_usd": total.String()}})
	return nil
}

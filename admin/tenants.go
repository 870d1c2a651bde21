package admin

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// maxCreditLimit bounds a tenant's credit limit (and a key's budget): large enough
// for any real account, small enough that balance − held + limit cannot overflow.
const maxCreditLimit = 1_000_000_000 * billing.NanosPerUSD

// tenantJSON is a tenant with its wallet, amounts as exact decimal strings.
type tenantJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	BalanceUSD     string `json:"balance_usd"`
	HeldUSD        string `json:"held_usd"`
	AvailableUSD   string `json:"available_usd"`
	CreditLimitUSD string `json:"credit_limit_usd"`
	CreatedAt      string `json:"created_at"`
	UpdatedAt      string `json:"updated_at"`
	// RateLimits are shared by all the tenant's keys.
	RateLimits rateLimitsJSON `json:"rate_limits"`
}

func tenantOut(t store.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, BalanceUSD: t.Balance.String(), HeldUSD: t.Held.String(),
		AvailableUSD: t.Available().String(), CreditLimitUSD: t.CreditLimit.String(),
		CreatedAt: stamp(t.CreatedAt), UpdatedAt: stamp(t.UpdatedAt), RateLimits: limitsOut(t.RateLimits)}
}

type createTenantRequest struct {
	Name string `json:"name"`
}

func (a *API) createTenant(c *gin.Context) error {
	var req createTenantRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if err := checkText("name", name, true, 200); err != nil {
		return err
	}
	t, err := a.store.CreateTenant(c.Request.Context(), name)
	if err != nil {
		return err
	}
	return created(c, tenantOut(t))
}

func (a *API) listTenants(c *gin.Context) error {
	limit, err := pageLimit(c, 100)
	if err != nil {
		return err
	}
	offset, err := queryInt(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	ts, err := a.store.ListTenants(c.Request.Context(), store.TenantFilter{Search: c.Query("search"), Limit: limit, Offset: int(offset)})
	if err != nil {
		return err
	}
	out := make([]tenantJSON, len(ts))
	for i, t := range ts {
		out[i] = tenantOut(t)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

// tenant reads the tenant named by the :id path parameter.
func (a *API) tenant(c *gin.Context) (store.Tenant, error) {
	id := c.Param("id")
	t, err := a.store.Tenant(c.Request.Context(), id)
	return t, notFound(err, "tenant", id, tenantHint)
}

func (a *API) getTenant(c *gin.Context) error {
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, tenantOut(t))
	return nil
}

type patchTenantRequest struct {
	CreditLimitUSD decimal         `json:"credit_limit_usd"`
	RateLimits     *rateLimitsJSON `json:"rate_limits"`
}

func (a *API) patchTenant(c *gin.Context) error {
	var req patchTenantRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if !req.CreditLimitUSD.set && req.RateLimits == nil {
		return invalid("credit_limit_usd", "Send credit_limit_usd (how far below zero the tenant's available balance may go, e.g. \"0\" or \"50.00\") and/or rate_limits.")
	}
	id := c.Param("id")
	ctx := c.Request.Context()
	if req.RateLimits != nil {
		l, err := req.RateLimits.store()
		if err != nil {
			return err
		}
		if err := a.store.SetTenantLimits(ctx, id, l); err != nil {
			return notFound(err, "tenant", id, tenantHint)
		}
	}
	t, err := a.store.Tenant(ctx, id)
	if err != nil {
		return notFound(err, "tenant", id, tenantHint)
	}
	if req.CreditLimitUSD.set {
		limit, err := req.CreditLimitUSD.usd("credit_limit_usd")
		if err != nil {
			return err
		}
		if limit < 0 || limit > maxCreditLimit {
			return invalid("credit_limit_usd", "credit_limit_usd must be from 0 to %s USD.", maxCreditLimit)
		}
		if t, err = a.store.SetCreditLimit(ctx, id, limit); err != nil {
			return notFound(err, "tenant", id, tenantHint)
		}
	}
	c.JSON(http.StatusOK, tenantOut(t))
	return nil
}

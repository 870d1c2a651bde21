package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// keyJSON is an API key without its secret: the secret is shown once, at creation,
// and only its digest is stored.
type keyJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Hint      string   `json:"hint"`
	TenantID  string   `json:"tenant_id"`
	Models    []string `json:"models"`
	BudgetUSD *string  `json:"budget_usd"`
	SpentUSD  string   `json:"spent_usd"`
	HeldUSD   string   `json:"held_usd"`
	ExpiresAt *string  `json:"expires_at"`
	RevokedAt *string  `json:"revoked_at"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	// RateLimits are the key's own limits (its tenant's apply too).
	RateLimits rateLimitsJSON `json:"rate_limits"`
}

// newKeyJSON is the creation answer: the key plus its secret, the one time it exists
// outside the client's hands.
type newKeyJSON struct {
	Key string `json:"key"`
	keyJSON
}

func (a *API) keyOut(k store.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Hint: k.Hint, TenantID: k.TenantID, Models: k.Models,
		SpentUSD: k.Spent.String(), HeldUSD: k.Held.String(), ExpiresAt: optStamp(k.ExpiresAt),
		RevokedAt: optStamp(k.RevokedAt), Active: k.Active(a.now()), CreatedAt: stamp(k.CreatedAt), RateLimits: limitsOut(k.Limits)}
	if out.Models == nil {
		out.Models = []string{}
	}
	if k.Budget != nil {
		b := k.Budget.String()
		out.BudgetUSD = &b
	}
	return out
}

// keyHint is where an operator finds key ids.
const keyHint = "List a tenant's keys with GET " + Prefix + "/tenants/{id}/keys."

type createKeyRequest struct {
	Name       string          `json:"name"`
	Models     []string        `json:"models"`
	BudgetUSD  decimal         `json:"budget_usd"`
	ExpiresAt  *string         `json:"expires_at"`
	RateLimits *rateLimitsJSON `json:"rate_limits"`
}

func (a *API) createKey(c *gin.Context) error {
	var req createKeyRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	nk := store.NewKey{TenantID: c.Param("id"), Name: strings.TrimSpace(req.Name)}
	if err := checkText("name", nk.Name, true, 200); err != nil {
		return err
	}
	for _, m := range req.Models {
		m = strings.TrimSpace(m)
		if err := checkText("models", m, true, 200); err != nil {
			return invalid("models", "models must list model names (non-blank, at most 200 bytes each); an empty or missing list allows every model.")
		}
		nk.Models = append(nk.Models, m)
	}
	if req.BudgetUSD.set {
		b, err := req.BudgetUSD.usd("budget_usd")
		if err != nil {
			return err
		}
		if b < 0 || b > maxCreditLimit {
			return invalid("budget_usd", "budget_usd must be from 0 to %s USD, or null for no budget.", maxCreditLimit)
		}
		nk.Budget = &b
	}
	if req.ExpiresAt != nil && *req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return invalid("expires_at", "expires_at must be an RFC 3339 time such as 2026-01-31T00:00:00Z, or null for a key that never expires.")
		}
		if !t.After(a.now()) {
			return invalid("expires_at", "expires_at %s is not in the future; a key that is already expired would be useless.", t.UTC().Format(time.RFC3339))
		}
		nk.ExpiresAt = t
	}
	var limits *store.RateLimits
	if req.RateLimits != nil {
		l, err := req.RateLimits.store()
		if err != nil {
			return err
		}
		limits = &l
	}
	k, secret, err := a.store.CreateKey(c.Request.Context(), nk)
	if err != nil {
		return notFound(err, "tenant", nk.TenantID, tenantHint)
	}
	if limits != nil {
		if err := a.store.SetKeyLimits(c.Request.Context(), k.ID, *limits); err != nil {
			return err
		}
		k.Limits = *limits
	}
	return created(c, newKeyJSON{Key: secret, keyJSON: a.keyOut(k)})
}

func (a *API) listKeys(c *gin.Context) error {
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	ks, err := a.store.ListKeys(c.Request.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = a.keyOut(k)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) getKey(c *gin.Context) error {
	id := c.Param("id")
	k, err := a.store.Key(c.Request.Context(), id)
	if err != nil {
		return notFound(err, "key", id, keyHint)
	}
	c.JSON(http.StatusOK, a.keyOut(k))
	return nil
}

// revokeKey disables a key for good and evicts it from the gateway's cache, so its
// very next call is refused rather than served until the cache entry ages out.
func (a *API) revokeKey(c *gin.Context) error {
	id := c.Param("id")
	k, err := a.store.RevokeKey(c.Request.Context(), id)
	if err != nil {
		return notFound(err, "key", id, keyHint)
	}
	a.notify.ForgetKey(k.ID)
	c.JSON(http.StatusOK, a.keyOut(k))
	return nil
}

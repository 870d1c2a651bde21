package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
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
	models, err := keyModels(req.Models)
	if err != nil {
		return err
	}
	nk.Models = models
	if nk.Budget, err = keyBudget(req.BudgetUSD); err != nil {
		return err
	}
	if nk.ExpiresAt, err = a.expiry(req.ExpiresAt); err != nil {
		return err
	}
	limits, err := req.RateLimits.optional()
	if err != nil {
		return err
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

// patchKeyRequest changes some of a key's settings: an absent field stays as it is.
type patchKeyRequest struct {
	RateLimits *rateLimitsJSON `json:"rate_limits"`
	BudgetUSD  json.RawMessage `json:"budget_usd"` // null: no budget
	Models     *[]string       `json:"models"`     // []: every model
	ExpiresAt  json.RawMessage `json:"expires_at"` // null: never
}

// patchKey serves PATCH /keys/:id: a key's rate limits, budget, allowed models or
// expiry, effective at once here and at the next configuration poll elsewhere.
func (a *API) patchKey(c *gin.Context) error {
	var req patchKeyRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.RateLimits == nil && req.BudgetUSD == nil && req.Models == nil && req.ExpiresAt == nil {
		return invalid("", "Name at least one of rate_limits, budget_usd, models and expires_at, e.g. {\"budget_usd\":\"25\"} or {\"expires_at\":null}.")
	}
	var u store.KeyUpdate
	if req.BudgetUSD != nil {
		var d decimal
		if err := d.UnmarshalJSON(req.BudgetUSD); err != nil {
			return invalid("budget_usd", "budget_usd must be a USD amount such as \"25\", or null for no budget.")
		}
		budget, err := keyBudget(d)
		if err != nil {
			return err
		}
		u.Budget = &budget
	}
	if req.Models != nil {
		models, err := keyModels(*req.Models)
		if err != nil {
			return err
		}
		u.Models = &models
	}
	if req.ExpiresAt != nil {
		var at *string
		if err := json.Unmarshal(req.ExpiresAt, &at); err != nil {
			return invalid("expires_at", "expires_at must be an RFC 3339 time such as 2026-01-31T00:00:00Z, or null for a key that never expires.")
		}
		t, err := a.expiry(at)
		if err != nil {
			return err
		}
		ms := int64(0)
		if !t.IsZero() {
			ms = t.UnixMilli()
		}
		u.ExpiresAt = &ms
	}
	limits, err := req.RateLimits.optional()
	if err != nil {
		return err
	}
	id := c.Param("id")
	ctx := c.Request.Context()
	k, err := a.store.Key(ctx, id)
	if err != nil {
		return notFound(err, "key", id, keyHint)
	}
	if k.RevokedAt != 0 {
		return router.APIError(store.ErrConflict, "", "Key %s is revoked; a revoked key cannot be changed. Create a new key instead.", id)
	}
	if _, err := a.store.UpdateKey(ctx, id, u); err != nil {
		return notFound(err, "key", id, keyHint)
	}
	if limits != nil {
		if err := a.store.SetKeyLimits(ctx, id, *limits); err != nil {
			return notFound(err, "key", id, keyHint)
		}
	}
	a.notify.ForgetKey(id)
	if k, err = a.store.Key(ctx, id); err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.keyOut(k))
	return nil
}

// keyBudget reads a key's budget_usd: nil for none (null).
func keyBudget(d decimal) (*billing.Nanos, error) {
	if !d.set {
		return nil, nil
	}
	b, err := d.usd("budget_usd")
	if err != nil {
		return nil, err
	}
	if b < 0 || b > maxCreditLimit {
		return nil, invalid("budget_usd", "budget_usd must be from 0 to %s USD, or null for no budget.", maxCreditLimit)
	}
	return &b, nil
}

// keyModels checks a key's list of allowed models.
func keyModels(in []string) ([]string, error) {
	models := []string{}
	for _, m := range in {
		m = strings.TrimSpace(m)
		if err := checkText("models", m, true, 200); err != nil {
			return nil, invalid("models", "models must list model names (non-blank, at most 200 bytes each); an empty list allows every model.")
		}
		models = append(models, m)
	}
	return models, nil
}

// expiry reads a key's expires_at: zero for none (null or ""), else a time that is
// still to come.
func (a *API) expiry(at *string) (time.Time, error) {
	if at == nil || *at == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *at)
	if err != nil {
		return time.Time{}, invalid("expires_at", "expires_at must be an RFC 3339 time such as 2026-01-31T00:00:00Z, or null for a key that never expires.")
	}
	if !t.After(a.now()) {
		return time.Time{}, invalid("expires_at", "expires_at %s is not in the future; a key that is already expired would be useless.", t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

package admin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// tenantView is one tenant's page: wallet, top-up and credit-limit forms, usage by
// day and by model, keys, and the ledger.
type tenantView struct {
	Tenant     store.Tenant
	Keys       []keyView
	KeyUsage   map[string]store.Tally
	Ledger     []store.LedgerEntry
	Before     int64 // the ledger page's cursor (0: newest)
	NextBefore int64 // cursor of the next (older) page; 0 when this is the last
	Usage      store.Tally
	Days       []store.DayTally
	Chart      chartData
	Models     []store.GroupTally
	Topup      *form
	Limit      *form
	NewKey     *form
	Created    *createdKey
}

// keyView is a key as the tenant page lists it.
type keyView struct {
	store.APIKey
	Status string // "active", "revoked" or "expired"
}

// createdKey is a key just made: its secret is on this one page, never again.
type createdKey struct {
	Name   string
	Secret string
}

// tenantForms are the tenant page's forms as the request left them.
type tenantForms struct {
	topup, limit, newKey *form
	created              *createdKey
}

// newIdempotencyKey stamps a top-up form, so submitting it twice credits once.
func newIdempotencyKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ui-" + hex.EncodeToString(b[:])
}

func (u *UI) tenant(c *gin.Context) {
	u.showTenant(c, http.StatusOK, tenantForms{})
}

func (u *UI) showTenant(c *gin.Context, status int, fs tenantForms) {
	ctx := c.Request.Context()
	id := c.Param("id")
	t, err := u.store.Tenant(ctx, id)
	if err != nil {
		u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
		return
	}
	v := tenantView{Tenant: t, Topup: fs.topup, Limit: fs.limit, NewKey: fs.newKey, Created: fs.created}
	if v.Topup == nil {
		v.Topup = newForm("idempotency_key", newIdempotencyKey())
	}
	if v.Limit == nil {
		v.Limit = newForm("credit_limit_usd", trimZeros(t.CreditLimit.String()))
	}
	if v.NewKey == nil {
		v.NewKey = newForm()
	}
	keys, err := u.store.ListKeys(ctx, t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	now := u.now()
	for _, k := range keys {
		kv := keyView{APIKey: k, Status: "active"}
		switch {
		case k.RevokedAt != 0:
			kv.Status = "revoked"
		case !k.Active(now):
			kv.Status = "expired"
		}
		v.Keys = append(v.Keys, kv)
	}
	if b, err := strconv.ParseInt(c.Query("before"), 10, 64); err == nil && b > 0 {
		v.Before = b
	}
	if v.Ledger, err = u.store.LedgerPage(ctx, t.ID, v.Before, 20); err != nil {
		u.fail(c, err)
		return
	}
	if len(v.Ledger) == 20 {
		v.NextBefore = v.Ledger[len(v.Ledger)-1].ID
	}
	today := utcDay(now)
	window := store.RollupFilter{TenantID: t.ID, From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1)}
	days, err := u.store.DailyTallies(ctx, window)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Days = fillDays(days, window.From, window.To)
	for _, d := range v.Days {
		v.Usage.Add(d.Tally)
	}
	v.Chart = dailyChart(v.Days)
	if v.Models, err = u.store.TallyBy(ctx, window, store.ByModel, 0); err != nil {
		u.fail(c, err)
		return
	}
	keyUsage, err := u.store.TallyBy(ctx, window, store.ByKey, 0)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.KeyUsage = map[string]store.Tally{}
	for _, g := range keyUsage {
		v.KeyUsage[g.Group] = g.Tally
	}
	u.render(c, status, "tenant", view{Title: t.Name, Nav: "tenants", Data: v})
}

// trimZeros shortens "12.500000000" to "12.5" for a form field.
func trimZeros(s string) string {
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// topup credits the tenant once per form: the form's idempotency key makes a double
// submission (or a retried post) a replay of the first, not a second credit.
func (u *UI) topup(c *gin.Context) {
	f := postedForm(c)
	fs := tenantForms{topup: f}
	amount, err := decimal{text: f.Get("amount_usd"), set: true}.usd("amount_usd")
	if err == nil {
		switch {
		case amount <= 0:
			err = invalid("amount_usd", "The amount must be more than 0.")
		case amount > store.MaxTopup:
			err = invalid("amount_usd", "One top-up may credit at most %s; check for extra zeros, or split it.", usdText(store.MaxTopup))
		}
	}
	if err == nil {
		err = checkText("note", f.Get("note"), false, 500)
	}
	if err != nil {
		u.showTenant(c, f.fail(err, "amount_usd"), fs)
		return
	}
	key := f.Get("idempotency_key")
	if key == "" || len(key) > 200 {
		key = newIdempotencyKey()
	}
	id := c.Param("id")
	entry, replayed, err := u.store.Topup(c.Request.Context(), id, amount, f.Get("note"), key)
	if errors.Is(err, store.ErrNotFound) {
		u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
		return
	}
	if err != nil {
		u.showTenant(c, f.fail(err, "amount_usd"), fs)
		return
	}
	to := UIPrefix + "/tenants/" + id
	switch {
	case replayed && entry.Amount != amount:
		f.Values.Set("idempotency_key", newIdempotencyKey())
		u.showTenant(c, http.StatusConflict, tenantForms{topup: f.withError("amount_usd",
			"This form was already used to credit "+usdText(entry.Amount)+", so nothing was credited now. Check the ledger, then submit again if another top-up is meant.")})
	case replayed:
		redirect(c, to, "This top-up of "+usdText(entry.Amount)+" was already credited (the form was sent twice); the balance is unchanged.")
	default:
		redirect(c, to, "Credited "+usdText(entry.Amount)+". The balance is now "+usdText(entry.BalanceAfter)+".")
	}
}

// withError sets one field's error and returns the form.
func (f *form) withError(field, msg string) *form {
	f.Errors[field] = msg
	return f
}

func (u *UI) creditLimit(c *gin.Context) {
	f := postedForm(c)
	limit, err := decimal{text: f.Get("credit_limit_usd"), set: true}.usd("credit_limit_usd")
	if err == nil && (limit < 0 || limit > maxCreditLimit) {
		err = invalid("credit_limit_usd", "The credit limit must be from $0 to %s.", usdText(maxCreditLimit))
	}
	if err != nil {
		u.showTenant(c, f.fail(err, "credit_limit_usd"), tenantForms{limit: f})
		return
	}
	id := c.Param("id")
	t, err := u.store.SetCreditLimit(c.Request.Context(), id, limit)
	if err != nil {
		u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
		return
	}
	redirect(c, UIPrefix+"/tenants/"+id, "Credit limit set to "+usdText(t.CreditLimit)+".")
}

// parseExpiry reads a key's expiry: a date (the key expires at its start, UTC) or an
// RFC 3339 time; empty means never.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, invalid("expires_at", "Give the expiry as a date such as 2026-12-31 (the key stops working at the start of that day, UTC), or leave it empty.")
		}
	}
	if !t.After(now) {
		return time.Time{}, invalid("expires_at", "The expiry must be in the future.")
	}
	return t, nil
}

// splitModels reads a list of model names separated by commas, spaces or lines.
func splitModels(s string) []string {
	var out []string
	cur := []rune{}
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		if r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			flush()
			continue
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

func (u *UI) createKey(c *gin.Context) {
	f := postedForm(c)
	id := c.Param("id")
	nk := store.NewKey{TenantID: id, Name: f.Get("name"), Models: splitModels(f.Get("models"))}
	err := checkText("name", nk.Name, true, 200)
	for _, m := range nk.Models {
		if err == nil && len(m) > 200 {
			err = invalid("models", "Model names have at most 200 characters.")
		}
	}
	if err == nil && f.Get("budget_usd") != "" {
		var b billing.Nanos
		b, err = decimal{text: f.Get("budget_usd"), set: true}.usd("budget_usd")
		if err == nil && (b < 0 || b > maxCreditLimit) {
			err = invalid("budget_usd", "The budget must be from $0 to %s, or empty for none.", usdText(maxCreditLimit))
		}
		nk.Budget = &b
	}
	if err == nil {
		nk.ExpiresAt, err = parseExpiry(f.Get("expires_at"), u.now())
	}
	if err != nil {
		u.showTenant(c, f.fail(err, "name"), tenantForms{newKey: f})
		return
	}
	k, secret, err := u.store.CreateKey(c.Request.Context(), nk)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
			return
		}
		u.showTenant(c, f.fail(err, "name"), tenantForms{newKey: f})
		return
	}
	u.showTenant(c, http.StatusOK, tenantForms{created: &createdKey{Name: k.Name, Secret: secret}})
}

// revokeKey disables a key for good and evicts it from the gateway's cache, as the
// JSON API does.
func (u *UI) revokeKey(c *gin.Context) {
	id := c.Param("id")
	k, err := u.store.RevokeKey(c.Request.Context(), id)
	if err != nil {
		u.fail(c, notFound(err, "key", id, "A tenant's page lists its keys."))
		return
	}
	u.gw.ForgetKey(k.ID)
	redirect(c, UIPrefix+"/tenants/"+k.TenantID, "Key “"+k.Name+"” revoked; its next call is refused.")
}

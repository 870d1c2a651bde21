package admin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
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
	Chart      webui.ChartData
	Models     []store.GroupTally
	Topup      *webui.Form
	Limit      *webui.Form
	NewKey     *webui.Form
	Created    *createdKey
	Portal     portalAccess // the tenant's portal users and invites (ui_invites.go)
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
	topup, limit, newKey, invite *webui.Form
	created                      *createdKey
	inviteLink                   string // a link just made, shown once
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
		v.Topup = webui.NewForm("idempotency_key", newIdempotencyKey())
	}
	if v.Limit == nil {
		v.Limit = webui.NewForm("credit_limit_usd", trimZeros(t.CreditLimit.String()))
	}
	if v.NewKey == nil {
		v.NewKey = webui.NewForm()
	}
	keys, err := u.store.ListKeys(ctx, t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	now := u.now()
	for _, k := range keys {
		v.Keys = append(v.Keys, keyView{APIKey: k, Status: k.Status(now)})
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
	today := webui.UTCDay(now)
	window := store.RollupFilter{TenantID: t.ID, From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1)}
	days, err := u.store.DailyTallies(ctx, window)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Days = webui.FillDays(days, window.From, window.To)
	for _, d := range v.Days {
		v.Usage.Add(d.Tally)
	}
	v.Chart = webui.DailyChart(v.Days)
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
	if v.Portal, err = u.portalAccess(ctx, t.ID, fs); err != nil {
		u.fail(c, err)
		return
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
	f := webui.PostedForm(c)
	fs := tenantForms{topup: f}
	amount, err := decimal{text: f.Get("amount_usd"), set: true}.usd("amount_usd")
	if err == nil {
		switch {
		case amount <= 0:
			err = invalid("amount_usd", "The amount must be more than 0.")
		case amount > store.MaxTopup:
			err = invalid("amount_usd", "One top-up may credit at most %s; check for extra zeros, or split it.", webui.USD(store.MaxTopup))
		}
	}
	if err == nil {
		err = checkText("note", f.Get("note"), false, 500)
	}
	if err != nil {
		u.showTenant(c, f.Fail(err, "amount_usd"), fs)
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
		u.showTenant(c, f.Fail(err, "amount_usd"), fs)
		return
	}
	to := UIPrefix + "/tenants/" + id
	switch {
	case replayed && entry.Amount != amount:
		f.Values.Set("idempotency_key", newIdempotencyKey())
		u.showTenant(c, http.StatusConflict, tenantForms{topup: f.WithError("amount_usd",
			"This form was already used to credit "+webui.USD(entry.Amount)+", so nothing was credited now. Check the ledger, then submit again if another top-up is meant.")})
	case replayed:
		redirect(c, to, "This top-up of "+webui.USD(entry.Amount)+" was already credited (the form was sent twice); the balance is unchanged.")
	default:
		redirect(c, to, "Credited "+webui.USD(entry.Amount)+". The balance is now "+webui.USD(entry.BalanceAfter)+".")
	}
}

func (u *UI) creditLimit(c *gin.Context) {
	f := webui.PostedForm(c)
	limit, err := decimal{text: f.Get("credit_limit_usd"), set: true}.usd("credit_limit_usd")
	if err == nil && (limit < 0 || limit > maxCreditLimit) {
		err = invalid("credit_limit_usd", "The credit limit must be from $0 to %s.", webui.USD(maxCreditLimit))
	}
	if err != nil {
		u.showTenant(c, f.Fail(err, "credit_limit_usd"), tenantForms{limit: f})
		return
	}
	id := c.Param("id")
	t, err := u.store.SetCreditLimit(c.Request.Context(), id, limit)
	if err != nil {
		u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
		return
	}
	redirect(c, UIPrefix+"/tenants/"+id, "Credit limit set to "+webui.USD(t.CreditLimit)+".")
}

func (u *UI) createKey(c *gin.Context) {
	f := webui.PostedForm(c)
	id := c.Param("id")
	nk, err := webui.KeyForm(f, id, u.now())
	if err != nil {
		u.showTenant(c, f.Fail(err, "name"), tenantForms{newKey: f})
		return
	}
	k, secret, err := u.store.CreateKey(c.Request.Context(), nk)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
			return
		}
		u.showTenant(c, f.Fail(err, "name"), tenantForms{newKey: f})
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

// keyPageView is a key's page: its figures and the form that changes it.
type keyPageView struct {
	Key        store.APIKey
	TenantName string
	Status     string
	Form       *webui.Form
}

func (u *UI) key(c *gin.Context) { u.showKey(c, http.StatusOK, nil) }

func (u *UI) showKey(c *gin.Context, status int, f *webui.Form) {
	ctx := c.Request.Context()
	id := c.Param("id")
	k, err := u.store.Key(ctx, id)
	if err != nil {
		u.fail(c, notFound(err, "key", id, "A tenant's page lists its keys."))
		return
	}
	t, err := u.store.Tenant(ctx, k.TenantID)
	if err != nil {
		u.fail(c, err)
		return
	}
	v := keyPageView{Key: k, TenantName: t.Name, Status: k.Status(u.now()), Form: f}
	if v.Form == nil {
		budget, expires := "", ""
		if k.Budget != nil {
			budget = trimZeros(k.Budget.String())
		}
		if k.ExpiresAt != 0 {
			expires = store.Millis(k.ExpiresAt).UTC().Format(time.DateOnly)
		}
		v.Form = webui.NewForm("budget_usd", budget, "models", strings.Join(k.Models, ", "), "expires_at", expires)
	}
	u.render(c, status, "key", view{Title: k.Name, Nav: "tenants", Data: v})
}

// updateKey changes a key's budget, allowed models and expiry, as PATCH /keys/:id
// does.
func (u *UI) updateKey(c *gin.Context) {
	f := webui.PostedForm(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	k, err := u.store.Key(ctx, id)
	if err != nil {
		u.fail(c, notFound(err, "key", id, "A tenant's page lists its keys."))
		return
	}
	if k.RevokedAt != 0 {
		redirect(c, UIPrefix+"/keys/"+id, "!This key is revoked; it cannot be changed.")
		return
	}
	budget, err := webui.ParseBudget(f.Get("budget_usd"))
	if err != nil {
		u.showKey(c, f.Fail(err, "budget_usd"), f)
		return
	}
	models, err := webui.ParseModels(f.Get("models"))
	if err != nil {
		u.showKey(c, f.Fail(err, "models"), f)
		return
	}
	expiry := int64(0) // empty: never
	switch s := f.Get("expires_at"); {
	case s == "":
	case k.ExpiresAt != 0 && s == store.Millis(k.ExpiresAt).UTC().Format(time.DateOnly):
		expiry = k.ExpiresAt // unchanged: the form shows only its day
	default:
		t, err := webui.ParseExpiry(s, u.now())
		if err != nil {
			u.showKey(c, f.Fail(err, "expires_at"), f)
			return
		}
		expiry = t.UnixMilli()
	}
	if k, err = u.store.UpdateKey(ctx, id, store.KeyUpdate{Budget: &budget, Models: &models, ExpiresAt: &expiry}); err != nil {
		u.showKey(c, f.Fail(err, "budget_usd"), f)
		return
	}
	u.gw.ForgetKey(k.ID)
	redirect(c, UIPrefix+"/tenants/"+k.TenantID, "Key “"+k.Name+"” saved.")
}

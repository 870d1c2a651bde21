package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// keyView is a key as the portal lists it.
type keyView struct {
	store.APIKey
	Status string // "active", "revoked" or "expired"
}

// createdKey is a key just made: its secret is on this one page, never again.
type createdKey struct {
	Name   string
	Secret string
}

// keysView is the keys screen: the tenant's keys with 30 days of calls each, and
// the form for a new key.
type keysView struct {
	Keys     []keyView
	KeyUsage map[string]store.Tally
	NewKey   *webui.Form
	Created  *createdKey
}

func (p *Portal) keysPage(c *gin.Context) { p.showKeys(c, http.StatusOK, nil, nil) }

func (p *Portal) showKeys(c *gin.Context, status int, f *webui.Form, created *createdKey) {
	ctx := c.Request.Context()
	keys, err := p.store.ListKeys(ctx, tenantOf(c))
	if err != nil {
		p.fail(c, err)
		return
	}
	v := keysView{NewKey: f, Created: created, KeyUsage: map[string]store.Tally{}}
	if v.NewKey == nil {
		v.NewKey = webui.NewForm()
	}
	for _, k := range keys {
		v.Keys = append(v.Keys, keyView{APIKey: k, Status: k.Status(p.now())})
	}
	_, window, err := p.days(c, 30)
	if err != nil {
		p.fail(c, err)
		return
	}
	byKey, err := p.store.TallyBy(ctx, window, store.ByKey, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	for _, g := range byKey {
		v.KeyUsage[g.Group] = g.Tally
	}
	p.render(c, status, "keys", webui.View{Title: "API keys", Nav: "keys", Data: v})
}

// createKey makes a key for the session's tenant and shows its secret once.
func (p *Portal) createKey(c *gin.Context) {
	f := webui.PostedForm(c)
	nk, err := webui.KeyForm(f, tenantOf(c), p.now())
	if err != nil {
		p.showKeys(c, f.Fail(err, "name"), f, nil)
		return
	}
	k, secret, err := p.store.CreateKey(c.Request.Context(), nk)
	if err != nil {
		p.showKeys(c, f.Fail(err, "name"), f, nil)
		return
	}
	p.log.Info("tenant created a key", "tenant_id", k.TenantID, "key_id", k.ID)
	p.showKeys(c, http.StatusOK, nil, &createdKey{Name: k.Name, Secret: secret})
}

// keyPageView is one key's screen: its limits and 30 days of its calls.
type keyPageView struct {
	Key    store.APIKey
	Status string
	Usage  store.Tally
	Form   *webui.Form
}

func (p *Portal) keyPage(c *gin.Context) { p.showKey(c, http.StatusOK, nil) }

func (p *Portal) showKey(c *gin.Context, status int, f *webui.Form) {
	ctx := c.Request.Context()
	k, err := p.store.TenantKey(ctx, tenantOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "key")
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	v := keyPageView{Key: k, Status: k.Status(p.now()), Form: f}
	if v.Form == nil {
		budget := ""
		if k.Budget != nil {
			budget = strings.TrimRight(strings.TrimRight(k.Budget.String(), "0"), ".")
		}
		v.Form = webui.NewForm("budget_usd", budget, "models", strings.Join(k.Models, ", "))
	}
	_, window, err := p.days(c, 30)
	if err != nil {
		p.fail(c, err)
		return
	}
	byKey, err := p.store.TallyBy(ctx, window, store.ByKey, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	for _, g := range byKey {
		if g.Group == k.ID {
			v.Usage = g.Tally
		}
	}
	p.render(c, status, "key", webui.View{Title: k.Name, Nav: "keys", Data: v})
}

// updateKey changes a key's budget and allowed models.
func (p *Portal) updateKey(c *gin.Context) {
	f := webui.PostedForm(c)
	ctx := c.Request.Context()
	tenant, id := tenantOf(c), c.Param("id")
	k, err := p.store.TenantKey(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "key")
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	if k.RevokedAt != 0 {
		p.site.Redirect(c, Prefix+"/keys/"+id, "!This key is revoked; it cannot be changed.")
		return
	}
	var ch store.KeyChange
	if ch.Budget, err = webui.ParseBudget(f.Get("budget_usd")); err == nil {
		ch.Models, err = webui.ParseModels(f.Get("models"))
	}
	if err != nil {
		p.showKey(c, f.Fail(err, "budget_usd"), f)
		return
	}
	if k, err = p.store.UpdateTenantKey(ctx, tenant, id, ch); err != nil {
		p.showKey(c, f.Fail(err, "budget_usd"), f)
		return
	}
	p.keys.ForgetKey(k.ID)
	p.site.Redirect(c, Prefix+"/keys/"+id, "Key “"+k.Name+"” saved.")
}

// revokeKey disables one of the tenant's keys for good and evicts it from the
// gateway's cache, so its next call is refused.
func (p *Portal) revokeKey(c *gin.Context) {
	k, err := p.store.RevokeTenantKey(c.Request.Context(), tenantOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "key")
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	p.keys.ForgetKey(k.ID)
	p.log.Info("tenant revoked a key", "tenant_id", k.TenantID, "key_id", k.ID)
	p.site.Redirect(c, Prefix+"/keys", "Key “"+k.Name+"” revoked; its next call is refused.")
}

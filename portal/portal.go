// Package portal is the tenant self-service portal under /portal/: a tenant's users
// sign in (after an admin's one-time invite), see their balance, held credit, usage,
// ledger and request log, manage their own API keys, redeem codes, pay by card
// through Stripe Checkout, and set a low-balance alert. Every screen reads and
// changes the signed-in user's own tenant only: the tenant id comes from the
// session, never from the request, and the store's tenant-scoped functions name it
// in every query.
package portal

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/web"
	"github.com/tollgate-gw/tollgate/webui"
)

// Prefix is where the portal is served.
const Prefix = "/portal"

// Portal tuning.
const (
	sessionTTL    = 12 * time.Hour   // a session ends after this long without use
	loginLimit    = 5                // failed sign-ins per address and email …
	loginWindow   = 15 * time.Minute // … within this window, then 429
	redeemLimit   = 10               // failed redemptions per tenant within loginWindow
	bodyBytes     = 1 << 20          // largest form a page may post
	webhookBytes  = 256 << 10        // largest Stripe event accepted
	pageSize      = 50               // rows per page of long lists
	csrfPurpose   = "tollgate portal csrf"
	ctxSession    = "tollgate.portal.session"
	webhookPath   = "/stripe/webhook"
	checkoutDone  = "/checkout/done"
	checkoutAbort = "/checkout/cancelled"
)

// KeyForgetter is what the portal needs of the running gateway: revoking a key or
// changing its models evicts it from the gateway's cache at once.
type KeyForgetter interface {
	ForgetKey(keyID string)
}

// Config configures the portal.
type Config struct {
	// PublicURL is the gateway's address as browsers reach it (https://gw.example);
	// Stripe sends tenants back to it after paying. Required with Stripe.
	PublicURL string
	// Stripe takes card payments; nil turns them off.
	Stripe *payment.Stripe
	// AllowPrivateWebhooks lets low-balance alert URLs name private and loopback
	// addresses (tests, a receiver on the operator's network); off by default.
	AllowPrivateWebhooks bool
	Logger               *slog.Logger
}

// Portal serves the tenant portal. Like the dashboard it keeps no state of its own:
// sessions live in the store, so any number of gateway processes may serve it.
type Portal struct {
	store *store.Store
	keys  KeyForgetter
	cfg   Config
	site  *webui.Site
	log   *slog.Logger
	now   func() time.Time
}

// New prepares the portal; its templates are embedded, so they are parsed and
// checked here and a broken one panics at start (tests render every screen).
func New(st *store.Store, keys KeyForgetter, cfg Config) *Portal {
	site := &webui.Site{Prefix: Prefix, Cookie: "tollgate_portal"}
	funcs := site.Funcs()
	funcs["addi"] = func(a, b int64) int64 { return a + b }
	pages, err := webui.ParsePages(web.Templates(), template.FuncMap(funcs),
		[]string{"portal/layout.html", "portal/partials.html", "partials/*.html"}, "portal/pages/*.html")
	if err != nil {
		panic("portal: templates: " + err.Error())
	}
	site.Pages = pages
	if keys == nil {
		keys = nopForgetter{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Portal{store: st, keys: keys, cfg: cfg, site: site, log: cfg.Logger, now: time.Now}
}

type nopForgetter struct{}

func (nopForgetter) ForgetKey(string) {}

// Register mounts the portal under Prefix. Sign-in, invite acceptance, assets and
// Stripe's webhook are open (the webhook proves itself by its signature); every
// other screen needs a tenant session, and every form post its CSRF token.
func (p *Portal) Register(r gin.IRouter) {
	g := r.Group(Prefix, webui.SecurityHeaders)
	g.GET("/static/:sum/*file", webui.Static)
	g.GET("/login", p.loginPage)
	g.POST("/login", webui.LimitBody(bodyBytes), p.login)
	g.GET("/invite/:token", p.invitePage)
	g.POST("/invite/:token", webui.LimitBody(bodyBytes), p.acceptInvite)
	if p.cfg.Stripe != nil {
		g.POST(webhookPath, p.stripeWebhook)
	}

	a := g.Group("", webui.LimitBody(bodyBytes), p.requireSession, p.audit)
	a.POST("/logout", p.logout)
	a.GET("/", p.overview)
	a.GET("/usage", p.usage)
	a.GET("/ledger", p.ledger)
	a.GET("/keys", p.keysPage)
	a.POST("/keys", p.createKey)
	a.GET("/keys/:id", p.keyPage)
	a.POST("/keys/:id", p.updateKey)
	a.POST("/keys/:id/revoke", p.revokeKey)
	a.GET("/requests", p.requests)
	a.GET("/requests/:id", p.request)
	a.GET("/credit", p.credit)
	a.POST("/redeem", p.redeem)
	a.POST("/checkout", p.checkout)
	a.GET(checkoutDone, p.checkoutReturn)
	a.GET(checkoutAbort, p.checkoutCancelled)
	a.GET("/alerts", p.alerts)
	a.POST("/alerts", p.saveAlert)
	a.POST("/alerts/secret", p.rotateAlertSecret)
	a.POST("/alerts/delete", p.deleteAlert)
}

// audit records every change a tenant user makes (keys, redemptions, payments
// started, alert settings) in the operators' audit log, as "tenant-user:<email>"
// with the tenant's id. Form fields are left out: they hold codes and secrets.
func (p *Portal) audit(c *gin.Context) {
	c.Next()
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		return
	}
	s, ok := sessionOf(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	_ = p.store.Audit(ctx, store.AuditEntry{Actor: "tenant-user:" + s.Email, Action: c.Request.Method + " " + c.FullPath(),
		Target: c.Param("id"), Detail: map[string]string{"tenant_id": s.TenantID}, Remote: c.ClientIP(), Status: c.Writer.Status()})
}

// render writes a page with the session's user, tenant and CSRF token filled in.
func (p *Portal) render(c *gin.Context, status int, page string, v webui.View) {
	if s, ok := sessionOf(c); ok {
		v.User, v.Account, v.CSRF = s.Email, s.TenantName, s.csrf
	}
	p.site.Render(c, status, page, v)
}

// fail renders the error page for a failed request; a missing object is a plain
// 404 whichever tenant it belongs to.
func (p *Portal) fail(c *gin.Context, err error) {
	_ = c.Error(err)
	status := webui.StatusOf(err)
	p.render(c, status, "error", webui.View{Title: http.StatusText(status), Data: webui.ErrorPage{Status: status, Message: webui.UserMessage(err)}})
}

// notFound is the one answer to an id that is not the tenant's: the same whether
// the object belongs to another tenant or does not exist at all.
func (p *Portal) notFound(c *gin.Context, what string) {
	p.render(c, http.StatusNotFound, "error", webui.View{Title: "Not found",
		Data: webui.ErrorPage{Status: http.StatusNotFound, Message: "No such " + what + " in your account."}})
}

package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// UIPrefix is where the dashboard is served: server-rendered pages beside the JSON
// API (which stays under Prefix, with its bearer token).
const UIPrefix = "/admin"

// Gateway is what the dashboard needs of the running gateway: the Notifier the JSON
// API uses, so a change takes effect at once, and the live health of its channels.
type Gateway interface {
	Notifier
	// ChannelHealth reports each channel's circuit, attempt counts and latency.
	ChannelHealth() []router.ChannelHealth
}

// Dashboard tuning.
const (
	sessionTTL    = 12 * time.Hour   // a session ends after this long without use
	loginLimit    = 5                // failed sign-ins allowed per address and email …
	loginWindow   = 15 * time.Minute // … within this window, then 429
	pageSize      = 50               // rows per page of long lists
	uiBodyBytes   = 1 << 20          // largest form a page may post
	channelTestTO = 30 * time.Second // longest a channel's "test" call may take
)

// UI serves the dashboard. Like the JSON API it keeps no state of its own: sessions
// and sign-in failures live in the store, so any number of gateway processes may
// serve it.
type UI struct {
	store     *store.Store
	gw        Gateway
	authorize func(token string) bool
	site      *webui.Site  // the dashboard's pages, cookies and assets
	client    *http.Client // sends the channel "test" calls
	rules     *API         // the JSON API's checks, shared so both refuse the same input
	cache     dayCache     // finished days of the usage rollup
	now       func() time.Time
}

// NewUI prepares the dashboard. Its templates are embedded, so they are parsed and
// checked here and a broken one panics at start (a test renders every page on each
// run). authorize checks the admin token, which may create the first admin user once.
func NewUI(st *store.Store, gw Gateway, authorize func(token string) bool) *UI {
	pages, err := parsePages()
	if err != nil {
		panic("admin: dashboard templates: " + err.Error())
	}
	if gw == nil {
		gw = nopGateway{}
	}
	s := *site
	s.Pages = pages
	return &UI{store: st, gw: gw, authorize: authorize, site: &s, client: router.NewUpstreamClientFor(false),
		rules: New(st, gw, authorize), now: time.Now}
}

// AllowPrivateUpstreams lets channels point at private, loopback and link-local
// addresses, as the JSON API's switch of the same name does; off by default, so the
// channel form and its "test" button cannot reach into the gateway's own network.
func (u *UI) AllowPrivateUpstreams(allow bool) *UI {
	u.rules.AllowPrivateUpstreams(allow)
	u.client = router.NewUpstreamClientFor(allow)
	return u
}

// nopGateway stands in for a missing gateway: nothing to reload, no health to show.
type nopGateway struct{ nopNotifier }

// ChannelHealth reports nothing: no gateway, no calls seen.
func (nopGateway) ChannelHealth() []router.ChannelHealth { return nil }

// Register mounts the dashboard under UIPrefix. Sign-in pages and assets are open;
// every other page needs a session, and every form post its CSRF token.
func (u *UI) Register(r gin.IRouter) {
	g := r.Group(UIPrefix, webui.SecurityHeaders)
	g.GET("/static/:sum/*file", webui.Static)
	g.GET("/login", u.loginPage)
	g.POST("/login", u.limitBody, u.login)
	g.POST("/setup", u.limitBody, u.setup)

	// Audit reads the form before requireSession parses it, and names the actor after.
	a := g.Group("", u.limitBody, Audit(u.store, sessionActor), u.requireSession)
	a.POST("/logout", u.logout)
	a.GET("/", u.overview)
	a.GET("/tenants", u.tenants)
	a.POST("/tenants", u.createTenant)
	a.GET("/tenants/:id", u.tenant)
	a.POST("/tenants/:id/topup", u.topup)
	a.POST("/tenants/:id/credit-limit", u.creditLimit)
	a.POST("/tenants/:id/keys", u.createKey)
	a.GET("/keys/:id", u.key)
	a.POST("/keys/:id", u.updateKey)
	a.POST("/keys/:id/revoke", u.revokeKey)
	a.POST("/tenants/:id/invites", u.invite)
	a.GET("/redeem", u.redeemBatches)
	a.POST("/redeem", u.createRedeemBatch)
	a.GET("/redeem/:id/codes.csv", u.exportRedeemCodes)
	a.GET("/channels", u.channels)
	a.GET("/channels/new", u.newChannel)
	a.POST("/channels", u.createChannel)
	a.GET("/channels/:id", u.editChannel)
	a.POST("/channels/:id", u.updateChannel)
	a.POST("/channels/:id/enabled", u.enableChannel)
	a.POST("/channels/:id/test", u.testChannel)
	a.POST("/channels/:id/delete", u.deleteChannel)
	a.GET("/prices", u.prices)
	a.GET("/prices/edit", u.editPrice)
	a.POST("/prices", u.savePrice)
	a.POST("/prices/reset", u.resetPrice)
	a.GET("/requests", u.requests)
	a.GET("/requests/:id", u.request)
	a.GET("/topology", u.topology)
	go u.warm()
}

// limitBody bounds what a form post may send.
func (u *UI) limitBody(c *gin.Context) { webui.LimitBody(uiBodyBytes)(c) }

// reload tells the gateway that channels or prices changed, bounded like the API's.
func (u *UI) reload(c *gin.Context, what string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), reloadTimeout)
	defer cancel()
	if err := u.gw.Reload(ctx); err != nil {
		return router.APIError(router.ErrReloadFailed, "",
			"The %s was saved, but the gateway could not reload its channels and prices (%v); calls keep the previous routing until a reload succeeds.", what, err)
	}
	return nil
}

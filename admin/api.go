// Package admin is Tollgate's operator API: JSON endpoints under /admin/api/v1 that
// manage tenants, credit, keys, channels and prices and read usage and the request
// log. Every route requires the admin token, and every error goes through
// router.WriteError so operators see the same error shape as API clients.
package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// Prefix is the path Register mounts the API under; the version in it lets a later,
// incompatible API live next to this one.
const Prefix = "/admin/api/v1"

// maxBodyBytes bounds an admin request body: no admin call needs more, and a bound
// keeps a stray upload from filling memory.
const maxBodyBytes = 1 << 20

// reloadTimeout bounds the Notifier.Reload that follows a change; the change is
// already stored, so a reload must not hang the operator's request forever.
const reloadTimeout = 30 * time.Second

// Notifier is told about changes that cached state elsewhere must see (the gateway's
// routing snapshot and key cache), so an admin change takes effect at once.
type Notifier interface {
	// Reload rebuilds cached channels and prices after they changed.
	Reload(ctx context.Context) error
	// ForgetKey drops a revoked key from every cache, so it is refused on its next call.
	ForgetKey(keyID string)
}

// API serves the admin endpoints over a store. It keeps no state of its own, so any
// number of gateway processes may serve it against the same database.
type API struct {
	store  *store.Store
	notify Notifier
	// allowPrivate admits channel base URLs on private addresses (see checkPrivate).
	allowPrivate bool
	// allowPrivateHooks admits low-balance alert URLs on private addresses.
	allowPrivateHooks bool
	publicURL         string // for invite links
	authorize         func(token string) bool
	now               func() time.Time
}

// New returns the admin API. authorize decides whether a bearer token is the admin
// credential (compare it in constant time); a nil authorize refuses every request.
// A nil Notifier is allowed for tools that have no caches to refresh.
func New(st *store.Store, n Notifier, authorize func(token string) bool) *API {
	if n == nil {
		n = nopNotifier{}
	}
	return &API{store: st, notify: n, authorize: authorize, now: time.Now}
}

type nopNotifier struct{}

func (nopNotifier) Reload(context.Context) error { return nil }
func (nopNotifier) ForgetKey(string)             {}

// AllowPrivateUpstreams lets channels point at private, loopback and link-local
// addresses, for operators who run a local model server; off by default.
func (a *API) AllowPrivateUpstreams(allow bool) *API {
	a.allowPrivate = allow
	return a
}

// Register mounts every admin route under Prefix on r, behind the admin token check.
func (a *API) Register(r gin.IRouter) {
	g := r.Group(Prefix, a.authenticate, noStore, Audit(a.store, func(*gin.Context) string { return "admin-token" }))

	g.POST("/tenants", a.handle(a.createTenant))
	g.GET("/tenants", a.handle(a.listTenants))
	g.GET("/tenants/:id", a.handle(a.getTenant))
	g.PATCH("/tenants/:id", a.handle(a.patchTenant))
	g.POST("/tenants/:id/topups", a.handle(a.topup))
	g.GET("/tenants/:id/ledger", a.handle(a.ledger))
	g.POST("/tenants/:id/keys", a.handle(a.createKey))
	g.GET("/tenants/:id/keys", a.handle(a.listKeys))

	g.GET("/keys/:id", a.handle(a.getKey))
	g.DELETE("/keys/:id", a.handle(a.revokeKey))
	g.PATCH("/keys/:id", a.handle(a.patchKey))

	g.POST("/channels", a.handle(a.createChannel))
	g.GET("/channels", a.handle(a.listChannels))
	g.GET("/channels/:id", a.handle(a.getChannel))
	g.PATCH("/channels/:id", a.handle(a.patchChannel))
	g.DELETE("/channels/:id", a.handle(a.deleteChannel))

	g.GET("/prices", a.handle(a.listPrices))
	g.GET("/prices/*model", a.handle(a.getPrice))
	g.PUT("/prices/*model", a.handle(a.putPrice))
	g.DELETE("/prices/*model", a.handle(a.deletePrice))

	g.GET("/usage", a.handle(a.usage))
	g.GET("/requests", a.handle(a.requests))
	g.GET("/holds", a.handle(a.holds))
	g.GET("/audit", a.handle(a.auditLog))
	a.registerPortal(g)
}

// authenticate admits a request only with the admin token as a bearer credential.
// The token is never echoed, not even a wrong one: error bodies end up in logs.
func (a *API) authenticate(c *gin.Context) {
	const how = "Send the admin token in the header `Authorization: Bearer <admin token>`."
	header := c.GetHeader("Authorization")
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	var err error
	switch {
	case header == "":
		err = router.APIError(router.ErrUnauthorized, "", "The admin API needs the admin token. %s", how)
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		err = router.APIError(router.ErrUnauthorized, "", "The Authorization header is not a bearer token. %s", how)
	case a.authorize == nil || !a.authorize(token):
		err = router.APIError(router.ErrUnauthorized, "", "The admin token is not valid. %s", how)
	}
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="tollgate-admin"`)
		router.WriteError(c, err)
		return
	}
	c.Next()
}

// noStore keeps admin answers (one of them carries a new API key) out of caches.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// handle adapts an error-returning handler: an error becomes the one JSON error
// body, and is attached to the gin context for whatever logs requests.
func (a *API) handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			_ = c.Error(err)
			router.WriteError(c, err)
		}
	}
}

// reload tells the gateway that channels or prices changed. The change is already
// stored when it fails, and the message says so, so the operator does not repeat it
// believing nothing happened.
func (a *API) reload(c *gin.Context, what string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), reloadTimeout)
	defer cancel()
	if err := a.notify.Reload(ctx); err != nil {
		return router.APIError(router.ErrReloadFailed, "",
			"The %s was stored, but the gateway could not reload its channels and prices (%v). Calls keep the previous routing until a reload succeeds: fix the cause, then repeat this request or restart the gateway.",
			what, err)
	}
	return nil
}

// notFound rewrites a store "not found" into a message that names what is missing
// and how to find valid ids; other errors pass unchanged.
func notFound(err error, what, id, listHint string) error {
	if errors.Is(err, store.ErrNotFound) {
		return router.APIError(store.ErrNotFound, "", "No %s with id %q exists. %s", what, id, listHint)
	}
	return err
}

// tenantHint is where an operator finds tenant ids.
const tenantHint = "List tenants with GET " + Prefix + "/tenants."

// invalid builds a 400 for one request parameter.
func invalid(param, format string, args ...any) error {
	return router.APIError(router.ErrInvalidRequest, param, format, args...)
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int64) (int64, error) {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, invalid(name, "%s must be a whole number from %d to %d.", name, lo, hi)
	}
	return v, nil
}

// maxPage is the largest page any list answers, matching the store's own cap so a
// full page reliably means "there may be more".
const maxPage = 1000

// pageLimit reads ?limit= for a paged list.
func pageLimit(c *gin.Context, def int64) (int, error) {
	v, err := queryInt(c, "limit", def, 1, maxPage)
	return int(v), err
}

// nextBefore is the cursor for the page after one ending at lastID, or nil when the
// page was not full and so was the last.
func nextBefore(n, limit int, lastID int64) *int64 {
	if n < limit || n == 0 {
		return nil
	}
	return &lastID
}

// stamp formats a store timestamp (Unix ms) as RFC 3339 in UTC.
func stamp(ms int64) string { return store.Millis(ms).Format(time.RFC3339Nano) }

// optStamp is stamp for a timestamp that may be unset (0), which becomes null.
func optStamp(ms int64) *string {
	if ms == 0 {
		return nil
	}
	s := stamp(ms)
	return &s
}

// parseTime reads a from/to bound: RFC 3339, or a bare date meaning midnight UTC.
// A bare date given as an exclusive upper bound ("to") includes that whole day,
// because that is what an operator typing to=2025-01-31 means.
func parseTime(param, s string, upper bool) (time.Time, error) {
	// An unencoded "+02:00" in a query string arrives as " 02:00"; take it as meant.
	s = strings.ReplaceAll(s, " ", "+")
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Time{}, invalid(param, "%s must be an RFC 3339 time such as 2025-01-31T09:00:00Z or a date such as 2025-01-31 (UTC).", param)
}

// timeRange reads the optional ?from= and ?to= query parameters, half-open [from, to).
func timeRange(c *gin.Context) (from, to time.Time, err error) {
	if s := c.Query("from"); s != "" {
		if from, err = parseTime("from", s, false); err != nil {
			return
		}
	}
	if s := c.Query("to"); s != "" {
		if to, err = parseTime("to", s, true); err != nil {
			return
		}
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		err = invalid("to", "to (%s) must be after from (%s).", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return
}

// shorten cuts user input that is echoed in a message to a readable length.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkText refuses a required or length-bounded text field with a message naming
// it; the dashboard's and the portal's forms apply the same rule.
func checkText(param, s string, required bool, maxLen int) error {
	return webui.CheckText(param, s, required, maxLen)
}

// created answers 201 with a body, so every create endpoint answers alike.
func created(c *gin.Context, body any) error {
	c.JSON(http.StatusCreated, body)
	return nil
}

package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/web"
	"github.com/tollgate-gw/tollgate/webui"
)

// view is what every page template gets: the layout's needs plus the screen's data.
type view = webui.View

// assets are the static files the layout links (webui refuses to start without one).
var assets = webui.Assets

// site is the dashboard as a webui site: its prefix, cookie names and pages.
var site = &webui.Site{Prefix: UIPrefix, Cookie: "tollgate"}

// parsePages parses the dashboard's layout and partials once, then each page of
// pages/ on a clone of them.
func parsePages() (webui.Pages, error) {
	return webui.ParsePages(web.Templates(), site.Funcs(), []string{"layout.html", "partials/*.html"}, "pages/*.html")
}

// assetURL is a static file's URL carrying its checksum, so it can be cached forever.
func assetURL(name string) string { return site.AssetURL(name) }

// render writes a page with the session's user and CSRF token filled in.
func (u *UI) render(c *gin.Context, status int, page string, v view) {
	if s, ok := sessionOf(c); ok {
		v.User, v.CSRF = s.email, s.csrf
	}
	u.site.Render(c, status, page, v)
}

// renderFragment writes one named block of a page, for htmx to swap in.
func (u *UI) renderFragment(c *gin.Context, status int, page, block string, data any) {
	u.site.RenderFragment(c, status, page, block, data)
}

// isHTMX says whether htmx sent the request (it then wants a fragment).
func isHTMX(c *gin.Context) bool { return webui.IsHTMX(c) }

// fail renders the error page for a failed request.
func (u *UI) fail(c *gin.Context, err error) {
	_ = c.Error(err)
	status := webui.StatusOf(err)
	u.render(c, status, "error", view{Title: http.StatusText(status), Data: errorPage{Status: status, Message: webui.UserMessage(err)}})
}

type errorPage = webui.ErrorPage

// redirect answers a form post with 303 to a page (and a flash message for it).
func redirect(c *gin.Context, to, flash string) { site.Redirect(c, to, flash) }

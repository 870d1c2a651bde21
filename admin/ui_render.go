package admin

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/web"
)

// view is what every page template gets: the layout's needs plus the screen's data.
type view struct {
	Title     string
	Nav       string // the navigation entry to mark as current
	User      string // the signed-in admin's email; empty on sign-in pages
	CSRF      string
	Flash     string
	FlashKind string // "ok" or "error"
	Data      any
}

// assets are the static files the layout links; NewUI refuses to start when one is
// missing, so a page never links a file that is not there.
var assets = []string{"tollgate.css", "tollgate.js", "vendor/htmx/htmx.min.js", "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css"}

// parsePages parses layout and partials once, then each page on a clone of them.
func parsePages() (map[string]*template.Template, error) {
	for _, a := range assets {
		if web.Checksum(a) == "" {
			return nil, fmt.Errorf("static asset %s is missing", a)
		}
	}
	fsys := web.Templates()
	base, err := template.New("").Funcs(templateFuncs).ParseFS(fsys, "layout.html", "partials/*.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(fsys, n); err != nil {
			return nil, err
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("%s defines no \"content\" template", n)
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return pages, nil
}

// templateFuncs are the helpers templates format with.
var templateFuncs = template.FuncMap{
	"asset":   assetURL,
	"money":   moneyHTML,
	"usd":     usdText,
	"when":    whenHTML,
	"num":     formatInt,
	"pct":     formatPercent,
	"ms":      millisOf,
	"query":   queryWith,
	"join":    strings.Join,
	"add":     func(a, b int) int { return a + b },
	"addf":    func(a, b float64) float64 { return a + b },
	"statusc": statusClass,
	"fld":     newField,
	"chartOf": func(id, label string, data chartData) chartView { return chartView{ID: id, Label: label, Data: data} },
}

// fieldView is what the "input" and "textarea" partials render: one form field.
type fieldView struct {
	Form  *form
	Name  string
	Label string
	Type  string
	Hint  string
}

func newField(f *form, name, label, typ, hint string) fieldView {
	return fieldView{Form: f, Name: name, Label: label, Type: typ, Hint: hint}
}

// chartView is what the "chart" partial renders: a uPlot chart and its data.
type chartView struct {
	ID    string
	Label string
	Data  chartData
}

// millisOf formats a latency given as int64 or float64 milliseconds.
func millisOf(v any) string {
	switch x := v.(type) {
	case int64:
		return formatMillis(float64(x))
	case float64:
		return formatMillis(x)
	case int:
		return formatMillis(float64(x))
	}
	return fmt.Sprint(v)
}

// assetURL is a static file's URL carrying its checksum, so it can be cached forever.
func assetURL(name string) string {
	return UIPrefix + "/static/" + web.Checksum(name) + "/" + name
}

// render writes a page (or, for an htmx request that asks for a fragment, just the
// named block of it) with the session's user and CSRF token filled in.
func (u *UI) render(c *gin.Context, status int, page string, v view) {
	t, ok := u.pages[page]
	if !ok {
		panic("admin: no page template " + page)
	}
	if s, ok := sessionOf(c); ok {
		v.User, v.CSRF = s.email, s.csrf
	} else if v.CSRF == "" {
		v.CSRF = c.GetString(ctxAnonCSRF)
	}
	if v.Flash == "" {
		v.Flash, v.FlashKind = takeFlash(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "The page could not be rendered; the error is in the gateway's log.")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// renderFragment writes one named block of a page, for htmx to swap in.
func (u *UI) renderFragment(c *gin.Context, status int, page, block string, data any) {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, block, data); err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "The fragment could not be rendered.")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// isHTMX says whether htmx sent the request (it then wants a fragment).
func isHTMX(c *gin.Context) bool { return c.GetHeader("HX-Request") == "true" }

// fail renders the error page for a failed request.
func (u *UI) fail(c *gin.Context, err error) {
	_ = c.Error(err)
	status := statusOf(err)
	u.render(c, status, "error", view{Title: http.StatusText(status), Data: errorPage{Status: status, Message: userMessage(err)}})
}

type errorPage struct {
	Status  int
	Message string
}

// userMessage is an error as an operator should read it: the API error's own
// sentence, or a store error without its sentinel prefix.
func userMessage(err error) string {
	var re *router.RequestError
	switch {
	case errors.As(err, &re):
		return re.Message
	case errors.Is(err, store.ErrUnavailable):
		return "The database is unavailable right now, so nothing was changed. Try again shortly."
	}
	msg := err.Error()
	for _, s := range []error{store.ErrInvalid, store.ErrConflict, store.ErrNotFound} {
		msg = strings.TrimPrefix(msg, s.Error()+": ")
	}
	if msg == "" {
		return "Something went wrong."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// redirect answers a form post with 303 to a page (and a flash message for it).
func redirect(c *gin.Context, to, flash string) {
	if flash != "" {
		setFlash(c, flash)
	}
	c.Redirect(http.StatusSeeOther, to)
}

// queryWith returns "?…" with the page's query parameters changed: pairs of name,
// value; an empty value removes the parameter.
func queryWith(q url.Values, pairs ...string) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			out.Del(pairs[i])
		} else {
			out.Set(pairs[i], pairs[i+1])
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}

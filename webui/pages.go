// Package webui is what Tollgate's two server-rendered sites share — the operator
// dashboard (admin) and the tenant portal (portal): template parsing and rendering,
// forms and their errors, money and time formatting, charts, cookies, CSRF tokens,
// flash messages, security headers and the embedded static assets. Keeping it in one
// place gives both sites one look and one set of safety rules.
package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/web"
)

// View is what every page template gets: the layout's needs plus the screen's data.
type View struct {
	Title     string
	Nav       string // the navigation entry to mark as current
	User      string // the signed-in user's email; empty on sign-in pages
	Account   string // whose data the page shows (the tenant's name in the portal)
	CSRF      string
	Flash     string
	FlashKind string // "ok" or "error"
	Data      any
}

// Assets are the static files the layouts link; ParsePages refuses to start when
// one is missing, so a page never links a file that is not there.
var Assets = []string{"tollgate.css", "tollgate.js", "vendor/htmx/htmx.min.js", "vendor/uplot/uPlot.iife.min.js", "vendor/uplot/uPlot.min.css"}

// Pages are a site's parsed screens by name (the file name without .html).
type Pages map[string]*template.Template

// ParsePages parses the shared files (a layout and partials, as globs) once, then
// each file matching pageGlob on a clone of them; every page must define "content".
func ParsePages(fsys fs.FS, funcs template.FuncMap, shared []string, pageGlob string) (Pages, error) {
	for _, a := range Assets {
		if web.Checksum(a) == "" {
			return nil, fmt.Errorf("static asset %s is missing", a)
		}
	}
	base, err := template.New("").Funcs(funcs).ParseFS(fsys, shared...)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, pageGlob)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no page matches %s", pageGlob)
	}
	pages := Pages{}
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

// FieldView is what the "input" and "textarea" partials render: one form field.
type FieldView struct {
	Form  *Form
	Name  string
	Label string
	Type  string
	Hint  string
}

// ChartView is what the "chart" partial renders: a uPlot chart and its data.
type ChartView struct {
	ID    string
	Label string
	Data  ChartData
}

// Funcs are the helpers templates format with; asset links a static file under the
// site's own prefix.
func (s *Site) Funcs() template.FuncMap {
	return template.FuncMap{
		"asset":   s.AssetURL,
		"money":   Money,
		"usd":     USD,
		"when":    When,
		"num":     Int,
		"pct":     Percent,
		"ms":      MillisOf,
		"query":   QueryWith,
		"join":    strings.Join,
		"add":     func(a, b int) int { return a + b },
		"addf":    func(a, b float64) float64 { return a + b },
		"statusc": StatusClass,
		"fld": func(f *Form, name, label, typ, hint string) FieldView {
			return FieldView{Form: f, Name: name, Label: label, Type: typ, Hint: hint}
		},
		"chartOf": func(id, label string, data ChartData) ChartView { return ChartView{ID: id, Label: label, Data: data} },
	}
}

// MillisOf formats a latency given as int64 or float64 milliseconds.
func MillisOf(v any) string {
	switch x := v.(type) {
	case int64:
		return Millis(float64(x))
	case float64:
		return Millis(x)
	case int:
		return Millis(float64(x))
	}
	return fmt.Sprint(v)
}

// AssetURL is a static file's URL under the site, carrying its checksum, so it can
// be cached forever.
func (s *Site) AssetURL(name string) string {
	return s.Prefix + "/static/" + web.Checksum(name) + "/" + name
}

// Render writes a page (the "layout" template around the page's "content"). The
// caller fills in the session's user and CSRF token; a pending flash message is
// taken here.
func (s *Site) Render(c *gin.Context, status int, page string, v View) {
	t, ok := s.Pages[page]
	if !ok {
		panic("webui: no page template " + page)
	}
	if v.CSRF == "" {
		v.CSRF = c.GetString(s.anonKey())
	}
	if v.Flash == "" {
		v.Flash, v.FlashKind = s.TakeFlash(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "The page could not be rendered; the error is in the gateway's log.")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// RenderFragment writes one named block of a page, for htmx to swap in.
func (s *Site) RenderFragment(c *gin.Context, status int, page, block string, data any) {
	var buf bytes.Buffer
	if err := s.Pages[page].ExecuteTemplate(&buf, block, data); err != nil {
		_ = c.Error(err)
		c.String(http.StatusInternalServerError, "The fragment could not be rendered.")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// IsHTMX says whether htmx sent the request (it then wants a fragment).
func IsHTMX(c *gin.Context) bool { return c.GetHeader("HX-Request") == "true" }

// ErrorPage is the data of the "error" page every site has.
type ErrorPage struct {
	Status  int
	Message string
}

// Redirect answers a form post with 303 to a page (and a flash message for it).
func (s *Site) Redirect(c *gin.Context, to, flash string) {
	if flash != "" {
		s.SetFlash(c, flash)
	}
	c.Redirect(http.StatusSeeOther, to)
}

// QueryWith returns "?…" with the page's query parameters changed: pairs of name,
// value; an empty value removes the parameter.
func QueryWith(q url.Values, pairs ...string) string {
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

package webui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/web"
)

// CSRFField is the hidden field every form carries its CSRF token in; CSRFHeader
// carries the same token on htmx requests.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// Site is one server-rendered site under a path prefix: its pages, and cookies
// scoped to that prefix and named after Cookie, so the dashboard's and the portal's
// sessions, flash messages and sign-in tokens never mix.
type Site struct {
	Prefix string // e.g. "/admin"; cookies are sent only under it
	Cookie string // cookie name stem, e.g. "tollgate" → tollgate_session
	Pages  Pages
}

// SessionCookie names the cookie holding the session id (only its digest is stored).
func (s *Site) SessionCookie() string { return s.Cookie + "_session" }

func (s *Site) anonCookie() string  { return s.Cookie + "_csrf" }
func (s *Site) flashCookie() string { return s.Cookie + "_flash" }
func (s *Site) anonKey() string     { return "webui.anon_csrf." + s.Cookie }

// Secure says whether cookies must be Secure: the request came over TLS, directly
// or through a proxy that says so.
func Secure(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// SetCookie sets an HttpOnly, SameSite=Lax cookie scoped to the site's prefix;
// maxAge 0 makes it a browser-session cookie, -1 deletes it.
func (s *Site) SetCookie(c *gin.Context, name, value string, maxAge int) {
	// #nosec G124 -- Secure whenever the request came over HTTPS (see Secure); the gateway
	// itself serves plain HTTP, where a Secure cookie would never come back.
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: s.Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: Secure(c)})
}

// CSRFFor derives a session's CSRF token from its secret id, so it needs no storage
// and cannot be guessed by a page that does not hold the session cookie. purpose
// keeps the tokens of different sites apart.
func CSRFFor(sessionID, purpose string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CSRFValid compares the token a request sent (header or form field) with want, in
// constant time.
func CSRFValid(c *gin.Context, want string) bool {
	sent := c.GetHeader(CSRFHeader)
	if sent == "" {
		sent = c.PostForm(CSRFField)
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

// AnonCSRF returns the token of the forms shown before sign-in, setting its cookie
// when absent: such a form is accepted only when it sends back the cookie's value
// (double submit).
func (s *Site) AnonCSRF(c *gin.Context) string {
	if v, err := c.Cookie(s.anonCookie()); err == nil && len(v) >= 32 {
		c.Set(s.anonKey(), v)
		return v
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	s.SetCookie(c, s.anonCookie(), v, 0)
	c.Set(s.anonKey(), v)
	return v
}

// AnonCSRFValid checks a pre-sign-in form's token against its cookie.
func (s *Site) AnonCSRFValid(c *gin.Context) bool {
	cookie, err := c.Cookie(s.anonCookie())
	return err == nil && cookie != "" && subtle.ConstantTimeCompare([]byte(cookie), []byte(c.PostForm(CSRFField))) == 1
}

// ClearAnonCSRF drops the pre-sign-in token once a session exists.
func (s *Site) ClearAnonCSRF(c *gin.Context) { s.SetCookie(c, s.anonCookie(), "", -1) }

// SetFlash leaves a message for the next page the browser shows; one starting with
// "!" is an error.
func (s *Site) SetFlash(c *gin.Context, msg string) {
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	// #nosec G124 -- Secure whenever the request came over HTTPS (see Secure); the gateway
	// itself serves plain HTTP, where a Secure cookie would never come back.
	http.SetCookie(c.Writer, &http.Cookie{Name: s.flashCookie(), Value: url.QueryEscape(msg), Path: s.Prefix,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: Secure(c)})
}

// TakeFlash reads and clears the flash message and says whether it is an error.
func (s *Site) TakeFlash(c *gin.Context) (msg, kind string) {
	v, err := c.Cookie(s.flashCookie())
	if err != nil || v == "" {
		return "", ""
	}
	// #nosec G124 -- Secure whenever the request came over HTTPS (see Secure); the gateway
	// itself serves plain HTTP, where a Secure cookie would never come back.
	http.SetCookie(c.Writer, &http.Cookie{Name: s.flashCookie(), Value: "", Path: s.Prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: Secure(c)})
	if strings.HasPrefix(v, "!") {
		return v[1:], "error"
	}
	return v, "ok"
}

// ThrottleSubject is whom a sign-in rate limit counts: the client address together
// with what was tried (an email, a scope), as a digest, so no address or email is
// stored. The address is the connection's own, or what X-Forwarded-For says when the
// connection comes from a proxy the operator trusts (TOLLGATE_TRUSTED_PROXIES): from
// anyone else the header could be varied at will.
func ThrottleSubject(c *gin.Context, scope, email string) string {
	sum := sha256.Sum256([]byte(scope + c.ClientIP() + "\n" + strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// SecurityHeaders keeps pages out of frames and caches and lets the browser load
// only the site's own scripts and styles.
func SecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// LimitBody bounds what a form post may send.
func LimitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// Static serves an embedded asset at <prefix>/static/:sum/*file. Its URL carries the
// file's checksum, so a hit is cached for a year; a stale checksum (a page from
// before an upgrade) still gets the current file, but uncached, so it never pins an
// old version.
func Static(c *gin.Context) {
	name := strings.TrimPrefix(path.Clean(c.Param("file")), "/")
	sum := web.Checksum(name)
	data, err := fs.ReadFile(web.Static(), name)
	if sum == "" || err != nil {
		c.String(http.StatusNotFound, "no such asset")
		return
	}
	h := c.Writer.Header()
	h.Del("Content-Security-Policy")
	if c.Param("sum") == sum {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+sum+`"`)
	if match := c.GetHeader("If-None-Match"); match == `"`+sum+`"` {
		c.Status(http.StatusNotModified)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case "":
		ctype = "text/plain; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Data(http.StatusOK, ctype, data)
}

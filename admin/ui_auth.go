package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// Names of the dashboard's sign-in machinery (webui scopes the cookies to UIPrefix).
const (
	sessionCookie = "tollgate_session" // the session id; only its digest is stored
	csrfField     = webui.CSRFField    // hidden field in every form
	ctxSession    = "tollgate.ui.session"
	csrfPurpose   = "tollgate dashboard csrf"
)

// uiSession is the signed-in admin as handlers see it.
type uiSession struct {
	id    string // the cookie's session id
	email string
	csrf  string
}

func sessionOf(c *gin.Context) (uiSession, bool) {
	v, ok := c.Get(ctxSession)
	if !ok {
		return uiSession{}, false
	}
	s, ok := v.(uiSession)
	return s, ok
}

// sessionActor names the signed-in admin in the audit log, as "user:<email>"; a post
// refused for want of a session is "anonymous".
func sessionActor(c *gin.Context) string {
	if s, ok := sessionOf(c); ok {
		return "user:" + s.email
	}
	return "anonymous"
}

// csrfFor derives a session's CSRF token from its secret id.
func csrfFor(sessionID string) string { return webui.CSRFFor(sessionID, csrfPurpose) }

func (u *UI) setCookie(c *gin.Context, name, value string, maxAge int) {
	u.site.SetCookie(c, name, value, maxAge)
}

// requireSession admits a request with a live session, refreshes the session when
// half of it is used up, and checks the CSRF token of every request that changes
// something. Without a session, pages redirect to the sign-in form.
func (u *UI) requireSession(c *gin.Context) {
	id, _ := c.Cookie(sessionCookie)
	now := u.now()
	var sess store.AdminSession
	err := errors.New("no session")
	if id != "" {
		sess, err = u.store.Session(c.Request.Context(), id, now)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && id != "" {
		u.fail(c, err)
		c.Abort()
		return
	}
	if err != nil {
		to := UIPrefix + "/login"
		if c.Request.Method == http.MethodGet && !isHTMX(c) {
			to += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		if isHTMX(c) {
			c.Header("HX-Redirect", to)
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Redirect(http.StatusSeeOther, to)
		c.Abort()
		return
	}
	if sess.Expires().Sub(now) < sessionTTL/2 {
		if err := u.store.ExtendSession(c.Request.Context(), id, now.Add(sessionTTL)); err == nil {
			u.setCookie(c, sessionCookie, id, int(sessionTTL/time.Second))
		}
	}
	s := uiSession{id: id, email: sess.Email, csrf: csrfFor(id)}
	c.Set(ctxSession, s)
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		if !webui.CSRFValid(c, s.csrf) {
			u.render(c, http.StatusForbidden, "error", view{Title: "Forbidden", Data: errorPage{Status: http.StatusForbidden,
				Message: "This form has expired or did not come from the dashboard (its security token does not match). Reload the page and try again."}})
			c.Abort()
			return
		}
	}
	c.Next()
}

// anonCSRF returns the sign-in forms' double-submit token, setting its cookie.
func (u *UI) anonCSRF(c *gin.Context) string { return u.site.AnonCSRF(c) }

func (u *UI) anonCSRFValid(c *gin.Context) bool { return u.site.AnonCSRFValid(c) }

// loginView is the sign-in page: the sign-in form, or while no admin user exists,
// the form that trades the admin token for the first user.
type loginView struct {
	Bootstrap bool
	Next      string
	Form      *webui.Form
}

// safeNext keeps a post-sign-in redirect inside the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, UIPrefix+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") &&
		!strings.HasPrefix(next, UIPrefix+"/login") {
		return next
	}
	return UIPrefix + "/"
}

func (u *UI) loginPage(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		if _, err := u.store.Session(c.Request.Context(), id, u.now()); err == nil {
			c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
			return
		}
	}
	u.showLogin(c, http.StatusOK, webui.NewForm())
}

func (u *UI) showLogin(c *gin.Context, status int, f *webui.Form) {
	n, err := u.store.AdminUserCount(c.Request.Context())
	if err != nil {
		u.fail(c, err)
		return
	}
	next := c.Query("next")
	if v := f.Get("next"); v != "" {
		next = v
	}
	u.anonCSRF(c)
	title := "Sign in"
	if n == 0 {
		title = "Create the first admin"
	}
	u.render(c, status, "login", view{Title: title, Data: loginView{Bootstrap: n == 0, Next: next, Form: f}})
}

// throttleSubject is whom a rate limit counts: the client address together with
// the email tried, as a digest (no addresses or emails in the table).
func throttleSubject(c *gin.Context, email string) string { return webui.ThrottleSubject(c, "", email) }

// throttled answers 429 when the subject failed too often lately and says when to
// come back; it reports whether it answered.
func (u *UI) throttled(c *gin.Context, subject string, f *webui.Form) bool {
	now := u.now()
	n, oldest, err := u.store.LoginFailures(c.Request.Context(), subject, now.Add(-loginWindow))
	if err != nil {
		u.fail(c, err)
		return true
	}
	if n < loginLimit {
		return false
	}
	wait := max(oldest.Add(loginWindow).Sub(now), time.Second)
	c.Header("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	f.Error = "Too many failed attempts from this address for this account. Try again in " +
		strconv.Itoa(int((wait+time.Minute-1)/time.Minute)) + " min."
	u.showLogin(c, http.StatusTooManyRequests, f)
	return true
}

func (u *UI) login(c *gin.Context) {
	f := webui.PostedForm(c)
	f.Values.Del("password")
	if !u.anonCSRFValid(c) {
		f.Error = "The sign-in form expired. Please try again."
		u.showLogin(c, http.StatusForbidden, f)
		return
	}
	email, password := c.PostForm("email"), c.PostForm("password")
	subject := throttleSubject(c, email)
	if u.throttled(c, subject, f) {
		return
	}
	ctx := c.Request.Context()
	user, err := u.store.AuthenticateAdmin(ctx, email, password)
	if errors.Is(err, store.ErrBadCredentials) {
		if err := u.store.RecordLoginFailure(ctx, subject, u.now(), loginWindow); err != nil {
			u.fail(c, err)
			return
		}
		f.Error = "Wrong email or password."
		u.showLogin(c, http.StatusUnauthorized, f)
		return
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	_ = u.store.ClearLoginFailures(ctx, subject)
	u.startSession(c, user.ID, c.PostForm("next"))
}

func (u *UI) startSession(c *gin.Context, userID, next string) {
	id, _, err := u.store.CreateSession(c.Request.Context(), userID, sessionTTL)
	if err != nil {
		u.fail(c, err)
		return
	}
	u.setCookie(c, sessionCookie, id, int(sessionTTL/time.Second))
	u.site.ClearAnonCSRF(c)
	c.Redirect(http.StatusSeeOther, safeNext(next))
}

// setup trades the admin token for the first admin user, once, while there is none.
func (u *UI) setup(c *gin.Context) {
	f := webui.PostedForm(c)
	for _, secret := range []string{"admin_token", "password", "confirm"} {
		f.Values.Del(secret)
	}
	if !u.anonCSRFValid(c) {
		f.Error = "The form expired. Please try again."
		u.showLogin(c, http.StatusForbidden, f)
		return
	}
	subject := throttleSubject(c, "setup")
	if u.throttled(c, subject, f) {
		return
	}
	ctx := c.Request.Context()
	token, email, password := strings.TrimSpace(c.PostForm("admin_token")), c.PostForm("email"), c.PostForm("password")
	if u.authorize == nil || token == "" || !u.authorize(token) {
		if err := u.store.RecordLoginFailure(ctx, subject, u.now(), loginWindow); err != nil {
			u.fail(c, err)
			return
		}
		f.SetField("admin_token", "This is not the admin token. It was printed once when the gateway first started, or set with TOLLGATE_ADMIN_TOKEN.")
		u.showLogin(c, http.StatusUnauthorized, f)
		return
	}
	if _, err := store.NormalizeEmail(email); err != nil {
		f.SetField("email", webui.UserMessage(err))
	}
	if err := store.CheckPassword(password); err != nil {
		f.SetField("password", webui.UserMessage(err))
	} else if password != c.PostForm("confirm") {
		f.SetField("confirm", "The two passwords differ.")
	}
	if f.Failed() {
		u.showLogin(c, http.StatusBadRequest, f)
		return
	}
	user, err := u.store.CreateFirstAdminUser(ctx, email, password)
	if err != nil {
		status := f.Fail(err, "email")
		u.showLogin(c, status, f)
		return
	}
	_ = u.store.ClearLoginFailures(ctx, subject)
	// Recorded by hand: the audit middleware would log the form, and its "confirm"
	// field is the password.
	_ = u.store.Audit(ctx, store.AuditEntry{Actor: "admin-token", Action: "POST " + UIPrefix + "/setup", Target: user.ID,
		Detail: map[string]string{"email": user.Email}, Remote: c.ClientIP(), Status: http.StatusSeeOther})
	u.startSession(c, user.ID, "")
}

func (u *UI) logout(c *gin.Context) {
	s, _ := sessionOf(c)
	if err := u.store.DeleteSession(c.Request.Context(), s.id); err != nil {
		u.fail(c, err)
		return
	}
	u.setCookie(c, sessionCookie, "", -1)
	redirect(c, UIPrefix+"/login", "Signed out.")
}

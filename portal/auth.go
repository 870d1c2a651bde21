package portal

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

// session is the signed-in tenant user as handlers see it: the tenant every screen
// is scoped to comes from here and nowhere else.
type session struct {
	store.TenantSession
	id   string
	csrf string
}

func sessionOf(c *gin.Context) (session, bool) {
	v, ok := c.Get(ctxSession)
	if !ok {
		return session{}, false
	}
	s, ok := v.(session)
	return s, ok
}

// tenantOf is the signed-in user's tenant id; handlers behind requireSession only.
func tenantOf(c *gin.Context) string {
	s, _ := sessionOf(c)
	return s.TenantID
}

// requireSession admits a request with a live tenant session, refreshes the session
// when half of it is used up, and checks the CSRF token of every request that
// changes something. Without a session, screens redirect to the sign-in form.
func (p *Portal) requireSession(c *gin.Context) {
	id, _ := c.Cookie(p.site.SessionCookie())
	now := p.now()
	var sess store.TenantSession
	err := errors.New("no session")
	if id != "" {
		sess, err = p.store.TenantSession(c.Request.Context(), id, now)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && id != "" {
		p.fail(c, err)
		c.Abort()
		return
	}
	if err != nil {
		to := Prefix + "/login"
		if c.Request.Method == http.MethodGet {
			to += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		c.Redirect(http.StatusSeeOther, to)
		c.Abort()
		return
	}
	if sess.Expires().Sub(now) < sessionTTL/2 {
		if err := p.store.ExtendTenantSession(c.Request.Context(), id, now.Add(sessionTTL)); err == nil {
			p.site.SetCookie(c, p.site.SessionCookie(), id, int(sessionTTL/time.Second))
		}
	}
	s := session{TenantSession: sess, id: id, csrf: webui.CSRFFor(id, csrfPurpose)}
	c.Set(ctxSession, s)
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead && !webui.CSRFValid(c, s.csrf) {
		p.render(c, http.StatusForbidden, "error", webui.View{Title: "Forbidden", Data: webui.ErrorPage{Status: http.StatusForbidden,
			Message: "This form has expired or did not come from the portal (its security token does not match). Reload the page and try again."}})
		c.Abort()
		return
	}
	c.Next()
}

// loginView is the sign-in page.
type loginView struct {
	Next string
	Form *webui.Form
}

// safeNext keeps a post-sign-in redirect inside the portal.
func safeNext(next string) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") &&
		!strings.HasPrefix(next, Prefix+"/login") && !strings.HasPrefix(next, Prefix+"/invite") {
		return next
	}
	return Prefix + "/"
}

func (p *Portal) loginPage(c *gin.Context) {
	if id, err := c.Cookie(p.site.SessionCookie()); err == nil && id != "" {
		if _, err := p.store.TenantSession(c.Request.Context(), id, p.now()); err == nil {
			c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
			return
		}
	}
	p.showLogin(c, http.StatusOK, webui.NewForm())
}

func (p *Portal) showLogin(c *gin.Context, status int, f *webui.Form) {
	next := c.Query("next")
	if v := f.Get("next"); v != "" {
		next = v
	}
	p.site.AnonCSRF(c)
	p.render(c, status, "login", webui.View{Title: "Sign in", Data: loginView{Next: next, Form: f}})
}

// throttled answers 429 when a subject failed too often lately and says when to
// come back; it reports whether it answered.
func (p *Portal) throttled(c *gin.Context, subject string, limit int64) (bool, time.Duration, error) {
	now := p.now()
	n, oldest, err := p.store.LoginFailures(c.Request.Context(), subject, now.Add(-loginWindow))
	if err != nil || n < limit {
		return false, 0, err
	}
	wait := max(oldest.Add(loginWindow).Sub(now), time.Second)
	c.Header("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	return true, wait, nil
}

func waitText(wait time.Duration) string {
	return strconv.Itoa(int((wait+time.Minute-1)/time.Minute)) + " min"
}

func (p *Portal) login(c *gin.Context) {
	f := webui.PostedForm(c)
	f.Values.Del("password")
	if !p.site.AnonCSRFValid(c) {
		f.Error = "The sign-in form expired. Please try again."
		p.showLogin(c, http.StatusForbidden, f)
		return
	}
	email, password := c.PostForm("email"), c.PostForm("password")
	subject := webui.ThrottleSubject(c, "portal\n", email)
	if stop, wait, err := p.throttled(c, subject, loginLimit); err != nil {
		p.fail(c, err)
		return
	} else if stop {
		f.Error = "Too many failed attempts from this address for this account. Try again in " + waitText(wait) + "."
		p.showLogin(c, http.StatusTooManyRequests, f)
		return
	}
	ctx := c.Request.Context()
	user, err := p.store.AuthenticateTenantUser(ctx, email, password)
	if errors.Is(err, store.ErrBadCredentials) {
		if err := p.store.RecordLoginFailure(ctx, subject, p.now(), loginWindow); err != nil {
			p.fail(c, err)
			return
		}
		f.Error = "Wrong email or password."
		p.showLogin(c, http.StatusUnauthorized, f)
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	_ = p.store.ClearLoginFailures(ctx, subject)
	p.startSession(c, user.ID, c.PostForm("next"))
}

func (p *Portal) startSession(c *gin.Context, userID, next string) {
	id, err := p.store.CreateTenantSession(c.Request.Context(), userID, sessionTTL)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.site.SetCookie(c, p.site.SessionCookie(), id, int(sessionTTL/time.Second))
	p.site.ClearAnonCSRF(c)
	c.Redirect(http.StatusSeeOther, safeNext(next))
}

func (p *Portal) logout(c *gin.Context) {
	s, _ := sessionOf(c)
	if err := p.store.DeleteTenantSession(c.Request.Context(), s.id); err != nil {
		p.fail(c, err)
		return
	}
	p.site.SetCookie(c, p.site.SessionCookie(), "", -1)
	p.site.Redirect(c, Prefix+"/login", "Signed out.")
}

// inviteView is the page where an invited person chooses a password.
type inviteView struct {
	Token      string
	Email      string
	TenantName string
	Expires    int64
	Form       *webui.Form
}

// inviteGone is the answer to an unknown, used or expired invite link.
const inviteGone = "This invite link is unknown, was already used, or has expired. Ask your operator for a new one."

func (p *Portal) invitePage(c *gin.Context) {
	p.showInvite(c, http.StatusOK, webui.NewForm())
}

func (p *Portal) showInvite(c *gin.Context, status int, f *webui.Form) {
	ctx := c.Request.Context()
	token := c.Param("token")
	inv, err := p.store.InviteByToken(ctx, token, p.now())
	if errors.Is(err, store.ErrNotFound) {
		p.render(c, http.StatusNotFound, "error", webui.View{Title: "Invite not valid", Data: webui.ErrorPage{Status: http.StatusNotFound, Message: inviteGone}})
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	t, err := p.store.Tenant(ctx, inv.TenantID)
	if err != nil {
		p.fail(c, err)
		return
	}
	// The token is in the URL; keep it out of Referer headers of anything linked.
	c.Header("Referrer-Policy", "no-referrer")
	p.site.AnonCSRF(c)
	p.render(c, status, "invite", webui.View{Title: "Join " + t.Name,
		Data: inviteView{Token: token, Email: inv.Email, TenantName: t.Name, Expires: inv.ExpiresAt, Form: f}})
}

// acceptInvite sets the invited user's password, uses the invite up and signs the
// user in.
func (p *Portal) acceptInvite(c *gin.Context) {
	f := webui.NewForm()
	if !p.site.AnonCSRFValid(c) {
		f.Error = "The form expired. Please try again."
		p.showInvite(c, http.StatusForbidden, f)
		return
	}
	password := c.PostForm("password")
	if err := store.CheckPassword(password); err != nil {
		f.SetField("password", webui.UserMessage(err))
	} else if password != c.PostForm("confirm") {
		f.SetField("confirm", "The two passwords differ.")
	}
	if f.Failed() {
		p.showInvite(c, http.StatusBadRequest, f)
		return
	}
	user, err := p.store.AcceptInvite(c.Request.Context(), c.Param("token"), password)
	if errors.Is(err, store.ErrNotFound) {
		p.render(c, http.StatusNotFound, "error", webui.View{Title: "Invite not valid", Data: webui.ErrorPage{Status: http.StatusNotFound, Message: inviteGone}})
		return
	}
	if err != nil {
		p.showInvite(c, f.Fail(err, "password"), f)
		return
	}
	p.log.Info("tenant user joined through an invite", "tenant_id", user.TenantID, "user_id", user.ID)
	p.startSession(c, user.ID, "")
}

package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// portalAccess is the tenant page's "Portal users" card: who can sign in to the
// tenant portal, the invites, and the form for a new one.
type portalAccess struct {
	Users   []store.TenantUser
	Invites []store.Invite
	Form    *webui.Form
	Link    string // an invite link just made: shown on this page only
	Alert   *store.BalanceAlert
}

// PublicURL sets the gateway's address as browsers reach it, from which invite
// links are made, as the JSON API's switch of the same name does.
func (u *UI) PublicURL(url string) *UI {
	u.rules.PublicURL(url)
	return u
}

func (u *UI) portalAccess(ctx context.Context, tenantID string, fs tenantForms) (portalAccess, error) {
	p := portalAccess{Form: fs.invite, Link: fs.inviteLink}
	if p.Form == nil {
		p.Form = webui.NewForm()
	}
	var err error
	if p.Users, err = u.store.TenantUsers(ctx, tenantID); err != nil {
		return p, err
	}
	if p.Invites, err = u.store.Invites(ctx, tenantID); err != nil {
		return p, err
	}
	a, err := u.store.BalanceAlert(ctx, tenantID)
	switch {
	case err == nil:
		p.Alert = &a
	case !errors.Is(err, store.ErrNotFound):
		return p, err
	}
	return p, nil
}

// invite makes a one-time portal link for a person and shows it once.
func (u *UI) invite(c *gin.Context) {
	f := webui.PostedForm(c)
	id := c.Param("id")
	_, token, err := u.store.CreateInvite(c.Request.Context(), id, f.Get("email"), defaultInviteTTL)
	if errors.Is(err, store.ErrNotFound) {
		u.fail(c, notFound(err, "tenant", id, "The tenants page lists them."))
		return
	}
	if err != nil {
		u.showTenant(c, f.Fail(err, "email"), tenantForms{invite: f})
		return
	}
	base := u.rules.publicURL
	if base == "" {
		// No TOLLGATE_PUBLIC_URL: the address this admin reached the gateway at.
		base = "http://" + c.Request.Host
		if webui.Secure(c) {
			base = "https://" + c.Request.Host
		}
	}
	u.showTenant(c, http.StatusOK, tenantForms{inviteLink: InviteLink(base, token)})
}

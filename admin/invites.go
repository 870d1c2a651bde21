package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// InvitePath is where an invite link points, under the gateway's public URL.
const InvitePath = "/portal/invite/"

// defaultInviteTTL is how long an invite link works unless the admin says otherwise.
const defaultInviteTTL = 7 * 24 * time.Hour

// PublicURL sets the gateway's address as browsers reach it (https://gw.example),
// from which invite links are made; without it they are paths only.
func (a *API) PublicURL(u string) *API {
	a.publicURL = strings.TrimRight(u, "/")
	return a
}

// registerPortal mounts the admin side of tenant self-service: invites and tenant
// users, redeem code batches, and tenants' low-balance alerts.
func (a *API) registerPortal(g *gin.RouterGroup) {
	g.POST("/tenants/:id/invites", a.handle(a.createInvite))
	g.GET("/tenants/:id/invites", a.handle(a.listInvites))
	g.DELETE("/tenants/:id/invites/:invite", a.handle(a.revokeInvite))
	g.GET("/tenants/:id/users", a.handle(a.listTenantUsers))
	g.DELETE("/tenants/:id/users/:user", a.handle(a.deleteTenantUser))

	g.POST("/redeem-batches", a.handle(a.createRedeemBatch))
	g.GET("/redeem-batches", a.handle(a.listRedeemBatches))
	g.GET("/redeem-batches/:id", a.handle(a.getRedeemBatch))
	g.GET("/redeem-batches/:id/codes.csv", a.handle(a.exportRedeemCodes))

	g.GET("/tenants/:id/alert", a.handle(a.getAlert))
	g.PUT("/tenants/:id/alert", a.handle(a.putAlert))
	g.DELETE("/tenants/:id/alert", a.handle(a.deleteAlert))
}

// inviteJSON is an invite; Token and URL only in the creation answer.
type inviteJSON struct {
	ID        string  `json:"id"`
	TenantID  string  `json:"tenant_id"`
	Email     string  `json:"email"`
	ExpiresAt string  `json:"expires_at"`
	UsedAt    *string `json:"used_at"`
	CreatedAt string  `json:"created_at"`
	Token     string  `json:"token,omitempty"`
	URL       string  `json:"url,omitempty"`
}

func inviteOut(inv store.Invite) inviteJSON {
	return inviteJSON{ID: inv.ID, TenantID: inv.TenantID, Email: inv.Email, ExpiresAt: stamp(inv.ExpiresAt),
		UsedAt: optStamp(inv.UsedAt), CreatedAt: stamp(inv.CreatedAt)}
}

type createInviteRequest struct {
	Email    string `json:"email"`
	TTLHours *int64 `json:"ttl_hours"`
}

// InviteLink is the link an invite token opens, under publicURL when set.
func InviteLink(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + InvitePath + token
}

// createInvite makes a one-time link for a person to join a tenant's portal (or
// reset the password of an existing user of that tenant). The token is in this
// answer only; only its digest is stored.
func (a *API) createInvite(c *gin.Context) error {
	var req createInviteRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	ttl := defaultInviteTTL
	if req.TTLHours != nil {
		if *req.TTLHours < 1 || *req.TTLHours > int64(store.MaxInviteTTL/time.Hour) {
			return invalid("ttl_hours", "ttl_hours must be from 1 to %d.", int64(store.MaxInviteTTL/time.Hour))
		}
		ttl = time.Duration(*req.TTLHours) * time.Hour
	}
	id := c.Param("id")
	inv, token, err := a.store.CreateInvite(c.Request.Context(), id, req.Email, ttl)
	if err != nil {
		return notFound(err, "tenant", id, tenantHint)
	}
	out := inviteOut(inv)
	out.Token, out.URL = token, InviteLink(a.publicURL, token)
	return created(c, out)
}

func (a *API) listInvites(c *gin.Context) error {
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	invs, err := a.store.Invites(c.Request.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]inviteJSON, len(invs))
	for i, inv := range invs {
		out[i] = inviteOut(inv)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) revokeInvite(c *gin.Context) error {
	if err := a.store.RevokeInvite(c.Request.Context(), c.Param("id"), c.Param("invite")); err != nil {
		return notFound(err, "unused invite", c.Param("invite"), "List a tenant's invites with GET "+Prefix+"/tenants/{id}/invites.")
	}
	c.Status(http.StatusNoContent)
	return nil
}

// tenantUserJSON is a portal user of a tenant.
type tenantUserJSON struct {
	ID          string  `json:"id"`
	TenantID    string  `json:"tenant_id"`
	Email       string  `json:"email"`
	CreatedAt   string  `json:"created_at"`
	LastLoginAt *string `json:"last_login_at"`
}

func (a *API) listTenantUsers(c *gin.Context) error {
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	us, err := a.store.TenantUsers(c.Request.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]tenantUserJSON, len(us))
	for i, u := range us {
		out[i] = tenantUserJSON{ID: u.ID, TenantID: u.TenantID, Email: u.Email, CreatedAt: stamp(u.CreatedAt), LastLoginAt: optStamp(u.LastLoginAt)}
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) deleteTenantUser(c *gin.Context) error {
	if err := a.store.DeleteTenantUser(c.Request.Context(), c.Param("id"), c.Param("user")); err != nil {
		return notFound(err, "portal user", c.Param("user"), "List a tenant's users with GET "+Prefix+"/tenants/{id}/users.")
	}
	c.Status(http.StatusNoContent)
	return nil
}

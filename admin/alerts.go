package admin

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/alert"
	"github.com/tollgate-gw/tollgate/store"
)

// alertJSON is a tenant's low-balance alert. The signing secret is shown: the
// operator may set the alert up on the tenant's behalf and hand the secret over.
type alertJSON struct {
	TenantID     string `json:"tenant_id"`
	ThresholdUSD string `json:"threshold_usd"`
	URL          string `json:"url"`
	Secret       string `json:"secret"`
	Armed        bool   `json:"armed"`
	UpdatedAt    string `json:"updated_at"`
}

func alertOut(a store.BalanceAlert) alertJSON {
	return alertJSON{TenantID: a.TenantID, ThresholdUSD: a.Threshold.String(), URL: a.URL, Secret: a.Secret, Armed: a.Armed, UpdatedAt: stamp(a.UpdatedAt)}
}

// AllowPrivateWebhooks lets alert URLs name private and loopback addresses, as the
// operator's switch of the same name does for the sender; off by default.
func (a *API) AllowPrivateWebhooks(allow bool) *API {
	a.allowPrivateHooks = allow
	return a
}

func (a *API) getAlert(c *gin.Context) error {
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	al, err := a.store.BalanceAlert(c.Request.Context(), t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(err, "low-balance alert for tenant", t.ID, "Set one with PUT "+Prefix+"/tenants/{id}/alert.")
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, alertOut(al))
	return nil
}

type putAlertRequest struct {
	ThresholdUSD decimal `json:"threshold_usd"`
	URL          string  `json:"url"`
}

// putAlert sets a tenant's alert; the URL must pass the SSRF rules (checked again
// after DNS at every delivery).
func (a *API) putAlert(c *gin.Context) error {
	var req putAlertRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if !req.ThresholdUSD.set {
		return invalid("threshold_usd", "threshold_usd is required, e.g. \"10.00\".")
	}
	threshold, err := req.ThresholdUSD.usd("threshold_usd")
	if err != nil {
		return err
	}
	if threshold <= 0 || threshold > store.MaxTopup {
		return invalid("threshold_usd", "threshold_usd must be more than 0 and at most %s USD.", store.MaxTopup)
	}
	if err := alert.CheckURL(req.URL, a.allowPrivateHooks); err != nil {
		return invalid("url", "url: %v.", err)
	}
	id := c.Param("id")
	al, err := a.store.SetBalanceAlert(c.Request.Context(), id, threshold, req.URL)
	if err != nil {
		return notFound(err, "tenant", id, tenantHint)
	}
	c.JSON(http.StatusOK, alertOut(al))
	return nil
}

func (a *API) deleteAlert(c *gin.Context) error {
	id := c.Param("id")
	if err := a.store.DeleteBalanceAlert(c.Request.Context(), id); err != nil {
		return notFound(err, "low-balance alert for tenant", id, tenantHint)
	}
	c.Status(http.StatusNoContent)
	return nil
}

package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/alert"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// alertsView is the low-balance alert screen: the settings, the signing secret, and
// the latest deliveries.
type alertsView struct {
	Alert      *store.BalanceAlert
	Form       *webui.Form
	Deliveries []store.AlertDelivery
}

func (p *Portal) alerts(c *gin.Context) { p.showAlerts(c, http.StatusOK, nil) }

func (p *Portal) showAlerts(c *gin.Context, status int, f *webui.Form) {
	ctx := c.Request.Context()
	tenant := tenantOf(c)
	v := alertsView{Form: f}
	a, err := p.store.BalanceAlert(ctx, tenant)
	switch {
	case err == nil:
		v.Alert = &a
	case !errors.Is(err, store.ErrNotFound):
		p.fail(c, err)
		return
	}
	if v.Form == nil {
		v.Form = webui.NewForm()
		if v.Alert != nil {
			v.Form = webui.NewForm("threshold_usd", strings.TrimRight(strings.TrimRight(a.Threshold.String(), "0"), "."), "url", a.URL)
		}
	}
	if v.Deliveries, err = p.store.AlertDeliveries(ctx, tenant, 10); err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, status, "alerts", webui.View{Title: "Low-balance alert", Nav: "alerts", Data: v})
}

// saveAlert sets the threshold and URL. The URL is checked against the SSRF rules
// here and again, after DNS, at every delivery.
func (p *Portal) saveAlert(c *gin.Context) {
	f := webui.PostedForm(c)
	threshold, err := webui.ParseUSD("threshold_usd", f.Get("threshold_usd"))
	if err == nil && threshold <= 0 {
		err = webui.Invalid("threshold_usd", "The threshold must be more than $0.")
	}
	if err == nil {
		if uerr := alert.CheckURL(f.Get("url"), p.cfg.AllowPrivateWebhooks); uerr != nil {
			err = webui.Invalid("url", "%s.", strings.ToUpper(uerr.Error()[:1])+uerr.Error()[1:])
		}
	}
	if err != nil {
		p.showAlerts(c, f.Fail(err, "threshold_usd"), f)
		return
	}
	a, err := p.store.SetBalanceAlert(c.Request.Context(), tenantOf(c), threshold, f.Get("url"))
	if err != nil {
		p.showAlerts(c, f.Fail(err, "threshold_usd"), f)
		return
	}
	msg := "Alert saved: it fires when your credit falls below " + webui.USD(a.Threshold) + "."
	if !a.Armed {
		msg = "Alert saved. Your credit is already below " + webui.USD(a.Threshold) + ", so it fires the next time it falls below after a top-up."
	}
	p.site.Redirect(c, Prefix+"/alerts", msg)
}

func (p *Portal) rotateAlertSecret(c *gin.Context) {
	if _, err := p.store.RotateAlertSecret(c.Request.Context(), tenantOf(c)); errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "alert")
		return
	} else if err != nil {
		p.fail(c, err)
		return
	}
	p.site.Redirect(c, Prefix+"/alerts", "New signing secret made; deliveries are signed with it from now on.")
}

func (p *Portal) deleteAlert(c *gin.Context) {
	if err := p.store.DeleteBalanceAlert(c.Request.Context(), tenantOf(c)); errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "alert")
		return
	} else if err != nil {
		p.fail(c, err)
		return
	}
	p.site.Redirect(c, Prefix+"/alerts", "Alert removed.")
}

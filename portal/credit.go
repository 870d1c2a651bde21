package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// creditView is the "Add credit" screen: redeem a code, pay by card, and the card
// payments started so far.
type creditView struct {
	Tenant        store.Tenant
	Redeem        *webui.Form
	Checkout      *webui.Form
	StripeEnabled bool
	MinTopup      billing.Nanos
	MaxTopup      billing.Nanos
	Sessions      []store.CheckoutSession
}

func (p *Portal) credit(c *gin.Context) { p.showCredit(c, http.StatusOK, nil, nil) }

func (p *Portal) showCredit(c *gin.Context, status int, redeem, checkout *webui.Form) {
	ctx := c.Request.Context()
	t, err := p.store.Tenant(ctx, tenantOf(c))
	if err != nil {
		p.fail(c, err)
		return
	}
	v := creditView{Tenant: t, Redeem: redeem, Checkout: checkout, StripeEnabled: p.cfg.Stripe != nil,
		MinTopup: payment.MinTopup, MaxTopup: payment.MaxTopup}
	if v.Redeem == nil {
		v.Redeem = webui.NewForm()
	}
	if v.Checkout == nil {
		v.Checkout = webui.NewForm()
	}
	if v.Sessions, err = p.store.CheckoutSessions(ctx, t.ID, 10); err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, status, "credit", webui.View{Title: "Add credit", Nav: "credit", Data: v})
}

// redeem credits a code to the session's tenant. Failed attempts count against the
// tenant like failed sign-ins, so codes cannot be guessed by trying.
func (p *Portal) redeem(c *gin.Context) {
	f := webui.PostedForm(c)
	ctx := c.Request.Context()
	tenant := tenantOf(c)
	subject := webui.ThrottleSubject(c, "redeem\n"+tenant, "")
	if stop, wait, err := p.throttled(c, subject, redeemLimit); err != nil {
		p.fail(c, err)
		return
	} else if stop {
		f.SetField("code", "Too many codes that did not work. Try again in "+waitText(wait)+".")
		p.showCredit(c, http.StatusTooManyRequests, f, nil)
		return
	}
	code := f.Get("code")
	if strings.TrimSpace(code) == "" || len(code) > 100 {
		f.SetField("code", "Enter the code, e.g. TG-7KQ2M-….")
		p.showCredit(c, http.StatusBadRequest, f, nil)
		return
	}
	entry, err := p.store.Redeem(ctx, tenant, code)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCodeUsed) || errors.Is(err, store.ErrCodeExpired) {
			if rerr := p.store.RecordLoginFailure(ctx, subject, p.now(), loginWindow); rerr != nil {
				p.fail(c, rerr)
				return
			}
		}
		p.showCredit(c, f.Fail(err, "code"), f, nil)
		return
	}
	p.log.Info("tenant redeemed a code", "tenant_id", tenant, "code_id", entry.Ref, "amount", entry.Amount.String())
	p.site.Redirect(c, Prefix+"/credit", "Redeemed "+webui.USD(entry.Amount)+". Your balance is now "+webui.USD(entry.BalanceAfter)+".")
}

// checkout starts a card payment: Tollgate creates the Checkout session with
// Stripe, stores it for the tenant, and sends the browser to Stripe. Nothing is
// credited here; only Stripe's signed webhook does that.
func (p *Portal) checkout(c *gin.Context) {
	f := webui.PostedForm(c)
	if p.cfg.Stripe == nil {
		p.notFound(c, "payment method")
		return
	}
	amount, err := webui.ParseUSD("amount_usd", f.Get("amount_usd"))
	if err == nil {
		if _, aerr := payment.AmountMinor(amount); aerr != nil {
			err = webui.Invalid("amount_usd", "%s.", strings.ToUpper(aerr.Error()[:1])+aerr.Error()[1:])
		}
	}
	if err != nil {
		p.showCredit(c, f.Fail(err, "amount_usd"), nil, f)
		return
	}
	base := strings.TrimRight(p.cfg.PublicURL, "/") + Prefix
	co, err := p.cfg.Stripe.CreateCheckout(c.Request.Context(), tenantOf(c), amount,
		base+checkoutDone+"?session_id={CHECKOUT_SESSION_ID}", base+checkoutAbort)
	if err != nil {
		p.log.Error("creating a Stripe Checkout session", "tenant_id", tenantOf(c), "error", err)
		f.Error = "Stripe could not start the payment right now; nothing was charged. Try again in a moment."
		p.showCredit(c, http.StatusBadGateway, nil, f)
		return
	}
	if err := p.store.RecordCheckoutSession(c.Request.Context(), co.Session); err != nil {
		// Without the record a payment could never be matched: do not send the
		// tenant to pay.
		p.fail(c, err)
		return
	}
	p.log.Info("tenant started a card payment", "tenant_id", co.Session.TenantID, "session_id", co.Session.ID, "amount", amount.String())
	c.Redirect(http.StatusSeeOther, co.URL)
}

// checkoutView is where Stripe sends the tenant back.
type checkoutView struct {
	Session   store.CheckoutSession
	Cancelled bool
}

// checkoutReturn shows a payment's state when Stripe sends the tenant back. It only
// reads: the session id in the URL is the tenant's own or not found, and coming
// back credits nothing.
func (p *Portal) checkoutReturn(c *gin.Context) {
	s, err := p.store.TenantCheckoutSession(c.Request.Context(), tenantOf(c), c.Query("session_id"))
	if errors.Is(err, store.ErrNotFound) {
		p.notFound(c, "payment")
		return
	}
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "checkout", webui.View{Title: "Payment", Nav: "credit", Data: checkoutView{Session: s}})
}

func (p *Portal) checkoutCancelled(c *gin.Context) {
	p.render(c, http.StatusOK, "checkout", webui.View{Title: "Payment cancelled", Nav: "credit", Data: checkoutView{Cancelled: true}})
}

package portal

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/store"
)

// stripeWebhook receives Stripe's events. An event whose signature does not verify
// changes nothing (400). A verified payment event credits the wallet only when it
// matches the session Tollgate created — tenant, amount and currency — and only
// once per event and per session (store.CompleteCheckout); every verified event is
// acknowledged with 200 so Stripe stops resending it, and refusals are logged for
// the operator.
func (p *Portal) stripeWebhook(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, webhookBytes+1))
	if err != nil || len(body) > webhookBytes {
		c.JSON(http.StatusBadRequest, gin.H{"error": "the event body is unreadable or too large"})
		return
	}
	paid, relevant, err := p.cfg.Stripe.ParseEvent(body, c.GetHeader("Stripe-Signature"))
	if errors.Is(err, payment.ErrSignature) {
		p.log.Warn("refused a Stripe webhook with a bad signature", "remote", c.ClientIP(), "error", err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "signature verification failed"})
		return
	}
	if err != nil {
		p.log.Error("a verified Stripe event could not be read", "error", err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "unreadable event"})
		return
	}
	if !relevant {
		c.JSON(http.StatusOK, gin.H{"status": "ignored"})
		return
	}
	res, err := p.store.CompleteCheckout(c.Request.Context(), paid)
	if err != nil {
		// The database failed: answer 5xx so Stripe delivers the event again.
		p.log.Error("applying a Stripe payment", "event_id", paid.EventID, "session_id", paid.SessionID, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
		return
	}
	switch res.Outcome {
	case store.CheckoutCredited:
		p.log.Info("credited a Stripe payment", "tenant_id", res.Entry.TenantID, "session_id", paid.SessionID,
			"event_id", paid.EventID, "amount", res.Entry.Amount.String())
	case store.CheckoutDuplicateEvent, store.CheckoutAlreadyPaid:
		p.log.Info("Stripe payment already applied", "session_id", paid.SessionID, "event_id", paid.EventID, "outcome", res.Outcome)
	default:
		p.log.Error("refused a verified Stripe payment event", "session_id", paid.SessionID, "event_id", paid.EventID,
			"outcome", res.Outcome, "detail", res.Detail)
	}
	c.JSON(http.StatusOK, gin.H{"status": res.Outcome})
}

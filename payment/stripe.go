// Package payment takes tenants' card payments through Stripe Checkout. Tollgate
// creates each Checkout session itself and remembers it; a wallet is credited only
// from a webhook event whose signature verifies and whose session, tenant, amount
// and currency match that record (store.CompleteCheckout), never from the browser
// coming back from Stripe.
package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// Currency is what tenants pay in: wallets hold USD, so credit equals payment.
const Currency = "usd"

// TenantMetadata names the Checkout session metadata field holding the tenant id
// (beside client_reference_id), so a payment is traceable in Stripe's dashboard.
const TenantMetadata = "tollgate_tenant_id"

// Top-up bounds for one card payment.
const (
	MinTopup = 5 * billing.NanosPerUSD
	MaxTopup = 10_000 * billing.NanosPerUSD
)

// nanosPerCent converts between USD cents (Stripe's minor unit) and nano-USD.
const nanosPerCent = billing.NanosPerUSD / 100

// ErrSignature refuses a webhook whose Stripe-Signature header is missing, wrong or
// too old; such a request changes nothing.
var ErrSignature = errors.New("stripe webhook signature")

// StripeConfig configures Stripe.
type StripeConfig struct {
	SecretKey     string // sk_live_… or sk_test_…
	WebhookSecret string // whsec_… of the webhook endpoint
	// APIURL points the client elsewhere than https://api.stripe.com (a stripe-mock,
	// or a test's fake); empty for Stripe itself.
	APIURL     string
	HTTPClient *http.Client
}

// Stripe creates Checkout sessions and verifies webhook events.
type Stripe struct {
	client        *stripe.Client
	webhookSecret string
}

// NewStripe returns a Stripe client; both secrets are required.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if cfg.SecretKey == "" || cfg.WebhookSecret == "" {
		return nil, errors.New("Stripe needs both the secret key and the webhook signing secret")
	}
	bc := &stripe.BackendConfig{HTTPClient: cfg.HTTPClient, LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: stripe.Int64(2)}
	if bc.HTTPClient == nil {
		bc.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.APIURL != "" {
		bc.URL = stripe.String(cfg.APIURL)
	}
	client := stripe.NewClient(cfg.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))
	return &Stripe{client: client, webhookSecret: cfg.WebhookSecret}, nil
}

// AmountMinor converts a top-up to cents, refusing amounts outside the bounds or
// with fractions of a cent.
func AmountMinor(amount billing.Nanos) (int64, error) {
	switch {
	case amount < MinTopup || amount > MaxTopup:
		return 0, fmt.Errorf("a card top-up must be from %s to %s USD", MinTopup, MaxTopup)
	case amount%nanosPerCent != 0:
		return 0, errors.New("a card top-up must be in whole cents")
	}
	return int64(amount / nanosPerCent), nil
}

// Checkout is a session created with Stripe: where to send the tenant, and the
// record to keep.
type Checkout struct {
	URL     string
	Session store.CheckoutSession
}

// CreateCheckout creates a Checkout session for a tenant to pay amount (see
// AmountMinor) and returns it; successURL may hold {CHECKOUT_SESSION_ID}, which
// Stripe fills in. The caller stores the session before redirecting.
func (s *Stripe) CreateCheckout(ctx context.Context, tenantID string, amount billing.Nanos, successURL, cancelURL string) (Checkout, error) {
	minor, err := AmountMinor(amount)
	if err != nil {
		return Checkout{}, err
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(tenantID),
		SuccessURL:        stripe.String(successURL),
		CancelURL:         stripe.String(cancelURL),
		Metadata:          map[string]string{TenantMetadata: tenantID},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(Currency),
				UnitAmount:  stripe.Int64(minor),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("Tollgate credit")},
			},
		}},
	}
	cs, err := s.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return Checkout{}, fmt.Errorf("Stripe refused to start the payment: %w", err)
	}
	if cs.ID == "" || cs.URL == "" {
		return Checkout{}, errors.New("Stripe answered without a checkout session")
	}
	return Checkout{URL: cs.URL, Session: store.CheckoutSession{ID: cs.ID, TenantID: tenantID, AmountMinor: minor,
		Currency: Currency, Credit: amount}}, nil
}

// Events that can complete a payment.
const (
	EventCompleted    = "checkout.session.completed"
	EventAsyncSuccess = "checkout.session.async_payment_succeeded"
)

// ParseEvent verifies a webhook body against its Stripe-Signature header (within
// Stripe's five-minute tolerance) and reads what it says was paid. relevant is
// false for events that do not pay a session (other types, or a completed session
// whose payment is still pending; its async_payment_succeeded event comes later).
// The tenant, amount and currency are taken from the verified event only.
func (s *Stripe) ParseEvent(payload []byte, header string) (paid store.PaidCheckout, relevant bool, err error) {
	ev, err := webhook.ConstructEventWithOptions(payload, header, s.webhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return store.PaidCheckout{}, false, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if ev.Type != EventCompleted && ev.Type != EventAsyncSuccess {
		return store.PaidCheckout{}, false, nil
	}
	if ev.Data == nil || len(ev.Data.Raw) == 0 || ev.ID == "" {
		return store.PaidCheckout{}, false, fmt.Errorf("%w: the event has no data", ErrSignature)
	}
	var cs stripe.CheckoutSession
	if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
		return store.PaidCheckout{}, false, fmt.Errorf("the event's checkout session is unreadable: %v", err)
	}
	if cs.Mode != stripe.CheckoutSessionModePayment || cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid {
		return store.PaidCheckout{}, false, nil
	}
	tenant := cs.ClientReferenceID
	if m, ok := cs.Metadata[TenantMetadata]; ok && m != tenant {
		tenant = "" // the two names of the tenant disagree: let the match fail
	}
	return store.PaidCheckout{EventID: ev.ID, EventType: string(ev.Type), SessionID: cs.ID, TenantID: tenant,
		AmountMinor: cs.AmountTotal, Currency: string(cs.Currency)}, true, nil
}

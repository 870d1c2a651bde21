package main

import (
	"context"
	"errors"
	"flag"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/alert"
	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/portal"
)

// portalFlags declares the tenant self-service flags (their TOLLGATE_* twins are in
// settings).
func portalFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.PublicURL, "public-url", "", "")
	fs.StringVar(&cfg.StripeSecretKey, "stripe-secret-key", "", "")
	fs.StringVar(&cfg.StripeWebhookSecret, "stripe-webhook-secret", "", "")
	fs.StringVar(&cfg.StripeAPIURL, "stripe-api-url", "", "")
	fs.DurationVar(&cfg.AlertInterval, "alert-interval", cfg.AlertInterval, "")
	fs.BoolVar(&cfg.AllowPrivateWebhooks, "allow-private-webhooks", false, "")
}

// stripeEnabled says whether card top-ups are configured.
func (c Config) stripeEnabled() bool { return c.StripeSecretKey != "" || c.StripeWebhookSecret != "" }

// validatePortal checks the tenant self-service settings.
func (c Config) validatePortal() []error {
	var errs []error
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, errors.New("TOLLGATE_PUBLIC_URL must be the gateway's base URL as browsers reach it, such as https://gw.example.com"))
		}
	}
	if c.stripeEnabled() {
		switch {
		case c.StripeSecretKey == "" || c.StripeWebhookSecret == "":
			errs = append(errs, errors.New("set both TOLLGATE_STRIPE_SECRET_KEY and TOLLGATE_STRIPE_WEBHOOK_SECRET for card top-ups (or neither)"))
		case !strings.HasPrefix(c.StripeWebhookSecret, "whsec_"):
			errs = append(errs, errors.New("TOLLGATE_STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret (whsec_…), from Stripe's webhook settings"))
		}
		if c.PublicURL == "" {
			errs = append(errs, errors.New("TOLLGATE_PUBLIC_URL is required with Stripe: it is where Stripe sends tenants back after paying"))
		}
	}
	if c.StripeAPIURL != "" {
		if u, err := url.Parse(c.StripeAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("TOLLGATE_STRIPE_API_URL must be an http(s) base URL"))
		}
	}
	if c.AlertInterval < time.Second {
		errs = append(errs, errors.New("TOLLGATE_ALERT_INTERVAL must be at least 1s"))
	}
	return errs
}

// portalParts is what the tenant self-service adds to a running gateway: the
// low-balance alert sender, stopped on Close.
type portalParts struct {
	stop context.CancelFunc
	done chan struct{}
}

// openPortal mounts the tenant portal and the OpenAI-style billing endpoints, and
// starts the low-balance alert sender.
func (m *Main) openPortal(e *gin.Engine) error {
	cfg := portal.Config{PublicURL: m.Config.PublicURL, AllowPrivateWebhooks: m.Config.AllowPrivateWebhooks, Logger: m.Logger}
	if m.Config.stripeEnabled() {
		s, err := payment.NewStripe(payment.StripeConfig{SecretKey: m.Config.StripeSecretKey,
			WebhookSecret: m.Config.StripeWebhookSecret, APIURL: m.Config.StripeAPIURL})
		if err != nil {
			return err
		}
		cfg.Stripe = s
	}
	portal.New(m.Store, m.Gateway, cfg).Register(e)
	m.Gateway.RegisterBilling(e)

	sender := alert.NewSender(m.Store, m.Config.AllowPrivateWebhooks, m.Logger)
	sender.Interval = m.Config.AlertInterval
	ctx, cancel := context.WithCancel(context.Background())
	m.portal = &portalParts{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.portal.done)
		sender.Run(ctx)
	}()
	return nil
}

// closePortal stops the alert sender.
func (m *Main) closePortal() {
	if m.portal != nil {
		m.portal.stop()
		<-m.portal.done
	}
}

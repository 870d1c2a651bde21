// Package alert delivers tenants' low-balance alerts: it watches for crossings
// (store.CheckBalanceAlerts), and sends each queued alert as a signed webhook over an
// HTTP client that reaches only public addresses, retrying with growing pauses.
package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// Headers of a delivery.
const (
	SignatureHeader = "X-Tollgate-Signature"
	EventIDHeader   = "X-Tollgate-Event-Id"
)

// Sender defaults.
const (
	DefaultInterval    = 15 * time.Second // how often balances are checked and deliveries sent
	DefaultMaxAttempts = 8                // then the delivery is given up
	DefaultBackoff     = 30 * time.Second // pause after the first failure, doubled after each
	maxBackoff         = time.Hour
	attemptTimeout     = 10 * time.Second
	claimLease         = time.Minute // another node leaves a claimed delivery alone this long
)

// Sender checks balances and delivers alerts. Its state lives in the store, so any
// number of gateway processes may run one: a crossing queues one delivery, and each
// attempt is claimed by one process.
type Sender struct {
	Store  *store.Store
	Client *http.Client // NewClient's: public addresses only, no redirects
	// AllowPrivate lets URLs name private and loopback hosts (the client must be
	// built with the same switch).
	AllowPrivate bool
	Logger       *slog.Logger
	Interval     time.Duration
	MaxAttempts  int
	Backoff      time.Duration
	Now          func() time.Time
}

// NewSender returns a sender with the defaults; allowPrivate lets webhooks reach
// private and loopback addresses (tests, a receiver on the operator's own network).
func NewSender(st *store.Store, allowPrivate bool, log *slog.Logger) *Sender {
	if log == nil {
		log = slog.Default()
	}
	return &Sender{Store: st, Client: NewClient(allowPrivate), AllowPrivate: allowPrivate, Logger: log, Interval: DefaultInterval,
		MaxAttempts: DefaultMaxAttempts, Backoff: DefaultBackoff, Now: time.Now}
}

// NewClient is the webhook client: the gateway's upstream client rules (every
// connection's address checked after DNS unless allowPrivate, redirects never
// followed, so neither DNS nor a 3xx can point a delivery at an internal address),
// no proxy from the environment (the check must see the receiver's own address),
// and a bound on each attempt.
func NewClient(allowPrivate bool) *http.Client {
	c := router.NewUpstreamClientFor(allowPrivate)
	if t, ok := router.HTTPTransport(c); ok {
		t.Proxy = nil
	}
	c.Timeout = attemptTimeout
	return c
}

// Run checks and delivers every Interval until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("low-balance alerts", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs one round: it queues an alert for every new crossing, then attempts
// every delivery that is due. It returns the first store error.
func (s *Sender) Tick(ctx context.Context) error {
	queued, err := s.Store.CheckBalanceAlerts(ctx, s.Now())
	if err != nil {
		return err
	}
	for _, d := range queued {
		s.Logger.Info("low-balance alert queued", "tenant_id", d.TenantID, "delivery_id", d.ID)
	}
	due, err := s.Store.DueAlertDeliveries(ctx, s.Now(), 100)
	if err != nil {
		return err
	}
	for _, d := range due {
		if err := s.attempt(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// attempt claims a delivery, sends it once and records the outcome.
func (s *Sender) attempt(ctx context.Context, d store.AlertDelivery) error {
	ok, err := s.Store.ClaimAlertDelivery(ctx, d, s.Now(), claimLease)
	if err != nil || !ok {
		return err
	}
	attempt := d.Attempts + 1
	if d.URL == "" {
		return s.Store.FinishAlertDelivery(ctx, d.ID, false, true, "the alert was removed before it could be delivered", time.Time{})
	}
	sendErr := s.send(ctx, d)
	if sendErr == nil {
		s.Logger.Info("low-balance alert delivered", "tenant_id", d.TenantID, "delivery_id", d.ID, "attempt", attempt)
		return s.Store.FinishAlertDelivery(ctx, d.ID, true, false, "", time.Time{})
	}
	giveUp := attempt >= s.MaxAttempts
	retry := s.Now().Add(s.backoff(attempt))
	s.Logger.Warn("low-balance alert not delivered", "tenant_id", d.TenantID, "delivery_id", d.ID, "attempt", attempt,
		"giving_up", giveUp, "error", sendErr)
	return s.Store.FinishAlertDelivery(ctx, d.ID, false, giveUp, sendErr.Error(), retry)
}

// backoff is the pause after the n-th failed attempt: Backoff, doubled each time,
// at most an hour.
func (s *Sender) backoff(n int) time.Duration {
	d := s.Backoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// send posts the payload, signed, and wants a 2xx.
func (s *Sender) send(ctx context.Context, d store.AlertDelivery) error {
	if err := CheckURL(d.URL, s.AllowPrivate); err != nil {
		return err
	}
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tollgate-Alerts/1")
	req.Header.Set(EventIDHeader, d.ID)
	req.Header.Set(SignatureHeader, Sign(d.Secret, s.Now(), body))
	resp, err := s.Client.Do(req)
	if err != nil {
		if errors.Is(err, router.ErrPrivateUpstream) {
			return fmt.Errorf("refused: the URL resolves to a private, loopback or link-local address")
		}
		return fmt.Errorf("could not reach the URL: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("the receiver answered %d; redirects are not followed, give the final URL", resp.StatusCode)
	}
	return fmt.Errorf("the receiver answered %s", strconv.Itoa(resp.StatusCode))
}

package store

import (
	"context"
	"fmt"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// CheckoutSession is a Stripe Checkout session Tollgate created for a tenant: the
// record a payment event must match before any credit is given.
type CheckoutSession struct {
	ID          string // Stripe's cs_… id
	TenantID    string
	AmountMinor int64  // what the tenant pays, in the currency's minor unit (cents)
	Currency    string // lower case ISO code, e.g. "usd"
	Credit      billing.Nanos
	Status      string // CheckoutOpen or CheckoutPaid
	EventID     string // the event that completed it
	CreatedAt   int64
	CompletedAt int64
}

// Checkout session states.
const (
	CheckoutOpen = "open"
	CheckoutPaid = "paid"
)

// PaidCheckout is what a verified Stripe event says was paid.
type PaidCheckout struct {
	EventID     string
	EventType   string
	SessionID   string
	TenantID    string // client_reference_id of the session in the event
	AmountMinor int64  // amount_total
	Currency    string
}

// Outcomes of CompleteCheckout; only CheckoutCredited changed a wallet.
const (
	CheckoutCredited       = "credited"
	CheckoutDuplicateEvent = "duplicate_event" // this event id was processed before
	CheckoutAlreadyPaid    = "already_paid"    // another event completed the session
	CheckoutUnknownSession = "unknown_session" // not a session Tollgate created
	CheckoutMismatch       = "mismatch"        // tenant, amount or currency differ from the session
)

const checkoutColumns = `id, tenant_id, amount_minor, currency, credit, status, event_id, created_at, completed_at`

// RecordCheckoutSession stores a session just created with Stripe, open.
func (s *Store) RecordCheckoutSession(ctx context.Context, cs CheckoutSession) error {
	if cs.ID == "" || cs.AmountMinor <= 0 || cs.Credit <= 0 || cs.Credit > MaxTopup || cs.Currency == "" {
		return fmt.Errorf("%w: a checkout session needs an id, a positive amount and a currency", ErrInvalid)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO checkout_sessions (`+checkoutColumns+`) VALUES (?, ?, ?, ?, ?, ?, '', ?, 0)`,
			cs.ID, cs.TenantID, cs.AmountMinor, cs.Currency, cs.Credit, CheckoutOpen, nowMillis()).Error
	})
}

// CheckoutSessions lists a tenant's checkout sessions, newest first.
func (s *Store) CheckoutSessions(ctx context.Context, tenantID string, limit int) ([]CheckoutSession, error) {
	var out []CheckoutSession
	err := s.read(ctx).Raw(`SELECT `+checkoutColumns+` FROM checkout_sessions WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?`,
		tenantID, limitOr(limit, 20)).Scan(&out).Error
	return out, wrapDBError(err)
}

// CheckoutResult is what CompleteCheckout did with an event.
type CheckoutResult struct {
	Outcome string      // one of the Checkout… outcomes
	Detail  string      // why, for a mismatch
	Entry   LedgerEntry // the credit, when Outcome is CheckoutCredited
}

// CompleteCheckout applies a verified payment event, at most once per event id and
// once per session: the event is recorded first (a replay finds it), the session
// Tollgate stored must match the event's tenant, amount and currency exactly, and
// the session moves from open to paid in the same transaction as the ledger entry
// (kind "stripe", ref the session id). Errors are left for the database failing.
func (s *Store) CompleteCheckout(ctx context.Context, p PaidCheckout) (CheckoutResult, error) {
	var outcome, detail string
	var entry LedgerEntry
	err := s.tx(ctx, func(tx *gorm.DB) error {
		now := nowMillis()
		res := tx.Exec(`INSERT INTO stripe_events (id, type, session_id, outcome, created_at) VALUES (?, ?, ?, '', ?) ON CONFLICT (id) DO NOTHING`,
			p.EventID, p.EventType, p.SessionID, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			outcome = CheckoutDuplicateEvent
			return nil
		}
		var sessions []CheckoutSession
		if err := tx.Raw(`SELECT `+checkoutColumns+` FROM checkout_sessions WHERE id = ?`, p.SessionID).Scan(&sessions).Error; err != nil {
			return err
		}
		switch {
		case len(sessions) == 0:
			outcome = CheckoutUnknownSession
		case sessions[0].TenantID != p.TenantID:
			outcome, detail = CheckoutMismatch, "the event names another tenant than the session"
		case sessions[0].AmountMinor != p.AmountMinor:
			outcome, detail = CheckoutMismatch, fmt.Sprintf("the event's amount %d differs from the session's %d", p.AmountMinor, sessions[0].AmountMinor)
		case sessions[0].Currency != p.Currency:
			outcome, detail = CheckoutMismatch, fmt.Sprintf("the event's currency %q differs from the session's %q", p.Currency, sessions[0].Currency)
		}
		if outcome == "" {
			cs := sessions[0]
			res := tx.Exec(`UPDATE checkout_sessions SET status = ?, event_id = ?, completed_at = ? WHERE id = ? AND status = ?`,
				CheckoutPaid, p.EventID, now, cs.ID, CheckoutOpen)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				outcome = CheckoutAlreadyPaid
			} else {
				var err error
				if entry, err = credit(tx, cs.TenantID, cs.Credit, LedgerStripe, cs.ID, "Stripe Checkout "+cs.ID); err != nil {
					return err
				}
				outcome = CheckoutCredited
			}
		}
		recorded := outcome
		if detail != "" {
			recorded += ": " + detail
		}
		return tx.Exec(`UPDATE stripe_events SET outcome = ? WHERE id = ?`, recorded, p.EventID).Error
	})
	if err != nil {
		return CheckoutResult{}, err
	}
	return CheckoutResult{Outcome: outcome, Detail: detail, Entry: entry}, nil
}

// TenantCheckoutSession reads one of a tenant's checkout sessions; ErrNotFound for a
// session of another tenant.
func (s *Store) TenantCheckoutSession(ctx context.Context, tenantID, id string) (CheckoutSession, error) {
	var out []CheckoutSession
	if err := s.read(ctx).Raw(`SELECT `+checkoutColumns+` FROM checkout_sessions WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&out).Error; err != nil {
		return CheckoutSession{}, wrapDBError(err)
	}
	if len(out) == 0 {
		return CheckoutSession{}, fmt.Errorf("%w: checkout session %s", ErrNotFound, id)
	}
	return out[0], nil
}

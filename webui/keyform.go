package webui

import (
	"errors"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// MaxKeyBudget bounds a key's budget: large enough for any real account, small
// enough that budget − spent − held cannot overflow.
const MaxKeyBudget = 1_000_000_000 * billing.NanosPerUSD

// Invalid builds a 400 for one form field, in the error shape forms show.
func Invalid(field, format string, args ...any) error {
	return router.APIError(router.ErrInvalidRequest, field, format, args...)
}

// CheckText refuses a required or length-bounded text field with a message naming it.
func CheckText(field, s string, required bool, maxLen int) error {
	if required && s == "" {
		return Invalid(field, "%s is required and must not be blank.", field)
	}
	if len(s) > maxLen {
		return Invalid(field, "%s is %d bytes long; at most %d are allowed.", field, len(s), maxLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return Invalid(field, "%s must not contain control characters (newlines, tabs, ...).", field)
		}
	}
	return nil
}

// ParseUSD reads a form field holding a USD amount ("12.50"), exactly.
func ParseUSD(field, text string) (billing.Nanos, error) {
	n, err := billing.ParseUSD(text)
	switch {
	case errors.Is(err, billing.ErrOverflow):
		return 0, Invalid(field, "%q is far too large.", shorten(text, 40))
	case err != nil:
		return 0, Invalid(field, "%q is not an amount in USD: write digits with at most 9 decimal places, e.g. 12.50 (no currency sign, no spaces).", shorten(text, 40))
	}
	return n, nil
}

// KeyForm reads the "new key" form the dashboard and the portal share: name,
// allowed models (empty: all), budget in USD (empty: none) and expiry (empty: never).
func KeyForm(f *Form, tenantID string, now time.Time) (store.NewKey, error) {
	nk := store.NewKey{TenantID: tenantID, Name: f.Get("name")}
	if err := CheckText("name", nk.Name, true, 200); err != nil {
		return nk, err
	}
	var err error
	if nk.Models, err = ParseModels(f.Get("models")); err != nil {
		return nk, err
	}
	if nk.Budget, err = ParseBudget(f.Get("budget_usd")); err != nil {
		return nk, err
	}
	nk.ExpiresAt, err = ParseExpiry(f.Get("expires_at"), now)
	return nk, err
}

// SplitList reads a list of names separated by commas, spaces or lines.
func SplitList(s string) []string {
	var out []string
	cur := []rune{}
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		if r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			flush()
			continue
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// ParseModels reads a key's allowed models, separated by commas, spaces or lines.
func ParseModels(s string) ([]string, error) {
	out := SplitList(s)
	for _, m := range out {
		if len(m) > 200 {
			return nil, Invalid("models", "Model names have at most 200 characters.")
		}
	}
	if len(out) > 100 {
		return nil, Invalid("models", "A key may name at most 100 models; leave the field empty to allow every model.")
	}
	return out, nil
}

// ParseBudget reads a key's budget in USD; empty means no budget (nil).
func ParseBudget(s string) (*billing.Nanos, error) {
	if s == "" {
		return nil, nil
	}
	b, err := ParseUSD("budget_usd", s)
	if err != nil {
		return nil, err
	}
	if b < 0 || b > MaxKeyBudget {
		return nil, Invalid("budget_usd", "The budget must be from $0 to %s, or empty for none.", USD(MaxKeyBudget))
	}
	return &b, nil
}

// ParseExpiry reads a key's expiry: a date (the key expires at its start, UTC) or an
// RFC 3339 time; empty means never.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, Invalid("expires_at", "Give the expiry as a date such as 2026-12-31 (the key stops working at the start of that day, UTC), or leave it empty.")
		}
	}
	if !t.After(now) {
		return time.Time{}, Invalid("expires_at", "The expiry must be in the future.")
	}
	return t, nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

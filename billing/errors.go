package billing

import (
	"errors"
	"fmt"
)

// ErrInsufficientCredit is the sentinel behind every "cannot cover this call" refusal,
// so callers can test with errors.Is and still read the detail with errors.As.
var ErrInsufficientCredit = errors.New("insufficient credit")

// ErrHoldNotFound means a hold was already settled or released (or never existed):
// settling it again must be a no-op, never a second debit.
var ErrHoldNotFound = errors.New("hold not found")

// InsufficientCreditError says what a call needed and what was there, so the 402
// message can tell the client exactly what is missing.
type InsufficientCreditError struct {
	Need      Nanos // the hold the call required
	Available Nanos // what the wallet (or the key budget) could still cover
	KeyBudget bool  // the key's own budget refused, not the tenant's wallet
}

func (e *InsufficientCreditError) Error() string {
	what := "tenant balance"
	if e.KeyBudget {
		what = "key budget"
	}
	return fmt.Sprintf("%s cannot cover this call: needs %s USD, %s USD available", what, e.Need, e.Available)
}

// Unwrap makes errors.Is(err, ErrInsufficientCredit) true.
func (e *InsufficientCreditError) Unwrap() error { return ErrInsufficientCredit }

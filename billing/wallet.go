package billing

import "time"

// HoldRequest asks a wallet to set credit aside for one upstream call before it is made.
type HoldRequest struct {
	TenantID  string
	KeyID     string // the key's budget is held too, when it has one
	RequestID string // the gateway request the hold belongs to
	Amount    Nanos  // the call's upper-bound cost
	TTL       time.Duration
}

// Hold is credit set aside for one call; it is settled (debited) or released exactly once.
type Hold struct {
	ID       string
	TenantID string
	KeyID    string
	Amount   Nanos
}

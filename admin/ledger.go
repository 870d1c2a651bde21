package admin

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// IdempotencyKeyHeader may carry a top-up's idempotency key instead of the body, the
// way payment APIs take it, so generic HTTP retry tooling can set it.
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader marks the answer to a repeated top-up: nothing was credited, and
// the body is the first answer's.
const ReplayedHeader = "Idempotent-Replayed"

type topupRequest struct {
	AmountUSD      decimal `json:"amount_usd"`
	Note           string  `json:"note"`
	IdempotencyKey string  `json:"idempotency_key"`
}

// topupJSON is a credited top-up; built only from the ledger entry, so a replay
// answers byte for byte what the first call answered.
type topupJSON struct {
	ID             int64  `json:"id"`
	TenantID       string `json:"tenant_id"`
	AmountUSD      string `json:"amount_usd"`
	BalanceUSD     string `json:"balance_usd"`
	Note           string `json:"note"`
	IdempotencyKey string `json:"idempotency_key"`
	CreatedAt      string `json:"created_at"`
}

func topupOut(e store.LedgerEntry) topupJSON {
	return topupJSON{ID: e.ID, TenantID: e.TenantID, AmountUSD: e.Amount.String(), BalanceUSD: e.BalanceAfter.String(),
		Note: e.Note, IdempotencyKey: e.Ref, CreatedAt: stamp(e.CreatedAt)}
}

func (a *API) topup(c *gin.Context) error {
	var req topupRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if !req.AmountUSD.set {
		return invalid("amount_usd", "amount_usd is required: the USD amount to credit, e.g. \"25.00\".")
	}
	amount, err := req.AmountUSD.usd("amount_usd")
	if err != nil {
		return err
	}
	switch {
	case amount <= 0:
		return invalid("amount_usd", "amount_usd must be more than 0 (got %s); to take credit away, ask for a correction entry instead.", amount)
	case amount > store.MaxTopup:
		return invalid("amount_usd", "amount_usd %s is more than one top-up may credit (%s USD); check for extra zeros, or split it into several top-ups.", amount, store.MaxTopup)
	}
	note := strings.TrimSpace(req.Note)
	if err := checkText("note", note, false, 500); err != nil {
		return err
	}
	key := strings.TrimSpace(req.IdempotencyKey)
	if h := strings.TrimSpace(c.GetHeader(IdempotencyKeyHeader)); h != "" {
		if key != "" && key != h {
			return invalid("idempotency_key", "The idempotency_key in the body differs from the %s header; send one of them, or the same value in both.", IdempotencyKeyHeader)
		}
		key = h
	}
	if err := checkText("idempotency_key", key, false, 200); err != nil {
		return err
	}

	tenantID := c.Param("id")
	entry, replayed, err := a.store.Topup(c.Request.Context(), tenantID, amount, note, key)
	if err != nil {
		return notFound(err, "tenant", tenantID, tenantHint)
	}
	if !replayed {
		return created(c, topupOut(entry))
	}
	if entry.Amount != amount {
		return router.APIError(store.ErrConflict, "idempotency_key", "Idempotency key %q was already used for a top-up of %s USD (ledger entry %d), so this top-up of %s USD credited nothing. Use a new key for a new top-up.",
			shorten(key, 60), entry.Amount, entry.ID, amount)
	}
	c.Header(ReplayedHeader, "true")
	c.JSON(http.StatusOK, topupOut(entry))
	return nil
}

// ledgerJSON is one ledger entry. For usage debits ref is the hold id, which ties
// the entry to its request-log row.
type ledgerJSON struct {
	ID              int64  `json:"id"`
	AmountUSD       string `json:"amount_usd"`
	BalanceAfterUSD string `json:"balance_after_usd"`
	Kind            string `json:"kind"`
	Ref             string `json:"ref"`
	Note            string `json:"note"`
	CreatedAt       string `json:"created_at"`
}

func (a *API) ledger(c *gin.Context) error {
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 1, 1<<63-1)
	if err != nil {
		return err
	}
	t, err := a.tenant(c)
	if err != nil {
		return err
	}
	es, err := a.store.LedgerPage(c.Request.Context(), t.ID, before, limit)
	if err != nil {
		return err
	}
	out := make([]ledgerJSON, len(es))
	var last int64
	for i, e := range es {
		out[i] = ledgerJSON{ID: e.ID, AmountUSD: e.Amount.String(), BalanceAfterUSD: e.BalanceAfter.String(),
			Kind: e.Kind, Ref: e.Ref, Note: e.Note, CreatedAt: stamp(e.CreatedAt)}
		last = e.ID
	}
	c.JSON(http.StatusOK, gin.H{"data": out, "next_before": nextBefore(len(es), limit, last)})
	return nil
}

package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// redeemBatchJSON is a batch of redeem codes; Codes only in the creation answer.
type redeemBatchJSON struct {
	ID        string   `json:"id"`
	AmountUSD string   `json:"amount_usd"`
	Count     int      `json:"count"`
	Redeemed  int      `json:"redeemed"`
	ExpiresAt *string  `json:"expires_at"`
	Note      string   `json:"note"`
	CreatedAt string   `json:"created_at"`
	Codes     []string `json:"codes,omitempty"`
}

func redeemBatchOut(b store.RedeemBatch) redeemBatchJSON {
	return redeemBatchJSON{ID: b.ID, AmountUSD: b.Amount.String(), Count: b.Count, Redeemed: b.Redeemed,
		ExpiresAt: optStamp(b.ExpiresAt), Note: b.Note, CreatedAt: stamp(b.CreatedAt)}
}

type createRedeemBatchRequest struct {
	AmountUSD decimal `json:"amount_usd"`
	Count     int     `json:"count"`
	ExpiresAt *string `json:"expires_at"`
	Note      string  `json:"note"`
}

// redeemHint is where an operator finds batch ids.
const redeemHint = "List batches with GET " + Prefix + "/redeem-batches."

// createRedeemBatch makes count codes worth amount_usd each; the answer lists them
// (as does the CSV export later).
func (a *API) createRedeemBatch(c *gin.Context) error {
	var req createRedeemBatchRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if !req.AmountUSD.set {
		return invalid("amount_usd", "amount_usd is required: the USD credit of each code, e.g. \"10.00\".")
	}
	amount, err := req.AmountUSD.usd("amount_usd")
	if err != nil {
		return err
	}
	if amount <= 0 || amount > store.MaxTopup {
		return invalid("amount_usd", "amount_usd must be more than 0 and at most %s USD.", store.MaxTopup)
	}
	if req.Count < 1 || req.Count > store.MaxRedeemBatch {
		return invalid("count", "count must be from 1 to %d.", store.MaxRedeemBatch)
	}
	note := strings.TrimSpace(req.Note)
	if err := checkText("note", note, false, 500); err != nil {
		return err
	}
	var expires time.Time
	if req.ExpiresAt != nil && *req.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, *req.ExpiresAt); err != nil {
			return invalid("expires_at", "expires_at must be an RFC 3339 time such as 2026-12-31T00:00:00Z, or null for codes that never expire.")
		}
		if !expires.After(a.now()) {
			return invalid("expires_at", "expires_at must be in the future.")
		}
	}
	b, codes, err := a.store.CreateRedeemBatch(c.Request.Context(), amount, req.Count, expires, note)
	if err != nil {
		return err
	}
	out := redeemBatchOut(b)
	for _, code := range codes {
		out.Codes = append(out.Codes, code.Code)
	}
	return created(c, out)
}

func (a *API) listRedeemBatches(c *gin.Context) error {
	limit, err := pageLimit(c, 100)
	if err != nil {
		return err
	}
	bs, err := a.store.RedeemBatches(c.Request.Context(), limit)
	if err != nil {
		return err
	}
	out := make([]redeemBatchJSON, len(bs))
	for i, b := range bs {
		out[i] = redeemBatchOut(b)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) getRedeemBatch(c *gin.Context) error {
	id := c.Param("id")
	b, err := a.store.RedeemBatch(c.Request.Context(), id)
	if err != nil {
		return notFound(err, "redeem batch", id, redeemHint)
	}
	c.JSON(http.StatusOK, redeemBatchOut(b))
	return nil
}

// RedeemCSVHeader is the first line of a batch export.
var RedeemCSVHeader = []string{"code", "amount_usd", "expires_at", "redeemed_by", "redeemed_at"}

// RedeemCSV writes a batch's codes as CSV, for the admin API's export and the
// dashboard's download alike.
func RedeemCSV(codes []store.RedeemCode) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(RedeemCSVHeader)
	for _, rc := range codes {
		exp, at := "", ""
		if rc.ExpiresAt != 0 {
			exp = stamp(rc.ExpiresAt)
		}
		if rc.RedeemedAt != 0 {
			at = stamp(rc.RedeemedAt)
		}
		_ = w.Write([]string{rc.Code, rc.Amount.String(), exp, rc.RedeemedBy, at})
	}
	w.Flush()
	return buf.Bytes()
}

// exportRedeemCodes serves a batch's codes as CSV. Reading codes is recorded in the
// audit log (which otherwise records only changes): whoever holds a code holds money.
func (a *API) exportRedeemCodes(c *gin.Context) error {
	id := c.Param("id")
	codes, err := a.store.RedeemCodes(c.Request.Context(), id)
	if err != nil {
		return notFound(err, "redeem batch", id, redeemHint)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	_ = a.store.Audit(ctx, store.AuditEntry{Actor: "admin-token", Action: "GET " + c.FullPath(), Target: id,
		Detail: map[string]string{"codes": strconv.Itoa(len(codes))}, Remote: c.ClientIP(), Status: http.StatusOK})
	c.Header("Content-Disposition", `attachment; filename="redeem-`+id+`.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", RedeemCSV(codes))
	return nil
}

package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// redeemView is the redeem codes screen: the batches, the form for a new one, and
// the codes of a batch just made.
type redeemView struct {
	Batches []store.RedeemBatch
	Form    *webui.Form
	Created *store.RedeemBatch
	Codes   []store.RedeemCode
}

func (u *UI) redeemBatches(c *gin.Context) { u.showRedeem(c, http.StatusOK, redeemView{}) }

func (u *UI) showRedeem(c *gin.Context, status int, v redeemView) {
	var err error
	if v.Batches, err = u.store.RedeemBatches(c.Request.Context(), 100); err != nil {
		u.fail(c, err)
		return
	}
	if v.Form == nil {
		v.Form = webui.NewForm("count", "10")
	}
	u.render(c, status, "redeem", view{Title: "Redeem codes", Nav: "redeem", Data: v})
}

// createRedeemBatch makes a batch and shows its codes (downloadable as CSV later).
func (u *UI) createRedeemBatch(c *gin.Context) {
	f := webui.PostedForm(c)
	amount, err := webui.ParseUSD("amount_usd", f.Get("amount_usd"))
	if err == nil && (amount <= 0 || amount > store.MaxTopup) {
		err = invalid("amount_usd", "Each code must be worth more than $0 and at most %s.", webui.USD(store.MaxTopup))
	}
	count, cerr := strconv.Atoi(f.Get("count"))
	if err == nil && (cerr != nil || count < 1 || count > store.MaxRedeemBatch) {
		err = invalid("count", "Make from 1 to %d codes at a time.", store.MaxRedeemBatch)
	}
	var expires time.Time
	if err == nil {
		expires, err = webui.ParseExpiry(f.Get("expires_at"), u.now())
	}
	if err == nil {
		err = checkText("note", f.Get("note"), false, 500)
	}
	if err != nil {
		u.showRedeem(c, f.Fail(err, "amount_usd"), redeemView{Form: f})
		return
	}
	b, codes, err := u.store.CreateRedeemBatch(c.Request.Context(), amount, count, expires, f.Get("note"))
	if err != nil {
		u.showRedeem(c, f.Fail(err, "amount_usd"), redeemView{Form: f})
		return
	}
	u.showRedeem(c, http.StatusOK, redeemView{Created: &b, Codes: codes})
}

// exportRedeemCodes downloads a batch's codes as CSV; the read is audited.
func (u *UI) exportRedeemCodes(c *gin.Context) {
	id := c.Param("id")
	codes, err := u.store.RedeemCodes(c.Request.Context(), id)
	if err != nil {
		u.fail(c, notFound(err, "redeem batch", id, "The redeem codes page lists them."))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	_ = u.store.Audit(ctx, store.AuditEntry{Actor: sessionActor(c), Action: "GET " + c.FullPath(), Target: id,
		Detail: map[string]string{"codes": strconv.Itoa(len(codes))}, Remote: c.ClientIP(), Status: http.StatusOK})
	c.Header("Content-Disposition", `attachment; filename="redeem-`+id+`.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", RedeemCSV(codes))
}

package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// pricesView is the price book: every priced model, the built-in default or the
// operator's override, filtered by a search.
type pricesView struct {
	Search    string
	Rows      []billing.PricedModel
	Total     int
	Overrides int
}

// priceFormView edits one model's price; Existing is nil for a model without one.
type priceFormView struct {
	Existing *billing.PricedModel
	Form     *webui.Form
}

func (u *UI) prices(c *gin.Context) {
	book, err := u.priceBookUI(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	search := strings.ToLower(strings.TrimSpace(c.Query("q")))
	v := pricesView{Search: c.Query("q"), Total: len(book)}
	for _, pm := range book {
		if pm.Source == billing.SourceOverride {
			v.Overrides++
		}
		if search == "" || strings.Contains(strings.ToLower(pm.Price.Model), search) || strings.Contains(strings.ToLower(pm.Price.Provider), search) {
			v.Rows = append(v.Rows, pm)
		}
	}
	u.render(c, http.StatusOK, "prices", view{Title: "Prices", Nav: "prices", Data: v})
}

func (u *UI) priceBookUI(c *gin.Context) ([]billing.PricedModel, error) {
	overrides, err := u.store.PriceOverrides(c.Request.Context())
	if err != nil {
		return nil, err
	}
	return billing.NewPriceBook(billing.DefaultPrices(), overrides).All(), nil
}

func (u *UI) editPrice(c *gin.Context) {
	model := strings.TrimSpace(c.Query("model"))
	f := webui.NewForm("model", model)
	var existing *billing.PricedModel
	if model != "" {
		book, err := u.priceBookUI(c)
		if err != nil {
			u.fail(c, err)
			return
		}
		for i := range book {
			if book[i].Price.Model == model {
				existing = &book[i]
			}
		}
	}
	if existing != nil {
		p := existing.Price
		f.Values.Set("input_usd_per_mtok", p.Input.PerMTok())
		f.Values.Set("output_usd_per_mtok", p.Output.PerMTok())
		if p.CachedInput != 0 {
			f.Values.Set("cached_input_usd_per_mtok", p.CachedInput.PerMTok())
		}
		if p.CacheWrite != 0 {
			f.Values.Set("cache_write_usd_per_mtok", p.CacheWrite.PerMTok())
		}
		f.Values.Set("context_window", strconv.FormatInt(p.ContextWindow, 10))
		f.Values.Set("max_output", strconv.FormatInt(p.MaxOutput, 10))
	}
	u.showPriceForm(c, http.StatusOK, existing, f)
}

func (u *UI) showPriceForm(c *gin.Context, status int, existing *billing.PricedModel, f *webui.Form) {
	title := "New price"
	if existing != nil {
		title = "Price of " + existing.Price.Model
	}
	u.render(c, status, "price", view{Title: title, Nav: "prices", Data: priceFormView{Existing: existing, Form: f}})
}

// priceRequestFrom reads the form into the JSON API's request, so both are checked
// by the same rules.
func priceRequestFrom(f *webui.Form) (priceRequest, error) {
	field := func(name string) decimal {
		v := f.Get(name)
		return decimal{text: v, set: v != ""}
	}
	r := priceRequest{Input: field("input_usd_per_mtok"), Output: field("output_usd_per_mtok"),
		CachedInput: field("cached_input_usd_per_mtok"), CacheWrite: field("cache_write_usd_per_mtok")}
	for _, n := range []struct {
		name string
		dst  **int64
	}{{"context_window", &r.ContextWindow}, {"max_output", &r.MaxOutput}} {
		s := f.Get(n.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return r, invalid(n.name, "Write a whole number of tokens (0: keep the default's, or unknown).")
		}
		*n.dst = &v
	}
	return r, nil
}

func (u *UI) savePrice(c *gin.Context) {
	f := webui.PostedForm(c)
	model := f.Get("model")
	err := checkText("model", model, true, 200)
	var req priceRequest
	if err == nil {
		req, err = priceRequestFrom(f)
	}
	var p billing.Price
	if err == nil {
		p, err = req.price(model)
	}
	if err == nil {
		err = u.store.PutPrice(c.Request.Context(), p)
	}
	if err != nil {
		u.showPriceForm(c, f.Fail(err, "model"), nil, f)
		return
	}
	to := UIPrefix + "/prices?q=" + url.QueryEscape(model)
	if err := u.reload(c, "price"); err != nil {
		redirect(c, to, "!"+webui.UserMessage(err))
		return
	}
	redirect(c, to, "Price of "+model+" saved: "+p.Input.PerMTok()+" in, "+p.Output.PerMTok()+" out, USD per 1M tokens.")
}

// resetPrice drops the operator's override so the built-in default applies again.
func (u *UI) resetPrice(c *gin.Context) {
	model := strings.TrimSpace(c.PostForm("model"))
	to := UIPrefix + "/prices?q=" + url.QueryEscape(model)
	if err := u.store.DeletePrice(c.Request.Context(), model); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			redirect(c, to, "!"+model+" has no override to reset.")
			return
		}
		u.fail(c, err)
		return
	}
	if err := u.reload(c, "price reset"); err != nil {
		redirect(c, to, "!"+webui.UserMessage(err))
		return
	}
	redirect(c, to, "Override of "+model+" removed; the default price (if any) applies again.")
}

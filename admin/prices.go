package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// priceJSON is one model's price in USD per million tokens, as decimal strings, as
// provider price pages print them. A null cached or cache-write price means "same as
// input", which is how the billing package charges it.
type priceJSON struct {
	Model         string  `json:"model"`
	Provider      string  `json:"provider"`
	Input         string  `json:"input_usd_per_mtok"`
	Output        string  `json:"output_usd_per_mtok"`
	CachedInput   *string `json:"cached_input_usd_per_mtok"`
	CacheWrite    *string `json:"cache_write_usd_per_mtok"`
	ContextWindow int64   `json:"context_window"`
	MaxOutput     int64   `json:"max_output"`
}

// pricedJSON is a row of the effective price book: the price, where it came from, and
// for an override the embedded default it replaces (null when there is none).
type pricedJSON struct {
	priceJSON
	Source  string     `json:"source"`
	Default *priceJSON `json:"default"`
}

func priceOut(p billing.Price) priceJSON {
	out := priceJSON{Model: p.Model, Provider: p.Provider, Input: p.Input.PerMTok(), Output: p.Output.PerMTok(),
		ContextWindow: p.ContextWindow, MaxOutput: p.MaxOutput}
	if p.CachedInput != 0 {
		s := p.CachedInput.PerMTok()
		out.CachedInput = &s
	}
	if p.CacheWrite != 0 {
		s := p.CacheWrite.PerMTok()
		out.CacheWrite = &s
	}
	return out
}

func pricedOut(pm billing.PricedModel) pricedJSON {
	out := pricedJSON{priceJSON: priceOut(pm.Price), Source: string(pm.Source)}
	if pm.Source == billing.SourceOverride && pm.Default != nil {
		d := priceOut(*pm.Default)
		out.Default = &d
	}
	return out
}

// priceBook builds the book the gateway serves with: embedded defaults merged with
// the operator's overrides, exactly as the router does.
func (a *API) priceBook(ctx context.Context) ([]billing.PricedModel, error) {
	overrides, err := a.store.PriceOverrides(ctx)
	if err != nil {
		return nil, err
	}
	return billing.NewPriceBook(billing.DefaultPrices(), overrides).All(), nil
}

// pricedModel finds one model's row by its exact name.
func (a *API) pricedModel(ctx context.Context, model string) (billing.PricedModel, error) {
	book, err := a.priceBook(ctx)
	if err != nil {
		return billing.PricedModel{}, err
	}
	for _, pm := range book {
		if pm.Price.Model == model {
			return pm, nil
		}
	}
	return billing.PricedModel{}, router.APIError(store.ErrNotFound, "model",
		"Model %q has no price, so the gateway refuses it. Set one with PUT %s/prices/%s.", shorten(model, 200), Prefix, shorten(model, 200))
}

// modelParam reads the model name from the catch-all path parameter, which keeps
// slashes (meta-llama/Llama-3.3-70B-Instruct-Turbo is one model).
func modelParam(c *gin.Context) (string, error) {
	m := strings.TrimSpace(strings.TrimPrefix(c.Param("model"), "/"))
	if m == "" {
		return "", invalid("model", "Name the model in the path, e.g. %s/prices/gpt-4o.", Prefix)
	}
	if err := checkText("model", m, true, 200); err != nil {
		return "", err
	}
	return m, nil
}

func (a *API) listPrices(c *gin.Context) error {
	book, err := a.priceBook(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]pricedJSON, len(book))
	for i, pm := range book {
		out[i] = pricedOut(pm)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) getPrice(c *gin.Context) error {
	model, err := modelParam(c)
	if err != nil {
		return err
	}
	pm, err := a.pricedModel(c.Request.Context(), model)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, pricedOut(pm))
	return nil
}

type priceRequest struct {
	Input         decimal `json:"input_usd_per_mtok"`
	Output        decimal `json:"output_usd_per_mtok"`
	CachedInput   decimal `json:"cached_input_usd_per_mtok"`
	CacheWrite    decimal `json:"cache_write_usd_per_mtok"`
	ContextWindow *int64  `json:"context_window"`
	MaxOutput     *int64  `json:"max_output"`
}

// maxTokenLimit bounds context_window and max_output: far above any real model, low
// enough that token arithmetic on it cannot overflow.
const maxTokenLimit = 1 << 40

// price converts the request for model, naming the first bad field.
func (r priceRequest) price(model string) (billing.Price, error) {
	p := billing.Price{Model: model}
	for _, f := range []struct {
		name     string
		d        decimal
		dst      *billing.PicoPerToken
		required bool
	}{
		{"input_usd_per_mtok", r.Input, &p.Input, true},
		{"output_usd_per_mtok", r.Output, &p.Output, true},
		{"cached_input_usd_per_mtok", r.CachedInput, &p.CachedInput, false},
		{"cache_write_usd_per_mtok", r.CacheWrite, &p.CacheWrite, false},
	} {
		if !f.d.set {
			if f.required {
				return p, invalid(f.name, "%s is required: the price in USD per 1M tokens, e.g. \"2.50\".", f.name)
			}
			continue
		}
		v, err := f.d.perMTok(f.name)
		if err != nil {
			return p, err
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		v    *int64
		dst  *int64
	}{{"context_window", r.ContextWindow, &p.ContextWindow}, {"max_output", r.MaxOutput, &p.MaxOutput}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || *f.v > maxTokenLimit {
			return p, invalid(f.name, "%s must be a token count from 0 to %d (0: keep the default's, or no limit known).", f.name, int64(maxTokenLimit))
		}
		*f.dst = *f.v
	}
	if err := p.Validate(); err != nil {
		return p, invalid("", "The price is not valid: %v.", err)
	}
	return p, nil
}

// putPrice sets an operator's price for a model, replacing the embedded default's
// prices; a zero context window or output cap keeps the default's.
func (a *API) putPrice(c *gin.Context) error {
	model, err := modelParam(c)
	if err != nil {
		return err
	}
	var req priceRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	p, err := req.price(model)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := a.store.PutPrice(ctx, p); err != nil {
		return err
	}
	if err := a.reload(c, "price"); err != nil {
		return err
	}
	pm, err := a.pricedModel(ctx, model)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, pricedOut(pm))
	return nil
}

// deletePrice removes an operator's override, so the embedded default (if the model
// has one) applies again.
func (a *API) deletePrice(c *gin.Context) error {
	model, err := modelParam(c)
	if err != nil {
		return err
	}
	if err := a.store.DeletePrice(c.Request.Context(), model); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return router.APIError(store.ErrNotFound, "model", "Model %q has no price override to delete; GET %s/prices shows each price's source.", shorten(model, 200), Prefix)
		}
		return err
	}
	if err := a.reload(c, "price deletion"); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/anthropic"
	"github.com/tollgate-gw/tollgate/providers/gemini"
	"github.com/tollgate-gw/tollgate/providers/openai"
	"github.com/tollgate-gw/tollgate/store"
)

// route is one channel able to serve a model, with its adapter ready to call.
type route struct {
	channel  store.Channel
	provider providers.Provider
}

// catalog is an immutable snapshot of what the gateway can serve: channels by model
// and the price book. Calls read it without locks; a reload swaps in a new one.
type catalog struct {
	byModel map[string][]route
	prices  *billing.PriceBook
}

// buildCatalog reads channels and price overrides and prepares an adapter per
// channel; channels whose adapter cannot be built are left out and reported.
func buildCatalog(ctx context.Context, st *store.Store, client *http.Client) (cat *catalog, problems []error, err error) {
	channels, err := st.ListChannels(ctx)
	if err != nil {
		return nil, nil, err
	}
	overrides, err := st.PriceOverrides(ctx)
	if err != nil {
		return nil, nil, err
	}
	cat = &catalog{byModel: map[string][]route{}, prices: billing.NewPriceBook(billing.DefaultPrices(), overrides)}
	for _, ch := range channels {
		if !ch.Enabled {
			continue
		}
		p, err := NewProvider(ch, client)
		if err != nil {
			// One misconfigured channel must not take the others down with it.
			problems = append(problems, fmt.Errorf("channel %s (%s) left out: %w", ch.Name, ch.ID, err))
			continue
		}
		for _, m := range ch.Models {
			cat.byModel[m] = append(cat.byModel[m], route{channel: ch, provider: p})
		}
	}
	for _, rs := range cat.byModel {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].channel.Priority > rs[j].channel.Priority })
	}
	return cat, problems, nil
}

// streamIdleTimeout ends a stream whose upstream has sent nothing for this long, so a
// stalled upstream cannot hold a client (and its hold) until the call's deadline.
const streamIdleTimeout = 2 * time.Minute

// NewProvider builds the adapter for a channel's provider: Anthropic's or Gemini's
// own API, or
// OpenAI's wire format with a host preset (openai, azure, deepseek, mistral, …).
func NewProvider(ch store.Channel, client *http.Client) (providers.Provider, error) {
	switch ch.Provider {
	case "anthropic":
		if ch.APIKey == "" {
			return nil, errors.New("provider anthropic needs an API key")
		}
		return anthropic.New(anthropic.Config{BaseURL: ch.BaseURL, APIKey: ch.APIKey, HTTPClient: client, StreamIdleTimeout: streamIdleTimeout}), nil
	case "gemini":
		if ch.APIKey == "" {
			return nil, errors.New("provider gemini needs an API key")
		}
		return gemini.New(gemini.Config{BaseURL: ch.BaseURL, APIKey: ch.APIKey, HTTPClient: client, StreamIdleTimeout: streamIdleTimeout}), nil
	}
	c, err := openai.NewPreset(ch.Provider, openai.Config{BaseURL: ch.BaseURL, APIKey: ch.APIKey, HTTPClient: client, StreamIdleTimeout: streamIdleTimeout}, ch.Options)
	if err != nil {
		return nil, err
	}
	return c.Provider(), nil
}

// KnownProviders lists the provider names a channel may use.
func KnownProviders() []string {
	names := []string{"anthropic", "gemini"}
	for _, p := range openai.Presets() {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// plan orders a model's channels for one call: by priority, and within a priority
// by a weighted random draw, so traffic splits by weight and a failed channel's
// peers are tried next.
func (c *catalog) plan(model string) []route {
	rs := c.byModel[model]
	if len(rs) <= 1 {
		return rs
	}
	out := make([]route, 0, len(rs))
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].channel.Priority == rs[i].channel.Priority {
			j++
		}
		out = append(out, weightedShuffle(rs[i:j])...)
		i = j
	}
	return out
}

func weightedShuffle(rs []route) []route {
	if len(rs) == 1 {
		return rs
	}
	pool := append([]route(nil), rs...)
	out := make([]route, 0, len(rs))
	for len(pool) > 0 {
		total := 0
		for _, r := range pool {
			total += max(r.channel.Weight, 1)
		}
		pick := rand.IntN(total) // #nosec G404 -- spreads calls over channels by weight; nothing secret depends on it
		for i, r := range pool {
			pick -= max(r.channel.Weight, 1)
			if pick < 0 {
				out = append(out, r)
				pool = append(pool[:i], pool[i+1:]...)
				break
			}
		}
	}
	return out
}

// models lists every model that has both a channel and a price, sorted.
func (c *catalog) models() []string {
	out := make([]string, 0, len(c.byModel))
	for m := range c.byModel {
		if _, _, ok := c.prices.Lookup(m); ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

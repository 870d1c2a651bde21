package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrBadUsage reports token counts that cannot describe a real call (negative,
// or more cached tokens than prompt tokens); billing such a call would invent
// a number, so Cost refuses it.
var ErrBadUsage = errors.New("billing: bad usage")

// Usage is what one upstream call consumed, in the OpenAI convention the whole
// gateway meters in: PromptTokens includes CachedTokens and CacheWriteTokens,
// CompletionTokens includes ReasoningTokens. Adapters for other wire formats
// convert to this shape so that Cost has one rule.
type Usage struct {
	PromptTokens     int64 // all input tokens, cached and cache-write included
	CachedTokens     int64 // input tokens read from the provider's prompt cache
	CacheWriteTokens int64 // input tokens written to the provider's prompt cache
	CompletionTokens int64 // all output tokens, reasoning included
	ReasoningTokens  int64 // informational: already inside CompletionTokens, not priced again
}

// Price is one model's list price and limits. Prices are exact integers per
// token; the limits let the router refuse an over-long prompt early and size
// the hold when a client sends no max_tokens.
type Price struct {
	Model         string       `json:"model"`
	Provider      string       `json:"provider"` // who makes the model: "openai", "anthropic", "google", "mistral", "deepseek", "qwen", "meta", ...
	Input         PicoPerToken `json:"-"`        // uncached input tokens
	Output        PicoPerToken `json:"-"`        // output tokens, reasoning included
	CachedInput   PicoPerToken `json:"-"`        // input read from the prompt cache; 0 = same as Input
	CacheWrite    PicoPerToken `json:"-"`        // input written to the prompt cache; 0 = same as Input
	ContextWindow int64        `json:"context_window"`
	MaxOutput     int64        `json:"max_output"`
}

// cachedInput is the price actually charged for a cache-read token.
func (p Price) cachedInput() PicoPerToken {
	if p.CachedInput == 0 {
		return p.Input
	}
	return p.CachedInput
}

// cacheWrite is the price actually charged for a cache-write token.
func (p Price) cacheWrite() PicoPerToken {
	if p.CacheWrite == 0 {
		return p.Input
	}
	return p.CacheWrite
}

// maxInput is the highest price any prompt token can be charged at, which is
// what a hold must assume before the provider says how much was cached.
func (p Price) maxInput() PicoPerToken {
	return max(p.Input, p.cachedInput(), p.cacheWrite())
}

// checkPrices refuses negative prices, which would turn a bill into a credit.
func (p Price) checkPrices() error {
	for _, f := range [...]struct {
		name string
		v    PicoPerToken
	}{{"input", p.Input}, {"output", p.Output}, {"cached input", p.CachedInput}, {"cache write", p.CacheWrite}} {
		if f.v < 0 {
			return fmt.Errorf("%w: model %q has a negative %s price (%d pico-USD per token)", ErrBadPrice, p.Model, f.name, int64(f.v))
		}
	}
	return nil
}

// Validate reports whether the price can be stored and served: a model name,
// no negative price and no negative limit. Store and admin code call it before
// accepting an override, because NewPriceBook itself cannot fail.
func (p Price) Validate() error {
	if p.Model == "" {
		return fmt.Errorf("%w: model name is empty", ErrBadPrice)
	}
	if err := p.checkPrices(); err != nil {
		return err
	}
	if p.ContextWindow < 0 || p.MaxOutput < 0 {
		return fmt.Errorf("%w: model %q has a negative context window or output cap", ErrBadPrice, p.Model)
	}
	return nil
}

// Cost is the exact price of a finished call in nano-USD:
// ceil((uncached×Input + cached×CachedInput + cacheWrite×CacheWrite +
// completion×Output) / 1000), with uncached = Prompt − Cached − CacheWrite.
// Rounding up means a call is never billed below its price. Every product and
// sum is overflow-checked (ErrOverflow); negative counts or more cached tokens
// than prompt tokens are ErrBadUsage; negative prices are ErrBadPrice. The
// result is never negative.
func (p Price) Cost(u Usage) (Nanos, error) {
	if err := p.checkPrices(); err != nil {
		return 0, err
	}
	if u.PromptTokens < 0 || u.CachedTokens < 0 || u.CacheWriteTokens < 0 || u.CompletionTokens < 0 || u.ReasoningTokens < 0 {
		return 0, fmt.Errorf("%w: negative token count in %+v", ErrBadUsage, u)
	}
	if u.CachedTokens > u.PromptTokens || u.CacheWriteTokens > u.PromptTokens-u.CachedTokens {
		return 0, fmt.Errorf("%w: cached (%d) + cache-write (%d) tokens exceed prompt tokens (%d)", ErrBadUsage, u.CachedTokens, u.CacheWriteTokens, u.PromptTokens)
	}
	uncached := u.PromptTokens - u.CachedTokens - u.CacheWriteTokens
	var acc picoSum
	acc.addProduct(uncached, int64(p.Input))
	acc.addProduct(u.CachedTokens, int64(p.cachedInput()))
	acc.addProduct(u.CacheWriteTokens, int64(p.cacheWrite()))
	acc.addProduct(u.CompletionTokens, int64(p.Output))
	if acc.overflow {
		return 0, fmt.Errorf("%w: cost of %+v at %q prices exceeds %d pico-USD", ErrOverflow, u, p.Model, int64(math.MaxInt64))
	}
	return picoToNanosCeil(acc.v), nil
}

// Bound is the most a call can cost before it runs, used as the hold:
// promptTokens at the dearest input price (the provider may report any of
// them as cached or cache-write) plus maxOutputTokens×n at the output price,
// rounded up to whole nano-USD. n < 1 counts as 1 (one choice). Negative token
// counts are ErrBadUsage, overflow is ErrOverflow.
func (p Price) Bound(promptTokens, maxOutputTokens, n int64) (Nanos, error) {
	if err := p.checkPrices(); err != nil {
		return 0, err
	}
	if promptTokens < 0 || maxOutputTokens < 0 {
		return 0, fmt.Errorf("%w: negative token count (prompt %d, max output %d)", ErrBadUsage, promptTokens, maxOutputTokens)
	}
	n = max(n, 1)
	var acc picoSum
	acc.addProduct(promptTokens, int64(p.maxInput()))
	if maxOutputTokens != 0 && p.Output != 0 {
		// n×Output first: every factor is ≥ 1 here, so no intermediate exceeds
		// the true product and an overflow error means the product overflows.
		perOutput, ok := mulNonNeg(n, int64(p.Output))
		if !ok {
			acc.overflow = true
		} else {
			acc.addProduct(maxOutputTokens, perOutput)
		}
	}
	if acc.overflow {
		return 0, fmt.Errorf("%w: hold for %d prompt + %d×%d output tokens at %q prices exceeds %d pico-USD", ErrOverflow, promptTokens, maxOutputTokens, n, p.Model, int64(math.MaxInt64))
	}
	return picoToNanosCeil(acc.v), nil
}

// AffordableOutput is the largest output-token budget m ≥ 0 for which
// Bound(promptTokens, m, n) ≤ available; the router injects it as max_tokens
// when a client sends none, so the call cannot overdraw the wallet. It returns
// 0 when not even the prompt fits (or the inputs are invalid), and
// math.MaxInt64 when Output is 0 and the prompt fits. Integer-exact.
func (p Price) AffordableOutput(available Nanos, promptTokens, n int64) int64 {
	if available < 0 || promptTokens < 0 || p.checkPrices() != nil {
		return 0
	}
	n = max(n, 1)
	// Bound(m) = ceil(x/1000) ≤ available  ⇔  x ≤ 1000×available, for integer
	// x. Bound also fails when x overflows int64, so the usable pico budget is
	// min(1000×available, MaxInt64).
	limit, ok := mulNonNeg(int64(available), 1000)
	if !ok {
		limit = math.MaxInt64
	}
	promptPico, ok := mulNonNeg(promptTokens, int64(p.maxInput()))
	if !ok || promptPico > limit {
		return 0
	}
	if p.Output == 0 {
		return math.MaxInt64
	}
	perOutput, ok := mulNonNeg(n, int64(p.Output))
	if !ok {
		return 0 // even one output token overflows Bound
	}
	return (limit - promptPico) / perOutput
}

// picoSum accumulates non-negative pico-USD terms and remembers overflow, so
// the cost formula reads as the formula.
type picoSum struct {
	v        int64
	overflow bool
}

func (s *picoSum) addProduct(tokens, price int64) {
	if s.overflow {
		return
	}
	prod, ok := mulNonNeg(tokens, price)
	if !ok || prod > math.MaxInt64-s.v {
		s.overflow = true
		return
	}
	s.v += prod
}

// mulNonNeg multiplies two non-negative int64s, reporting false on overflow.
func mulNonNeg(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

// picoToNanosCeil converts a non-negative pico-USD sum to nano-USD, rounding
// up; written without adding 999 so MaxInt64 cannot overflow.
func picoToNanosCeil(pico int64) Nanos {
	q := pico / 1000
	if pico%1000 != 0 {
		q++
	}
	return Nanos(q)
}

// priceJSON is the wire and file form of a Price: prices as decimal strings in
// USD per million tokens, as providers publish them.
type priceJSON struct {
	Model         string  `json:"model"`
	Provider      string  `json:"provider"`
	Input         *string `json:"input_usd_per_mtok"`
	Output        *string `json:"output_usd_per_mtok"`
	CachedInput   string  `json:"cached_input_usd_per_mtok,omitempty"`
	CacheWrite    string  `json:"cache_write_usd_per_mtok,omitempty"`
	ContextWindow int64   `json:"context_window"`
	MaxOutput     int64   `json:"max_output"`
}

// MarshalJSON writes the price in the prices.json form, with prices as decimal
// strings so that no JSON reader ever sees them as floats.
func (p Price) MarshalJSON() ([]byte, error) {
	in, out := p.Input.PerMTok(), p.Output.PerMTok()
	j := priceJSON{
		Model:         p.Model,
		Provider:      p.Provider,
		Input:         &in,
		Output:        &out,
		ContextWindow: p.ContextWindow,
		MaxOutput:     p.MaxOutput,
	}
	if p.CachedInput != 0 {
		j.CachedInput = p.CachedInput.PerMTok()
	}
	if p.CacheWrite != 0 {
		j.CacheWrite = p.CacheWrite.PerMTok()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the prices.json form strictly: unknown fields, a missing
// model, input or output price, or a malformed price string are errors
// wrapping ErrBadPrice, because a typo in a price list must not silently
// become a zero price.
func (p *Price) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j priceJSON
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPrice, err)
	}
	if j.Model == "" {
		return fmt.Errorf("%w: entry has no \"model\"", ErrBadPrice)
	}
	if j.Input == nil || j.Output == nil {
		return fmt.Errorf("%w: model %q needs both input_usd_per_mtok and output_usd_per_mtok", ErrBadPrice, j.Model)
	}
	var q Price
	q.Model, q.Provider = j.Model, j.Provider
	q.ContextWindow, q.MaxOutput = j.ContextWindow, j.MaxOutput
	for _, f := range [...]struct {
		name string
		s    string
		dst  *PicoPerToken
		opt  bool
	}{
		{"input_usd_per_mtok", *j.Input, &q.Input, false},
		{"output_usd_per_mtok", *j.Output, &q.Output, false},
		{"cached_input_usd_per_mtok", j.CachedInput, &q.CachedInput, true},
		{"cache_write_usd_per_mtok", j.CacheWrite, &q.CacheWrite, true},
	} {
		if f.opt && f.s == "" {
			continue
		}
		v, err := ParsePerMTok(f.s)
		if err != nil {
			return fmt.Errorf("model %q %s: %w", j.Model, f.name, err)
		}
		*f.dst = v
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

package billing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// embeddedPrices is the list-price book shipped with the binary, so a fresh
// install can price well-known models without any configuration.
//
//go:embed prices.json
var embeddedPrices []byte

var (
	defaultPricesOnce sync.Once
	defaultPrices     []Price
)

// DefaultPrices returns the embedded list prices, sorted by model. The file is
// parsed once; a broken file is a build defect, so it panics (a test parses
// it on every run). The caller gets its own copy and may modify it.
func DefaultPrices() []Price {
	defaultPricesOnce.Do(func() {
		ps, err := ParsePrices(embeddedPrices)
		if err != nil {
			panic(fmt.Sprintf("billing: embedded prices.json is broken: %v", err))
		}
		defaultPrices = ps
	})
	return slices.Clone(defaultPrices)
}

// ParsePrices reads a prices.json-style JSON array into Prices sorted by
// model, refusing malformed entries and duplicate model names, so an operator's
// price file is checked as strictly as the embedded one.
func ParsePrices(data []byte) ([]Price, error) {
	var ps []Price
	if err := json.Unmarshal(data, &ps); err != nil {
		return nil, fmt.Errorf("parse price list: %w", err)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if seen[p.Model] {
			return nil, fmt.Errorf("%w: model %q is listed twice", ErrBadPrice, p.Model)
		}
		seen[p.Model] = true
	}
	slices.SortFunc(ps, func(a, b Price) int { return strings.Compare(a.Model, b.Model) })
	return ps, nil
}

// Source says where a model's effective price came from, so the admin screen
// can show which prices an operator changed.
type Source string

// The two price sources: the embedded list price, or an operator's override.
const (
	SourceDefault  Source = "default"
	SourceOverride Source = "override"
)

// PricedModel is one row of the price book for the admin "defaults vs
// overrides" screen: the effective Price, its Source, and the embedded
// default it replaced (nil when the model has no default).
type PricedModel struct {
	Price   Price
	Source  Source
	Default *Price
}

// PriceBook is an immutable snapshot of every priced model. Build a new one
// when prices change and swap the pointer; readers never lock.
type PriceBook struct {
	byModel map[string]int // index into models
	models  []PricedModel  // sorted by model
}

// NewPriceBook merges defaults and overrides into a snapshot. An override
// replaces the default's four prices wholesale (a zero CachedInput or
// CacheWrite then means "same as Input", not "keep the default's"), and keeps
// the default's Provider, ContextWindow and MaxOutput where it leaves them
// empty. Later entries win over earlier ones with the same model; entries
// with an empty model are ignored. Use Price.Validate before storing an
// override: this constructor trusts its input and cannot fail.
func NewPriceBook(defaults, overrides []Price) *PriceBook {
	rows := make(map[string]PricedModel, len(defaults)+len(overrides))
	for _, d := range defaults {
		if d.Model == "" {
			continue
		}
		def := d
		rows[d.Model] = PricedModel{Price: d, Source: SourceDefault, Default: &def}
	}
	for _, o := range overrides {
		if o.Model == "" {
			continue
		}
		row := rows[o.Model]
		if row.Default != nil {
			d := row.Default
			if o.Provider == "" {
				o.Provider = d.Provider
			}
			if o.ContextWindow == 0 {
				o.ContextWindow = d.ContextWindow
			}
			if o.MaxOutput == 0 {
				o.MaxOutput = d.MaxOutput
			}
		}
		row.Price, row.Source = o, SourceOverride
		rows[o.Model] = row
	}
	b := &PriceBook{byModel: make(map[string]int, len(rows)), models: make([]PricedModel, 0, len(rows))}
	for _, r := range rows {
		b.models = append(b.models, r)
	}
	slices.SortFunc(b.models, func(x, y PricedModel) int { return strings.Compare(x.Price.Model, y.Price.Model) })
	for i, r := range b.models {
		b.byModel[r.Price.Model] = i
	}
	return b
}

// Lookup finds the price for a requested model name: the exact name first,
// then, if the name ends in a snapshot date (-2024-08-06 or -20241022), the
// name without it, because providers price dated snapshots like their alias.
// Nothing else is fuzzy: an unknown model must be refused, never guessed. The
// returned Price carries the book's model name, which may differ from the
// requested one. A nil book knows no model.
func (b *PriceBook) Lookup(model string) (Price, Source, bool) {
	if b == nil {
		return Price{}, "", false
	}
	if i, ok := b.byModel[model]; ok {
		return b.models[i].Price, b.models[i].Source, true
	}
	if base, ok := trimDateSuffix(model); ok {
		if i, ok := b.byModel[base]; ok {
			return b.models[i].Price, b.models[i].Source, true
		}
	}
	return Price{}, "", false
}

// All lists every model in the book, sorted by name, with its source and
// embedded default. The slice and the Default pointers are fresh copies, so a
// caller cannot change the shared snapshot.
func (b *PriceBook) All() []PricedModel {
	if b == nil {
		return nil
	}
	out := make([]PricedModel, len(b.models))
	for i, r := range b.models {
		if r.Default != nil {
			d := *r.Default
			r.Default = &d
		}
		out[i] = r
	}
	return out
}

// trimDateSuffix strips a trailing "-YYYY-MM-DD" or "-YYYYMMDD" that looks
// like a real date (years 2000-2099), reporting whether it did.
func trimDateSuffix(model string) (string, bool) {
	if n := len(model); n > 11 && model[n-11] == '-' && model[n-6] == '-' && model[n-3] == '-' {
		d := model[n-10:n-6] + model[n-5:n-3] + model[n-2:]
		if plausibleDate(d) {
			return model[:n-11], true
		}
	}
	if n := len(model); n > 9 && model[n-9] == '-' && plausibleDate(model[n-8:]) {
		return model[:n-9], true
	}
	return "", false
}

// plausibleDate reports whether d is eight digits YYYYMMDD with year 20xx,
// month 01-12 and day 01-31, so names like "model-12345678" are left alone.
func plausibleDate(d string) bool {
	if len(d) != 8 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	month := int(d[4]-'0')*10 + int(d[5]-'0')
	day := int(d[6]-'0')*10 + int(d[7]-'0')
	return d[:2] == "20" && month >= 1 && month <= 12 && day >= 1 && day <= 31
}

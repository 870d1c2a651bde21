package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func isEmbeddingModel(model string) bool {
	return strings.Contains(model, "embed")
}

func TestDefaultPrices(t *testing.T) {
	ps := DefaultPrices()
	if len(ps) < 40 {
		t.Fatalf("embedded book has %d models, want at least 40", len(ps))
	}
	t.Run("SortedAndUnique", func(t *testing.T) {
		for i := 1; i < len(ps); i++ {
			if ps[i-1].Model >= ps[i].Model {
				t.Fatalf("not sorted/unique at %d: %q then %q", i, ps[i-1].Model, ps[i].Model)
			}
		}
	})
	t.Run("EveryEntryValid", func(t *testing.T) {
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Errorf("%s: %v", p.Model, err)
			}
			if p.Provider == "" {
				t.Errorf("%s: no provider", p.Model)
			}
			if p.Input <= 0 {
				t.Errorf("%s: input price %d, want > 0 (a listed model is never free)", p.Model, p.Input)
			}
			if p.ContextWindow <= 0 {
				t.Errorf("%s: context window %d, want > 0", p.Model, p.ContextWindow)
			}
			if isEmbeddingModel(p.Model) {
				if p.Output != 0 || p.MaxOutput != 0 {
					t.Errorf("%s: embedding model has output price %d / max output %d, want 0/0", p.Model, p.Output, p.MaxOutput)
				}
				continue
			}
			if p.Output <= 0 || p.MaxOutput <= 0 {
				t.Errorf("%s: chat model has output price %d / max output %d, want > 0", p.Model, p.Output, p.MaxOutput)
			}
			if p.MaxOutput > p.ContextWindow {
				t.Errorf("%s: max output %d exceeds context window %d", p.Model, p.MaxOutput, p.ContextWindow)
			}
			if p.CachedInput > p.Input {
				t.Errorf("%s: cached input %s dearer than input %s", p.Model, p.CachedInput.PerMTok(), p.Input.PerMTok())
			}
		}
	})
	t.Run("AnthropicCacheMultipliers", func(t *testing.T) {
		for _, p := range ps {
			// Claude 3 Haiku predates the rule: its list prices are 0.30 / 0.03.
			if p.Provider != "anthropic" || p.Model == "claude-3-haiku-20240307" {
				continue
			}
			// Cache write (5-minute) is 1.25× input, cache read 0.1× input.
			if p.CacheWrite*4 != p.Input*5 || p.CachedInput*10 != p.Input {
				t.Errorf("%s: input %s, write %s, read %s; want write 1.25×, read 0.1×",
					p.Model, p.Input.PerMTok(), p.CacheWrite.PerMTok(), p.CachedInput.PerMTok())
			}
		}
	})
	t.Run("RequiredModelsPresent", func(t *testing.T) {
		required := []string{
			"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
			"gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-3.5-turbo", "gpt-4-turbo",
			"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
			"claude-opus-4-1", "claude-opus-4", "claude-sonnet-4", "claude-sonnet-4-5", "claude-3-7-sonnet-latest",
			"claude-3-5-haiku-latest", "claude-haiku-4-5",
			"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-embedding-001",
			"mistral-large-latest", "mistral-small-latest", "codestral-latest", "mistral-embed",
			"deepseek-chat", "deepseek-reasoner", "qwen-max", "qwen-plus", "qwen-turbo",
			"llama-3.3-70b-versatile", "llama-3.1-8b-instant", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
		}
		for _, m := range required {
			if !slices.ContainsFunc(ps, func(p Price) bool { return p.Model == m }) {
				t.Errorf("model %q missing from prices.json", m)
			}
		}
	})
	t.Run("KnownListPrices", func(t *testing.T) {
		book := NewPriceBook(ps, nil)
		cases := []struct{ model, in, out, cached, ctx, maxOut string }{
			{"gpt-4o", "2.5", "10", "1.25", "128000", "16384"},
			{"gpt-4o-mini", "0.15", "0.6", "0.075", "128000", "16384"},
			{"claude-sonnet-4", "3", "15", "0.3", "200000", "64000"},
			{"claude-haiku-4-5", "1", "5", "0.1", "200000", "64000"},
			{"deepseek-reasoner", "0.28", "0.42", "0.028", "128000", "64000"},
		}
		for _, c := range cases {
			p, src, ok := book.Lookup(c.model)
			if !ok || src != SourceDefault {
				t.Fatalf("Lookup(%q) = %v, %v", c.model, ok, src)
			}
			got := fmt.Sprintf("%s %s %s %d %d", p.Input.PerMTok(), p.Output.PerMTok(), p.cachedInput().PerMTok(), p.ContextWindow, p.MaxOutput)
			want := strings.Join([]string{c.in, c.out, c.cached, c.ctx, c.maxOut}, " ")
			if got != want {
				t.Errorf("%s: got %q, want %q", c.model, got, want)
			}
		}
	})
	t.Run("ReturnsACopy", func(t *testing.T) {
		a := DefaultPrices()
		a[0].Input = 999
		if b := DefaultPrices(); b[0].Input == 999 {
			t.Fatal("DefaultPrices shares its slice with callers")
		}
	})
	t.Run("MarshalRoundTrips", func(t *testing.T) {
		data, err := json.Marshal(ps)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrices(data)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back, ps) {
			t.Fatal("marshal/parse of the default book changed it")
		}
	})
}

func TestParsePrices(t *testing.T) {
	t.Run("ErrBadPriceDuplicateModel", func(t *testing.T) {
		_, err := ParsePrices([]byte(`[{"model":"a","input_usd_per_mtok":"1","output_usd_per_mtok":"1"},{"model":"a","input_usd_per_mtok":"2","output_usd_per_mtok":"2"}]`))
		if !errors.Is(err, ErrBadPrice) {
			t.Fatalf("err = %v, want ErrBadPrice", err)
		}
	})
	t.Run("ErrBadPriceBadEntry", func(t *testing.T) {
		_, err := ParsePrices([]byte(`[{"model":"a","input_usd_per_mtok":"1.","output_usd_per_mtok":"1"}]`))
		if !errors.Is(err, ErrBadPrice) {
			t.Fatalf("err = %v, want ErrBadPrice", err)
		}
	})
	t.Run("ErrorNotAnArray", func(t *testing.T) {
		if _, err := ParsePrices([]byte(`{}`)); err == nil {
			t.Fatal("want error")
		}
	})
	t.Run("SortsByModel", func(t *testing.T) {
		ps, err := ParsePrices([]byte(`[{"model":"b","input_usd_per_mtok":"1","output_usd_per_mtok":"1"},{"model":"a","input_usd_per_mtok":"2","output_usd_per_mtok":"2"}]`))
		if err != nil || len(ps) != 2 || ps[0].Model != "a" {
			t.Fatalf("ParsePrices = %+v, %v", ps, err)
		}
	})
}

func TestPriceBook(t *testing.T) {
	defaults := []Price{
		{Model: "gpt-4o", Provider: "openai", Input: 2_500_000, Output: 10_000_000, CachedInput: 1_250_000, ContextWindow: 128000, MaxOutput: 16384},
		{Model: "gpt-4o-2024-05-13", Provider: "openai", Input: 5_000_000, Output: 15_000_000, ContextWindow: 128000, MaxOutput: 4096},
		{Model: "claude-sonnet-4", Provider: "anthropic", Input: 3_000_000, Output: 15_000_000, ContextWindow: 200000, MaxOutput: 64000},
		{Model: "mini", Provider: "openai", Input: 1, Output: 2, ContextWindow: 10, MaxOutput: 5},
	}
	overrides := []Price{
		{Model: "claude-sonnet-4", Input: 4_000_000, Output: 20_000_000},                         // keeps provider and limits
		{Model: "mini", Provider: "acme", Input: 7, Output: 8, ContextWindow: 99, MaxOutput: 33}, // replaces limits
		{Model: "house-model", Provider: "self", Input: 1, Output: 1, ContextWindow: 4096, MaxOutput: 1024},
		{Model: ""}, // ignored
	}
	book := NewPriceBook(defaults, overrides)

	lookups := []struct {
		name, model, wantModel string
		wantSource             Source
		wantInput              PicoPerToken
	}{
		{"DefaultExact", "gpt-4o", "gpt-4o", SourceDefault, 2_500_000},
		{"OverrideReplacesDefault", "claude-sonnet-4", "claude-sonnet-4", SourceOverride, 4_000_000},
		{"OverrideOnlyModel", "house-model", "house-model", SourceOverride, 1},
		{"DashedDateSuffix", "gpt-4o-2024-08-06", "gpt-4o", SourceDefault, 2_500_000},
		{"CompactDateSuffix", "claude-sonnet-4-20250514", "claude-sonnet-4", SourceOverride, 4_000_000},
		{"ExactDatedEntryWins", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13", SourceDefault, 5_000_000},
	}
	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			p, src, ok := book.Lookup(tc.model)
			if !ok {
				t.Fatalf("Lookup(%q) not found", tc.model)
			}
			if p.Model != tc.wantModel || src != tc.wantSource || p.Input != tc.wantInput {
				t.Fatalf("Lookup(%q) = %s/%s/%d, want %s/%s/%d", tc.model, p.Model, src, p.Input, tc.wantModel, tc.wantSource, tc.wantInput)
			}
		})
	}

	for _, model := range []string{
		"", "gpt-4", "gpt-4o-mini", "GPT-4O", "gpt-4o ", "gpt-4o-latest", "gpt-4o-2024-13-01", "gpt-4o-1999-01-01",
		"gpt-4o-20241332", "gpt-4o-12345678", "gpt-4o-2024-08-6", "-2024-08-06", "-20240806", "gpt-4o-mini-2024-07-18",
		"openai/gpt-4o",
	} {
		t.Run("NotFound"+strings.ReplaceAll(model, "/", "_"), func(t *testing.T) {
			if p, _, ok := book.Lookup(model); ok {
				t.Fatalf("Lookup(%q) found %q, want nothing (no fuzzy matching)", model, p.Model)
			}
		})
	}

	t.Run("OverrideKeepsDefaultLimitsAndProvider", func(t *testing.T) {
		p, _, _ := book.Lookup("claude-sonnet-4")
		if p.Provider != "anthropic" || p.ContextWindow != 200000 || p.MaxOutput != 64000 {
			t.Fatalf("got %+v", p)
		}
	})
	t.Run("OverrideReplacesLimits", func(t *testing.T) {
		p, _, _ := book.Lookup("mini")
		if p.Provider != "acme" || p.ContextWindow != 99 || p.MaxOutput != 33 || p.Input != 7 {
			t.Fatalf("got %+v", p)
		}
	})
	t.Run("OverrideReplacesCachedPriceWholesale", func(t *testing.T) {
		b := NewPriceBook(defaults, []Price{{Model: "gpt-4o", Input: 3_000_000, Output: 12_000_000}})
		p, _, _ := b.Lookup("gpt-4o")
		if p.CachedInput != 0 {
			t.Fatalf("override inherited default cached price %d", p.CachedInput)
		}
	})
	t.Run("AllListsDefaultsAndOverrides", func(t *testing.T) {
		all := book.All()
		var names []string
		for _, r := range all {
			names = append(names, fmt.Sprintf("%s:%s:%v", r.Price.Model, r.Source, r.Default != nil))
		}
		want := []string{
			"claude-sonnet-4:override:true", "gpt-4o:default:true", "gpt-4o-2024-05-13:default:true",
			"house-model:override:false", "mini:override:true",
		}
		if !slices.Equal(names, want) {
			t.Fatalf("All() = %v\nwant    %v", names, want)
		}
		if all[0].Default.Input != 3_000_000 || all[0].Price.Input != 4_000_000 {
			t.Fatalf("claude-sonnet-4 row = %+v / default %+v", all[0].Price, *all[0].Default)
		}
	})
	t.Run("AllReturnsCopies", func(t *testing.T) {
		all := book.All()
		all[0].Default.Input = 1
		all[0].Price.Input = 1
		again := book.All()
		if again[0].Default.Input != 3_000_000 || again[0].Price.Input != 4_000_000 {
			t.Fatal("All() exposes the book's internal state")
		}
	})
	t.Run("DuplicateDefaultLastWins", func(t *testing.T) {
		b := NewPriceBook([]Price{{Model: "a", Input: 1}, {Model: "a", Input: 2}}, nil)
		if p, _, _ := b.Lookup("a"); p.Input != 2 {
			t.Fatalf("got %d, want 2", p.Input)
		}
	})
	t.Run("NilBookKnowsNothing", func(t *testing.T) {
		var b *PriceBook
		if _, _, ok := b.Lookup("gpt-4o"); ok || b.All() != nil {
			t.Fatal("nil book found a model")
		}
	})
	t.Run("EmptyBookKnowsNothing", func(t *testing.T) {
		if _, _, ok := NewPriceBook(nil, nil).Lookup("gpt-4o"); ok {
			t.Fatal("empty book found a model")
		}
	})
	t.Run("ConcurrentReaders", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 500 {
					if _, _, ok := book.Lookup("gpt-4o-2024-08-06"); !ok {
						t.Error("lookup failed")
						return
					}
					if j%50 == i {
						_ = book.All()
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestDefaultBookDatedSnapshots(t *testing.T) {
	book := NewPriceBook(DefaultPrices(), nil)
	cases := []struct{ requested, priced string }{
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-2024-05-13", "gpt-4o-2024-05-13"}, // older, dearer snapshot priced on its own
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"gpt-4.1-2025-04-14", "gpt-4.1"},
		{"o3-2025-04-16", "o3"},
		{"gpt-5-2025-08-07", "gpt-5"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"claude-haiku-4-5-20251001", "claude-haiku-4-5"},
		{"claude-3-7-sonnet-20250219", "claude-3-7-sonnet-20250219"},
		{"claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"},
	}
	for _, c := range cases {
		t.Run(c.requested, func(t *testing.T) {
			p, _, ok := book.Lookup(c.requested)
			if !ok || p.Model != c.priced {
				t.Fatalf("Lookup(%q) = %q, %v; want %q", c.requested, p.Model, ok, c.priced)
			}
		})
	}
}

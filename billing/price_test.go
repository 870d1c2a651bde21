package billing

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// mustPerMTok parses a test price or fails the test.
func mustPerMTok(t testing.TB, s string) PicoPerToken {
	t.Helper()
	p, err := ParsePerMTok(s)
	if err != nil {
		t.Fatalf("ParsePerMTok(%q): %v", s, err)
	}
	return p
}

func testPrices(t testing.TB) (mini, sonnet Price) {
	mini = Price{Model: "gpt-4o-mini", Provider: "openai",
		Input: mustPerMTok(t, "0.15"), Output: mustPerMTok(t, "0.6"), CachedInput: mustPerMTok(t, "0.075"),
		ContextWindow: 128000, MaxOutput: 16384}
	sonnet = Price{Model: "claude-sonnet-4", Provider: "anthropic",
		Input: mustPerMTok(t, "3"), Output: mustPerMTok(t, "15"),
		CachedInput: mustPerMTok(t, "0.3"), CacheWrite: mustPerMTok(t, "3.75"),
		ContextWindow: 200000, MaxOutput: 64000}
	return mini, sonnet
}

func TestCost(t *testing.T) {
	mini, sonnet := testPrices(t)
	onePico := Price{Model: "tiny", Input: 1, Output: 1}
	cases := []struct {
		name  string
		price Price
		usage Usage
		want  Nanos
	}{
		// 1000×0.15 + 500×0.6 USD per 1M = 0.00015 + 0.0003 = 0.00045 USD.
		{"GPT4oMiniPromptAndCompletion", mini, Usage{PromptTokens: 1000, CompletionTokens: 500}, 450_000},
		// 600 uncached × 150000 + 400 cached × 75000 + 500 × 600000 pico.
		{"CachedTokensAtCachedPrice", mini, Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 500}, 420_000},
		// Cache-write price 0 falls back to Input.
		{"CacheWriteWithoutPriceAtInput", mini, Usage{PromptTokens: 1000, CacheWriteTokens: 1000}, 150_000},
		// 1000 uncached×3 + 2000 written×3.75 + 7000 read×0.3 + 100 out×15 (USD/M).
		{"AnthropicCacheReadAndWrite", sonnet, Usage{PromptTokens: 10000, CachedTokens: 7000, CacheWriteTokens: 2000, CompletionTokens: 100}, 3_000_000 + 7_500_000 + 2_100_000 + 1_500_000},
		{"ReasoningNotBilledTwice", mini, Usage{PromptTokens: 1000, CompletionTokens: 500, ReasoningTokens: 400}, 450_000},
		{"ZeroUsageCostsNothing", mini, Usage{}, 0},
		{"CeilOnePicoIsOneNano", onePico, Usage{PromptTokens: 1}, 1},
		{"CeilExactThousandPico", onePico, Usage{PromptTokens: 1000}, 1},
		{"CeilThousandAndOnePico", onePico, Usage{PromptTokens: 600, CompletionTokens: 401}, 2},
		{"FreeModel", Price{Model: "free"}, Usage{PromptTokens: 5, CompletionTokens: 5}, 0},
		{"LargestSumFits", Price{Model: "x", Input: 1}, Usage{PromptTokens: math.MaxInt64}, Nanos(math.MaxInt64/1000 + 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.price.Cost(tc.usage)
			if err != nil {
				t.Fatalf("Cost(%+v) error: %v", tc.usage, err)
			}
			if got != tc.want {
				t.Fatalf("Cost(%+v) = %d (%s USD), want %d (%s USD)", tc.usage, got, got, tc.want, tc.want)
			}
		})
	}
}

func TestCostErrors(t *testing.T) {
	mini, _ := testPrices(t)
	expensive := Price{Model: "x", Input: math.MaxInt64 / 2, Output: math.MaxInt64 / 2}
	cases := []struct {
		name  string
		price Price
		usage Usage
		want  error
	}{
		{"ErrBadUsageNegativePrompt", mini, Usage{PromptTokens: -1}, ErrBadUsage},
		{"ErrBadUsageNegativeCached", mini, Usage{PromptTokens: 5, CachedTokens: -1}, ErrBadUsage},
		{"ErrBadUsageNegativeCacheWrite", mini, Usage{PromptTokens: 5, CacheWriteTokens: -1}, ErrBadUsage},
		{"ErrBadUsageNegativeCompletion", mini, Usage{CompletionTokens: -1}, ErrBadUsage},
		{"ErrBadUsageNegativeReasoning", mini, Usage{ReasoningTokens: -1}, ErrBadUsage},
		{"ErrBadUsageCachedOverPrompt", mini, Usage{PromptTokens: 10, CachedTokens: 11}, ErrBadUsage},
		{"ErrBadUsageCachedPlusWriteOverPrompt", mini, Usage{PromptTokens: 10, CachedTokens: 6, CacheWriteTokens: 5}, ErrBadUsage},
		{"ErrBadUsageHugeCachedPlusWrite", mini, Usage{PromptTokens: 10, CachedTokens: math.MaxInt64, CacheWriteTokens: math.MaxInt64}, ErrBadUsage},
		{"ErrBadPriceNegativeInput", Price{Model: "x", Input: -1}, Usage{PromptTokens: 1}, ErrBadPrice},
		{"ErrBadPriceNegativeOutputUnused", Price{Model: "x", Output: -1}, Usage{PromptTokens: 1}, ErrBadPrice},
		{"ErrBadPriceNegativeCached", Price{Model: "x", CachedInput: -5}, Usage{}, ErrBadPrice},
		{"ErrOverflowProduct", mini, Usage{PromptTokens: math.MaxInt64}, ErrOverflow},
		{"ErrOverflowSum", expensive, Usage{PromptTokens: 2, CompletionTokens: 1}, ErrOverflow},
		{"ErrOverflowCompletion", mini, Usage{CompletionTokens: math.MaxInt64 / 100000}, ErrOverflow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.price.Cost(tc.usage)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Cost(%+v) = %d, %v; want error %v", tc.usage, got, err, tc.want)
			}
			if got != 0 {
				t.Fatalf("Cost returned %d alongside an error", got)
			}
		})
	}
}

func TestBound(t *testing.T) {
	mini, sonnet := testPrices(t)
	cases := []struct {
		name              string
		price             Price
		prompt, maxOut, n int64
		want              Nanos
	}{
		{"PromptAndOutput", mini, 1000, 500, 1, 450_000},
		{"NTimesOutput", mini, 1000, 500, 3, 150_000 + 900_000},
		{"NZeroCountsAsOne", mini, 1000, 500, 0, 450_000},
		{"NNegativeCountsAsOne", mini, 1000, 500, -7, 450_000},
		// Sonnet's dearest input price is the 3.75 cache write, not the 3.00 input.
		{"PromptAtDearestInputPrice", sonnet, 1000, 0, 1, 3_750_000},
		{"CachedDearerThanInput", Price{Model: "odd", Input: 1000, CachedInput: 5000}, 2, 0, 1, 10},
		{"CeilRoundsUp", Price{Model: "x", Input: 1, Output: 1}, 1, 1, 1, 1},
		{"ZeroOutputPriceIgnoresHugeOutput", Price{Model: "embed", Input: 20_000}, 100, math.MaxInt64, math.MaxInt64, 2_000},
		{"Nothing", mini, 0, 0, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.price.Bound(tc.prompt, tc.maxOut, tc.n)
			if err != nil {
				t.Fatalf("Bound(%d, %d, %d) error: %v", tc.prompt, tc.maxOut, tc.n, err)
			}
			if got != tc.want {
				t.Fatalf("Bound(%d, %d, %d) = %d, want %d", tc.prompt, tc.maxOut, tc.n, got, tc.want)
			}
		})
	}

	errCases := []struct {
		name              string
		price             Price
		prompt, maxOut, n int64
		want              error
	}{
		{"ErrBadUsageNegativePrompt", mini, -1, 0, 1, ErrBadUsage},
		{"ErrBadUsageNegativeOutput", mini, 0, -1, 1, ErrBadUsage},
		{"ErrBadPriceNegative", Price{Model: "x", Output: -1}, 1, 1, 1, ErrBadPrice},
		{"ErrOverflowPrompt", mini, math.MaxInt64, 0, 1, ErrOverflow},
		{"ErrOverflowNTimesOutput", mini, 0, 1, math.MaxInt64, ErrOverflow},
		{"ErrOverflowOutput", mini, 0, math.MaxInt64 / 2, 1, ErrOverflow},
		{"ErrOverflowSum", Price{Model: "x", Input: math.MaxInt64 / 2, Output: math.MaxInt64 / 2}, 1, 2, 1, ErrOverflow},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.price.Bound(tc.prompt, tc.maxOut, tc.n)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Bound(%d, %d, %d) = %d, %v; want %v", tc.prompt, tc.maxOut, tc.n, got, err, tc.want)
			}
		})
	}
}

// Bound is an upper bound: for the same token counts, no split of the prompt
// into cached and cache-write tokens costs more.
func TestBoundCoversEveryCostSplit(t *testing.T) {
	_, sonnet := testPrices(t)
	const prompt, out = 12345, 678
	bound, err := sonnet.Bound(prompt, out, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []Usage{
		{PromptTokens: prompt, CompletionTokens: out},
		{PromptTokens: prompt, CachedTokens: prompt, CompletionTokens: out},
		{PromptTokens: prompt, CacheWriteTokens: prompt, CompletionTokens: out},
		{PromptTokens: prompt, CachedTokens: 345, CacheWriteTokens: 12000, CompletionTokens: out},
	} {
		c, err := sonnet.Cost(u)
		if err != nil {
			t.Fatal(err)
		}
		if c > bound {
			t.Fatalf("Cost(%+v) = %d exceeds Bound = %d", u, c, bound)
		}
	}
}

// checkAffordable asserts the defining property of AffordableOutput: m fits
// and m+1 does not (an overflow error counts as "does not fit").
func checkAffordable(t testing.TB, p Price, avail Nanos, prompt, n int64) int64 {
	t.Helper()
	m := p.AffordableOutput(avail, prompt, n)
	if m < 0 {
		t.Fatalf("AffordableOutput(%d, %d, %d) = %d < 0", avail, prompt, n, m)
	}
	b, err := p.Bound(prompt, m, n)
	fits := err == nil && b <= avail
	if m == 0 {
		// Either zero fits, or nothing fits at all; one more must not fit.
		if b1, err := p.Bound(prompt, 1, n); err == nil && b1 <= avail {
			t.Fatalf("AffordableOutput(%d, %d, %d) = 0 but Bound(1) = %d fits", avail, prompt, n, b1)
		}
		return m
	}
	if !fits {
		t.Fatalf("AffordableOutput(%d, %d, %d) = %d but Bound = %d, %v does not fit", avail, prompt, n, m, b, err)
	}
	if m == math.MaxInt64 {
		return m
	}
	if b1, err := p.Bound(prompt, m+1, n); err == nil && b1 <= avail {
		t.Fatalf("AffordableOutput(%d, %d, %d) = %d but m+1 fits too (Bound = %d)", avail, prompt, n, m, b1)
	}
	return m
}

func TestAffordableOutput(t *testing.T) {
	mini, sonnet := testPrices(t)
	embed := Price{Model: "text-embedding-3-small", Input: mustPerMTok(t, "0.02")}
	cases := []struct {
		name   string
		price  Price
		avail  Nanos
		prompt int64
		n      int64
		want   int64 // -1: only the boundary property is checked
	}{
		// $1 at $0.60/M output after 1000 prompt tokens ($0.00015): (1e12-1.5e8)/600000.
		{"OneDollarMini", mini, NanosPerUSD, 1000, 1, (1_000_000_000_000 - 150_000_000) / 600_000},
		{"NSplitsBudget", mini, NanosPerUSD, 1000, 4, (1_000_000_000_000 - 150_000_000) / 2_400_000},
		{"NZeroIsOne", mini, NanosPerUSD, 1000, 0, (1_000_000_000_000 - 150_000_000) / 600_000},
		{"PromptExactlyFitsZeroOutput", mini, 150_000, 1000, 1, 0},
		{"PromptDoesNotFit", mini, 149_999, 1000, 1, 0},
		{"NegativeAvailable", mini, -1, 0, 1, 0},
		{"NegativePrompt", mini, NanosPerUSD, -1, 1, 0},
		{"ZeroOutputPriceUnlimited", embed, NanosPerUSD, 1000, 1, math.MaxInt64},
		{"ZeroOutputPricePromptTooBig", embed, 0, 1000, 1, 0},
		{"HugeBalanceClampsAtOverflow", mini, math.MaxInt64, 0, 1, math.MaxInt64 / 600_000},
		{"HugeN", mini, math.MaxInt64, 0, math.MaxInt64, 0},
		{"NegativePrice", Price{Model: "x", Output: -1}, NanosPerUSD, 0, 1, 0},
		{"SonnetCents", sonnet, 12_345_678, 777, 2, -1},
		{"OddNanos", Price{Model: "x", Input: 7, Output: 13}, 1, 3, 1, -1},
		{"CeilBoundary", Price{Model: "x", Input: 1, Output: 999}, 5, 1, 1, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := checkAffordable(t, tc.price, tc.avail, tc.prompt, tc.n)
			if tc.want >= 0 && m != tc.want {
				t.Fatalf("AffordableOutput(%d, %d, %d) = %d, want %d", tc.avail, tc.prompt, tc.n, m, tc.want)
			}
		})
	}
	t.Run("BoundaryHoldsAcrossBalances", func(t *testing.T) {
		for avail := Nanos(0); avail < 5000; avail += 37 {
			for _, p := range []Price{mini, sonnet, {Model: "x", Input: 3, Output: 1001}} {
				checkAffordable(t, p, avail, 3, 2)
			}
		}
	})
}

func TestPriceJSON(t *testing.T) {
	_, sonnet := testPrices(t)
	t.Run("RoundTrips", func(t *testing.T) {
		data, err := json.Marshal(sonnet)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"model":"claude-sonnet-4","provider":"anthropic","input_usd_per_mtok":"3","output_usd_per_mtok":"15","cached_input_usd_per_mtok":"0.3","cache_write_usd_per_mtok":"3.75","context_window":200000,"max_output":64000}`
		if string(data) != want {
			t.Fatalf("Marshal = %s\nwant      %s", data, want)
		}
		var back Price
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back != sonnet {
			t.Fatalf("round trip = %+v, want %+v", back, sonnet)
		}
	})
	t.Run("OmitsUnsetCachePrices", func(t *testing.T) {
		data, err := json.Marshal(Price{Model: "m", Provider: "p", Input: 1})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "cache") {
			t.Fatalf("Marshal = %s, want no cache fields", data)
		}
	})
	rejected := []struct{ name, in string }{
		{"ErrBadPriceUnknownField", `{"model":"m","input_usd_per_mtok":"1","output_usd_per_mtok":"1","cache_read_usd_per_mtok":"0.1"}`},
		{"ErrBadPriceMissingModel", `{"input_usd_per_mtok":"1","output_usd_per_mtok":"1"}`},
		{"ErrBadPriceMissingOutput", `{"model":"m","input_usd_per_mtok":"1"}`},
		{"ErrBadPriceNumberNotString", `{"model":"m","input_usd_per_mtok":1.5,"output_usd_per_mtok":"1"}`},
		{"ErrBadPriceNegative", `{"model":"m","input_usd_per_mtok":"-1","output_usd_per_mtok":"1"}`},
		{"ErrBadPriceTooPrecise", `{"model":"m","input_usd_per_mtok":"0.0000001","output_usd_per_mtok":"1"}`},
		{"ErrBadPriceBadCached", `{"model":"m","input_usd_per_mtok":"1","output_usd_per_mtok":"1","cached_input_usd_per_mtok":"x"}`},
		{"ErrBadPriceNegativeContext", `{"model":"m","input_usd_per_mtok":"1","output_usd_per_mtok":"1","context_window":-1}`},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			var p Price
			err := json.Unmarshal([]byte(tc.in), &p)
			if !errors.Is(err, ErrBadPrice) {
				t.Fatalf("Unmarshal(%s) error = %v, want ErrBadPrice", tc.in, err)
			}
			if p != (Price{}) {
				t.Fatalf("Unmarshal left a partial value %+v", p)
			}
		})
	}
}

func TestPriceValidate(t *testing.T) {
	cases := []struct {
		name  string
		price Price
		ok    bool
	}{
		{"Valid", Price{Model: "m", Input: 1, Output: 2}, true},
		{"ValidFree", Price{Model: "m"}, true},
		{"ErrBadPriceEmptyModel", Price{Input: 1}, false},
		{"ErrBadPriceNegativeCacheWrite", Price{Model: "m", CacheWrite: -1}, false},
		{"ErrBadPriceNegativeMaxOutput", Price{Model: "m", MaxOutput: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.price.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadPrice)) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tc.price, err, tc.ok)
			}
		})
	}
}

func BenchmarkCost(b *testing.B) {
	_, sonnet := testPrices(b)
	u := Usage{PromptTokens: 12_000, CachedTokens: 8_000, CacheWriteTokens: 1_000, CompletionTokens: 900, ReasoningTokens: 300}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sonnet.Cost(u); err != nil {
			b.Fatal(err)
		}
	}
}

package billing

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

func FuzzParseUSD(f *testing.F) {
	for _, s := range []string{
		"12.5", "0.000000001", "-3", "100", "0", "-0", "", " 1", "1e5", "NaN", "+-1", "1.", ".5",
		"9223372036.854775807", "-9223372036.854775808", "9223372036.854775808", "0.0000000001", "007.10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseUSD(s)
		if err != nil {
			if !errors.Is(err, ErrBadAmount) {
				t.Fatalf("ParseUSD(%q) error %v does not wrap ErrBadAmount", s, err)
			}
			if n != 0 {
				t.Fatalf("ParseUSD(%q) = %d alongside an error", s, n)
			}
			return
		}
		// Whatever parses prints in canonical form and parses back to itself.
		out := n.String()
		back, err := ParseUSD(out)
		if err != nil || back != n {
			t.Fatalf("ParseUSD(%q) = %d; String = %q; ParseUSD again = %d, %v", s, n, out, back, err)
		}
		if out2 := back.String(); out2 != out {
			t.Fatalf("String not stable: %q vs %q", out, out2)
		}
		// Cross-check the value with arbitrary-precision arithmetic.
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("ParseUSD accepted %q, which is not a decimal", s)
		}
		r.Mul(r, big.NewRat(int64(NanosPerUSD), 1))
		if !r.IsInt() || r.Num().Cmp(big.NewInt(int64(n))) != 0 {
			t.Fatalf("ParseUSD(%q) = %d, exact value is %s", s, n, r.RatString())
		}
	})
}

func FuzzParsePerMTok(f *testing.F) {
	for _, s := range []string{"2.5", "0.0375", "15", "0", "-1", "0.0000001", "1e-6", ".5", "9223372036854.775807", "9223372036854.775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePerMTok(s)
		if err != nil {
			if !errors.Is(err, ErrBadPrice) {
				t.Fatalf("ParsePerMTok(%q) error %v does not wrap ErrBadPrice", s, err)
			}
			return
		}
		if p < 0 {
			t.Fatalf("ParsePerMTok(%q) = %d < 0", s, p)
		}
		back, err := ParsePerMTok(p.PerMTok())
		if err != nil || back != p {
			t.Fatalf("ParsePerMTok(%q) = %d; PerMTok = %q; parsed again = %d, %v", s, p, p.PerMTok(), back, err)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("ParsePerMTok accepted %q, which is not a decimal", s)
		}
		r.Mul(r, big.NewRat(1_000_000, 1))
		if !r.IsInt() || r.Num().Cmp(big.NewInt(int64(p))) != 0 {
			t.Fatalf("ParsePerMTok(%q) = %d, exact value is %s", s, p, r.RatString())
		}
	})
}

func FuzzCost(f *testing.F) {
	f.Add(int64(150_000), int64(600_000), int64(75_000), int64(0), int64(1000), int64(0), int64(0), int64(500), int64(0))
	f.Add(int64(3_000_000), int64(15_000_000), int64(300_000), int64(3_750_000), int64(10_000), int64(7_000), int64(2_000), int64(100), int64(40))
	f.Add(int64(1), int64(1), int64(0), int64(0), int64(math.MaxInt64), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(0), int64(1), int64(0), int64(0), int64(1), int64(0))
	f.Add(int64(-1), int64(1), int64(0), int64(0), int64(1), int64(0), int64(0), int64(1), int64(0))
	f.Add(int64(1), int64(1), int64(0), int64(0), int64(1), int64(2), int64(0), int64(1), int64(0))
	f.Fuzz(func(t *testing.T, in, out, cached, write, prompt, cachedTok, writeTok, completion, reasoning int64) {
		p := Price{Model: "fuzz", Input: PicoPerToken(in), Output: PicoPerToken(out), CachedInput: PicoPerToken(cached), CacheWrite: PicoPerToken(write)}
		u := Usage{PromptTokens: prompt, CachedTokens: cachedTok, CacheWriteTokens: writeTok, CompletionTokens: completion, ReasoningTokens: reasoning}
		got, err := p.Cost(u)

		// Reference: the same formula in arbitrary precision.
		valid := in >= 0 && out >= 0 && cached >= 0 && write >= 0 &&
			prompt >= 0 && cachedTok >= 0 && writeTok >= 0 && completion >= 0 && reasoning >= 0 &&
			cachedTok <= prompt && writeTok <= prompt-cachedTok
		if !valid {
			if err == nil {
				t.Fatalf("Cost(%+v, %+v) = %d, want an error for invalid input", p, u, got)
			}
			if !errors.Is(err, ErrBadPrice) && !errors.Is(err, ErrBadUsage) {
				t.Fatalf("Cost error %v is neither ErrBadPrice nor ErrBadUsage", err)
			}
			return
		}
		eff := func(v int64) int64 {
			if v == 0 {
				return in
			}
			return v
		}
		sum := new(big.Int)
		for _, term := range [][2]int64{{prompt - cachedTok - writeTok, in}, {cachedTok, eff(cached)}, {writeTok, eff(write)}, {completion, out}} {
			sum.Add(sum, new(big.Int).Mul(big.NewInt(term[0]), big.NewInt(term[1])))
		}
		if sum.Cmp(big.NewInt(math.MaxInt64)) > 0 {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("Cost(%+v, %+v) = %d, %v; exact pico sum %s overflows, want ErrOverflow", p, u, got, err, sum)
			}
			return
		}
		if err != nil {
			t.Fatalf("Cost(%+v, %+v) error %v, exact pico sum %s fits", p, u, err, sum)
		}
		want := new(big.Int).Add(sum, big.NewInt(999))
		want.Quo(want, big.NewInt(1000))
		if got < 0 || big.NewInt(int64(got)).Cmp(want) != 0 {
			t.Fatalf("Cost(%+v, %+v) = %d, want %s", p, u, got, want)
		}
	})
}

func FuzzAffordableOutput(f *testing.F) {
	f.Add(int64(150_000), int64(600_000), int64(3_750_000), int64(1_000_000_000), int64(1000), int64(1))
	f.Add(int64(1), int64(999), int64(0), int64(5), int64(1), int64(1))
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(7), int64(13), int64(0), int64(math.MaxInt64), int64(3), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, in, out, write, avail, prompt, n int64) {
		p := Price{Model: "fuzz", Input: PicoPerToken(in), Output: PicoPerToken(out), CacheWrite: PicoPerToken(write)}
		m := p.AffordableOutput(Nanos(avail), prompt, n)
		if m < 0 {
			t.Fatalf("AffordableOutput = %d < 0", m)
		}
		if m > 0 {
			b, err := p.Bound(prompt, m, n)
			if err != nil || b > Nanos(avail) {
				t.Fatalf("AffordableOutput(%d, %d, %d) = %d but Bound = %d, %v (price %+v)", avail, prompt, n, m, b, err, p)
			}
		}
		if m < math.MaxInt64 {
			if b, err := p.Bound(prompt, m+1, n); err == nil && b <= Nanos(avail) {
				t.Fatalf("AffordableOutput(%d, %d, %d) = %d but m+1 fits (Bound = %d, price %+v)", avail, prompt, n, m, b, p)
			}
		}
	})
}

func FuzzCountTokens(f *testing.F) {
	for _, s := range []string{"hello world", "<|endoftext|>", "a\xffb", "日本語", "   \n\t", "😀", "it's 2025-01-01, isn't it?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ub := TokenUpperBound(s)
		for _, model := range []string{"gpt-4o", "gpt-4", "claude-sonnet-4"} {
			n := CountTokens(model, s)
			if n < 0 || n > ub {
				t.Fatalf("CountTokens(%q, %q) = %d, upper bound %d", model, s, n, ub)
			}
			if (n == 0) != (s == "") {
				t.Fatalf("CountTokens(%q, %q) = %d", model, s, n)
			}
		}
	})
}

package billing

import (
	"errors"
	"math"
	"testing"
)

func TestParseUSD(t *testing.T) {
	accepted := []struct {
		name string
		in   string
		want Nanos
	}{
		{"Decimal", "12.5", 12_500_000_000},
		{"OneNano", "0.000000001", 1},
		{"NegativeWhole", "-3", -3 * NanosPerUSD},
		{"Whole", "100", 100 * NanosPerUSD},
		{"Zero", "0", 0},
		{"NegativeZero", "-0", 0},
		{"NineDecimals", "1.123456789", 1_123_456_789},
		{"TrailingZeros", "12.500000000", 12_500_000_000},
		{"LeadingZeros", "007.50", 7_500_000_000},
		{"NegativeNano", "-0.000000001", -1},
		{"MaxInt64", "9223372036.854775807", math.MaxInt64},
		{"MinInt64", "-9223372036.854775808", math.MinInt64},
	}
	for _, tc := range accepted {
		t.Run("Accepts"+tc.name, func(t *testing.T) {
			got, err := ParseUSD(tc.in)
			if err != nil {
				t.Fatalf("ParseUSD(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseUSD(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}

	rejected := []struct {
		name     string
		in       string
		overflow bool
	}{
		{"Empty", "", false},
		{"LeadingSpace", " 1", false},
		{"TrailingSpace", "1 ", false},
		{"Exponent", "1e5", false},
		{"NaN", "NaN", false},
		{"Inf", "Inf", false},
		{"PlusMinus", "+-1", false},
		{"Plus", "+1", false},
		{"DoubleMinus", "--1", false},
		{"BareMinus", "-", false},
		{"TrailingDot", "1.", false},
		{"LeadingDot", ".5", false},
		{"NegativeLeadingDot", "-.5", false},
		{"TenDecimals", "0.0000000001", false},
		{"TwoDots", "1.2.3", false},
		{"Comma", "1,5", false},
		{"Underscore", "1_000", false},
		{"Hex", "0x10", false},
		{"Currency", "$5", false},
		{"UnicodeDigit", "١", false},
		{"OverflowPositive", "9223372036.854775808", true},
		{"OverflowNegative", "-9223372036.854775809", true},
		{"OverflowHuge", "99999999999999999999999999", true},
		{"OverflowWhole", "9223372037", true},
	}
	for _, tc := range rejected {
		t.Run("Rejects"+tc.name, func(t *testing.T) {
			got, err := ParseUSD(tc.in)
			if err == nil {
				t.Fatalf("ParseUSD(%q) = %d, want error", tc.in, got)
			}
			if !errors.Is(err, ErrBadAmount) {
				t.Fatalf("ParseUSD(%q) error %v does not wrap ErrBadAmount", tc.in, err)
			}
			if errors.Is(err, ErrOverflow) != tc.overflow {
				t.Fatalf("ParseUSD(%q) error %v: wraps ErrOverflow = %v, want %v", tc.in, err, !tc.overflow, tc.overflow)
			}
		})
	}
}

func TestNanosString(t *testing.T) {
	cases := []struct {
		name string
		in   Nanos
		want string
	}{
		{"Zero", 0, "0.000000000"},
		{"Decimal", 12_500_000_000, "12.500000000"},
		{"NegativeNano", -1, "-0.000000001"},
		{"OneNano", 1, "0.000000001"},
		{"OneUSD", NanosPerUSD, "1.000000000"},
		{"NegativeMixed", -1_500_000_001, "-1.500000001"},
		{"MaxInt64", math.MaxInt64, "9223372036.854775807"},
		{"MinInt64", math.MinInt64, "-9223372036.854775808"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.String(); got != tc.want {
				t.Fatalf("Nanos(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
			}
		})
	}
}

func TestNanosRoundTrip(t *testing.T) {
	for _, v := range []Nanos{0, 1, -1, 999_999_999, 1_000_000_000, -1_000_000_001, 42_424_242_424, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		s := v.String()
		back, err := ParseUSD(s)
		if err != nil {
			t.Fatalf("ParseUSD(%q) (from %d) error: %v", s, int64(v), err)
		}
		if back != v {
			t.Fatalf("round trip %d -> %q -> %d", int64(v), s, int64(back))
		}
	}
}

func TestParsePerMTok(t *testing.T) {
	accepted := []struct {
		name string
		in   string
		want PicoPerToken
	}{
		{"Fraction", "0.0375", 37_500},
		{"Decimal", "2.5", 2_500_000},
		{"Whole", "15", 15_000_000},
		{"Zero", "0", 0},
		{"SixDecimals", "0.000001", 1},
		{"TrailingZeros", "2.500000", 2_500_000},
		{"Large", "150", 150_000_000},
		{"MaxInt64", "9223372036854.775807", math.MaxInt64},
	}
	for _, tc := range accepted {
		t.Run("Accepts"+tc.name, func(t *testing.T) {
			got, err := ParsePerMTok(tc.in)
			if err != nil {
				t.Fatalf("ParsePerMTok(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParsePerMTok(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}

	rejected := []struct {
		name     string
		in       string
		overflow bool
	}{
		{"Empty", "", false},
		{"Negative", "-1", false},
		{"NegativeZero", "-0", false},
		{"SevenDecimals", "0.0000001", false},
		{"Exponent", "1e-6", false},
		{"LeadingDot", ".5", false},
		{"TrailingDot", "5.", false},
		{"Space", "2.5 ", false},
		{"Plus", "+2", false},
		{"Overflow", "9223372036854.775808", true},
		{"OverflowHuge", "100000000000000000000", true},
	}
	for _, tc := range rejected {
		t.Run("Rejects"+tc.name, func(t *testing.T) {
			got, err := ParsePerMTok(tc.in)
			if err == nil {
				t.Fatalf("ParsePerMTok(%q) = %d, want error", tc.in, got)
			}
			if !errors.Is(err, ErrBadPrice) {
				t.Fatalf("ParsePerMTok(%q) error %v does not wrap ErrBadPrice", tc.in, err)
			}
			if errors.Is(err, ErrOverflow) != tc.overflow {
				t.Fatalf("ParsePerMTok(%q) error %v: wraps ErrOverflow = %v, want %v", tc.in, err, !tc.overflow, tc.overflow)
			}
		})
	}
}

func TestPerMTok(t *testing.T) {
	cases := []struct {
		name string
		in   PicoPerToken
		want string
	}{
		{"Decimal", 2_500_000, "2.5"},
		{"Fraction", 37_500, "0.0375"},
		{"Zero", 0, "0"},
		{"Whole", 15_000_000, "15"},
		{"Smallest", 1, "0.000001"},
		{"Mixed", 1_100_001, "1.100001"},
		{"NegativeStillPrints", -37_500, "-0.0375"},
		{"MaxInt64", math.MaxInt64, "9223372036854.775807"},
		{"MinInt64", math.MinInt64, "-9223372036854.775808"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.PerMTok(); got != tc.want {
				t.Fatalf("PicoPerToken(%d).PerMTok() = %q, want %q", int64(tc.in), got, tc.want)
			}
		})
	}
	t.Run("RoundTrips", func(t *testing.T) {
		for _, v := range []PicoPerToken{0, 1, 10, 37_500, 2_500_000, 15_000_000, 123_456_789, math.MaxInt64} {
			back, err := ParsePerMTok(v.PerMTok())
			if err != nil || back != v {
				t.Fatalf("round trip %d -> %q -> %d, %v", int64(v), v.PerMTok(), int64(back), err)
			}
		}
	})
}

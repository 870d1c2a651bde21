// Package billing holds Tollgate's money arithmetic: amounts, prices, the
// price book, token counting and the wallet contracts. It imports only the
// standard library and tiktoken, and it never uses floating point for money.
package billing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrBadAmount reports a decimal money string that is not in the accepted
// form, so that callers at the edges (API, UI, CLI) can answer 400 instead of
// guessing what the user meant.
var ErrBadAmount = errors.New("billing: bad amount")

// ErrOverflow reports arithmetic whose result does not fit in int64; money
// code must refuse rather than wrap around, because a wrapped sum is a wrong
// bill.
var ErrOverflow = errors.New("billing: arithmetic overflow")

// Nanos is an amount of money in nano-USD (1e-9 USD). Integers keep every sum
// exact and make a wallet's balance equal the sum of its ledger entries.
type Nanos int64

// NanosPerUSD is the number of Nanos in one US dollar, for converting whole
// dollars without going through strings.
const NanosPerUSD Nanos = 1_000_000_000

// usdScale is the number of decimal places a Nanos amount carries.
const usdScale = 9

// ParseUSD reads a decimal US-dollar amount such as "12.5", "-3" or
// "0.000000001" into Nanos, exactly. It is the only way a human-written amount
// enters the system, so it is strict: an optional leading '-', one or more
// digits, then optionally '.' followed by 1 to 9 digits. No '+', no spaces, no
// exponent, no ".5" and no "1." (both rejected, as in JSON). Malformed input
// wraps ErrBadAmount; an amount outside the int64 range wraps both
// ErrBadAmount and ErrOverflow.
func ParseUSD(s string) (Nanos, error) {
	neg, mag, err := parseDecimal(s, usdScale, true)
	if err != nil {
		if errors.Is(err, ErrOverflow) {
			return 0, fmt.Errorf("%w: %w: %q is outside ±9223372036.854775807 USD", ErrBadAmount, ErrOverflow, s)
		}
		return 0, fmt.Errorf("%w: %q: %v (want digits with an optional '-' and up to 9 decimals, e.g. \"12.50\")", ErrBadAmount, s, err)
	}
	v, ok := signedFromMagnitude(neg, mag)
	if !ok {
		return 0, fmt.Errorf("%w: %w: %q is outside ±9223372036.854775807 USD", ErrBadAmount, ErrOverflow, s)
	}
	return Nanos(v), nil
}

// String formats the amount with exactly nine decimals ("12.500000000"),
// so that every Nanos value prints, and parses back, without loss.
func (n Nanos) String() string {
	neg := n < 0
	mag := magnitude(int64(n))
	whole := mag / uint64(NanosPerUSD)
	frac := mag % uint64(NanosPerUSD)
	var b strings.Builder
	b.Grow(32)
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(whole, 10))
	b.WriteByte('.')
	fs := strconv.FormatUint(frac, 10)
	for i := len(fs); i < usdScale; i++ {
		b.WriteByte('0')
	}
	b.WriteString(fs)
	return b.String()
}

// errSyntax is the detail parseDecimal gives for malformed text; callers wrap
// it with their own sentinel.
var errSyntax = errors.New("malformed decimal")

// parseDecimal parses digits[.digits] (with a leading '-' only when allowNeg)
// scaled by 10^scale into a magnitude. It returns errSyntax-derived errors for
// bad text and ErrOverflow when the magnitude exceeds 1<<63 (the magnitude of
// math.MinInt64; callers check the signed range).
func parseDecimal(s string, scale int, allowNeg bool) (neg bool, mag uint64, err error) {
	if s == "" {
		return false, 0, fmt.Errorf("%w: empty", errSyntax)
	}
	i := 0
	if s[0] == '-' {
		if !allowNeg {
			return false, 0, fmt.Errorf("%w: negative values are not allowed", errSyntax)
		}
		neg = true
		i = 1
	}
	const limit = uint64(1) << 63
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		if mag, err = appendDigit(mag, s[i], limit); err != nil {
			return false, 0, err
		}
		i++
	}
	if i == intStart {
		return false, 0, fmt.Errorf("%w: expected a digit at position %d", errSyntax, i)
	}
	decimals := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			decimals++
			if decimals > scale {
				return false, 0, fmt.Errorf("%w: more than %d decimals", errSyntax, scale)
			}
			if mag, err = appendDigit(mag, s[i], limit); err != nil {
				return false, 0, err
			}
			i++
		}
		if i == fracStart {
			return false, 0, fmt.Errorf("%w: expected a digit after '.'", errSyntax)
		}
	}
	if i != len(s) {
		return false, 0, fmt.Errorf("%w: unexpected %q at position %d", errSyntax, s[i], i)
	}
	for ; decimals < scale; decimals++ {
		if mag > limit/10 {
			return false, 0, ErrOverflow
		}
		mag *= 10
	}
	if mag > limit {
		return false, 0, ErrOverflow
	}
	return neg, mag, nil
}

// appendDigit computes mag*10+digit, refusing results above limit.
func appendDigit(mag uint64, c byte, limit uint64) (uint64, error) {
	d := uint64(c - '0')
	if mag > (limit-d)/10 {
		return 0, ErrOverflow
	}
	return mag*10 + d, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// signedFromMagnitude applies the sign, reporting false when the result does
// not fit in int64 (only -(1<<63) fits without a positive twin).
func signedFromMagnitude(neg bool, mag uint64) (int64, bool) {
	if neg {
		if mag > uint64(1)<<63 {
			return 0, false
		}
		// #nosec G115 -- mag <= 1<<63 (checked above); in two's complement -mag converts
		// exactly, -(1<<63) to MinInt64.
		return int64(-mag), true
	}
	if mag > math.MaxInt64 {
		return 0, false
	}
	return int64(mag), true
}

// magnitude returns |v| as uint64, correct for math.MinInt64 too.
func magnitude(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1 // #nosec G115 -- v < 0, so -(v+1) is in [0, MaxInt64]
	}
	return uint64(v)
}

// ErrBadPrice reports a price string or value that cannot be a per-token
// price (malformed, negative, too precise); refusing it keeps a model from
// being served at a made-up price.
var ErrBadPrice = errors.New("billing: bad price")

// PicoPerToken is a price per token in pico-USD (1e-12 USD), which equals USD
// per million tokens × 1e6. Every list price with up to six decimals per
// million tokens ($0.0375/M = 37500) is therefore an exact integer.
type PicoPerToken int64

// perMTokScale is the number of decimals a per-million-token USD price keeps.
const perMTokScale = 6

// ParsePerMTok reads a decimal USD-per-million-tokens price such as "2.5" or
// "0.0375" into an exact PicoPerToken. Same grammar as ParseUSD but with at
// most 6 decimals and no sign: a price is never negative. Errors wrap
// ErrBadPrice (and ErrOverflow when too large).
func ParsePerMTok(s string) (PicoPerToken, error) {
	_, mag, err := parseDecimal(s, perMTokScale, false)
	if err != nil {
		if errors.Is(err, ErrOverflow) {
			return 0, fmt.Errorf("%w: %w: %q USD per 1M tokens is too large", ErrBadPrice, ErrOverflow, s)
		}
		return 0, fmt.Errorf("%w: %q: %v (want a non-negative USD amount per 1M tokens with up to 6 decimals, e.g. \"2.50\")", ErrBadPrice, s, err)
	}
	if mag > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %w: %q USD per 1M tokens is too large", ErrBadPrice, ErrOverflow, s)
	}
	return PicoPerToken(mag), nil
}

// PerMTok formats the price back as USD per million tokens with trailing
// zeros trimmed ("2.5", "0.0375", "0", "15"), the form people read on
// provider price pages and the form prices.json uses.
func (p PicoPerToken) PerMTok() string {
	const unit = 1_000_000
	mag := magnitude(int64(p))
	whole := mag / unit
	frac := mag % unit
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		fs := strconv.FormatUint(frac, 10)
		fs = strings.Repeat("0", perMTokScale-len(fs)) + fs
		s += "." + strings.TrimRight(fs, "0")
	}
	if p < 0 {
		s = "-" + s
	}
	return s
}

package ratelimit

import (
	"maps"
	"testing"
	"time"
)

func TestHeaders(t *testing.T) {
	cases := []struct {
		name string
		d    Decision
		want map[string]string
	}{
		{"Unlimited", Decision{Allowed: true}, map[string]string{}},
		{"AllowedBothLimits", Decision{Allowed: true,
			LimitRequests: 60, RemainingRequests: 59, ResetRequests: time.Second,
			LimitTokens: 150000, RemainingTokens: 149984, ResetTokens: 6 * time.Millisecond},
			map[string]string{
				"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s",
				"x-ratelimit-limit-tokens": "150000", "x-ratelimit-remaining-tokens": "149984", "x-ratelimit-reset-tokens": "6ms",
			}},
		{"OnlyTokensLimited", Decision{Allowed: true, LimitTokens: 1000, RemainingTokens: 0, ResetTokens: 6 * time.Minute},
			map[string]string{"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}},
		{"RefusedRoundsRetryUp", Decision{Limit: LimitRequests, RetryAfter: 12*time.Second + time.Millisecond,
			LimitRequests: 5, ResetRequests: 60*time.Second + 1500*time.Microsecond},
			map[string]string{
				"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0.002s",
				"Retry-After": "13", "retry-after-ms": "12001",
			}},
		{"RefusedSubSecondIsOneSecond", Decision{Limit: LimitTokens, RetryAfter: 20 * time.Millisecond,
			LimitTokens: 100, ResetTokens: 8640 * time.Millisecond},
			map[string]string{
				"x-ratelimit-limit-tokens": "100", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "8.64s",
				"Retry-After": "1", "retry-after-ms": "20",
			}},
		{"RefusedStreamHasNoWait", Decision{Limit: LimitStreams},
			map[string]string{"Retry-After": "1", "retry-after-ms": "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Headers(c.d); !maps.Equal(got, c.want) {
				t.Fatalf("Headers(%+v)\n got %v\nwant %v", c.d, got, c.want)
			}
		})
	}
}

// TestHeadersFromALimiter ties the two together: what Allow reports renders as
// OpenAI's header values.
func TestHeadersFromALimiter(t *testing.T) {
	m := NewMemory()
	l := Limits{RequestsPerMinute: 10, TokensPerMinute: 600}
	allow(t, m, "key:a", l, 599, t0)
	d := allow(t, m, "key:a", l, 2, t0)
	want := map[string]string{
		"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "9", "x-ratelimit-reset-requests": "6s",
		"x-ratelimit-limit-tokens": "600", "x-ratelimit-remaining-tokens": "1", "x-ratelimit-reset-tokens": "59.9s",
		"Retry-After": "1", "retry-after-ms": "100",
	}
	if got := Headers(d); !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

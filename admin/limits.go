package admin

import (
	"github.com/tollgate-gw/tollgate/store"
)

// rateLimitsJSON is a key's or tenant's rate limits; 0 means unlimited.
type rateLimitsJSON struct {
	RequestsPerMinute int64 `json:"requests_per_minute"`
	TokensPerMinute   int64 `json:"tokens_per_minute"`
	ConcurrentStreams int64 `json:"concurrent_streams"`
}

func limitsOut(l store.RateLimits) rateLimitsJSON {
	return rateLimitsJSON{RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute, ConcurrentStreams: l.ConcurrentStreams}
}

// maxRate bounds each limit so the limiter's arithmetic stays exact.
const maxRate = 10_000_000_000

func (r *rateLimitsJSON) store() (store.RateLimits, error) {
	for _, v := range []int64{r.RequestsPerMinute, r.TokensPerMinute, r.ConcurrentStreams} {
		if v < 0 || v > maxRate {
			return store.RateLimits{}, invalid("rate_limits", "rate_limits values must be whole numbers from 0 (unlimited) to %d.", int64(maxRate))
		}
	}
	return store.RateLimits{RequestsPerMinute: r.RequestsPerMinute, TokensPerMinute: r.TokensPerMinute, ConcurrentStreams: r.ConcurrentStreams}, nil
}

// optional is r as store limits: nil when r is (not sent).
func (r *rateLimitsJSON) optional() (*store.RateLimits, error) {
	if r == nil {
		return nil, nil
	}
	l, err := r.store()
	if err != nil {
		return nil, err
	}
	return &l, nil
}

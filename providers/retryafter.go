package providers

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds what an upstream may ask for: a broken or hostile header
// must not take a channel out of rotation for days.
const MaxRetryAfter = 5 * time.Minute

// ParseRetryAfter reads how long an answer asks the caller to wait: OpenAI's
// retry-after-ms (milliseconds) first, as the finer of the two, then the standard
// Retry-After, in seconds or as an HTTP date. It returns 0 when neither is there
// or makes sense, and at most MaxRetryAfter.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return bounded(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return bounded(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return bounded(float64(t.Sub(now)))
	}
	return 0
}

// bounded converts nanoseconds to a duration within 0 and MaxRetryAfter; NaN and
// negative waits are no wait.
func bounded(ns float64) time.Duration {
	if math.IsNaN(ns) || ns <= 0 {
		return 0
	}
	return time.Duration(min(ns, float64(MaxRetryAfter)))
}

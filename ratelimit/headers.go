package ratelimit

import (
	"strconv"
	"time"
)

// Header names, as OpenAI sends them, so clients and SDKs written for OpenAI pace
// themselves against Tollgate without changes.
const (
	HeaderLimitRequests     = "x-ratelimit-limit-requests"
	HeaderRemainingRequests = "x-ratelimit-remaining-requests"
	HeaderResetRequests     = "x-ratelimit-reset-requests"
	HeaderLimitTokens       = "x-ratelimit-limit-tokens"     // #nosec G101 -- a header name, not a credential
	HeaderRemainingTokens   = "x-ratelimit-remaining-tokens" // #nosec G101 -- a header name, not a credential
	HeaderResetTokens       = "x-ratelimit-reset-tokens"     // #nosec G101 -- a header name, not a credential
	// HeaderRetryAfter is the standard HTTP header, in whole seconds.
	HeaderRetryAfter = "Retry-After"
	// HeaderRetryAfterMs is the millisecond variant the official OpenAI SDKs read
	// before Retry-After, so a short wait is not rounded up to a whole second.
	HeaderRetryAfterMs = "retry-after-ms"
)

// Headers renders a decision as response headers: the x-ratelimit-* trio for each
// limit that is set (resets in Go duration form, e.g. "6m0s", "1s", "20ms", as
// OpenAI writes them), and Retry-After (whole seconds, at least 1) plus
// retry-after-ms when the request was refused.
func Headers(d Decision) map[string]string {
	h := make(map[string]string, 8)
	if d.LimitRequests > 0 {
		h[HeaderLimitRequests] = strconv.FormatInt(d.LimitRequests, 10)
		h[HeaderRemainingRequests] = strconv.FormatInt(d.RemainingRequests, 10)
		h[HeaderResetRequests] = formatReset(d.ResetRequests)
	}
	if d.LimitTokens > 0 {
		h[HeaderLimitTokens] = strconv.FormatInt(d.LimitTokens, 10)
		h[HeaderRemainingTokens] = strconv.FormatInt(d.RemainingTokens, 10)
		h[HeaderResetTokens] = formatReset(d.ResetTokens)
	}
	if !d.Allowed {
		ms := max(1, ceilDiv(int64(d.RetryAfter), int64(time.Millisecond)))
		h[HeaderRetryAfter] = strconv.FormatInt(max(1, ceilDiv(ms, 1000)), 10)
		h[HeaderRetryAfterMs] = strconv.FormatInt(ms, 10)
	}
	return h
}

// formatReset rounds up to the millisecond, the finest unit OpenAI reports.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return (time.Duration(ceilDiv(int64(d), int64(time.Millisecond))) * time.Millisecond).String()
}

// Package ratelimit bounds how fast a subject (an API key or a tenant) may call the
// gateway: requests per minute, tokens per minute and concurrent streams. Money is
// bounded elsewhere (billing holds); these limits protect capacity and fairness.
//
// # Algorithm
//
// Each per-minute limit is a token bucket that holds one minute's allowance and
// refills continuously at limit/minute; a full bucket is the same as no state at all,
// which is what lets idle subjects be forgotten (evicted in memory, expired in Redis)
// without changing any answer. The state kept per bucket is its deficit — how far
// below full it is — and the time it was last updated.
//
// All arithmetic is on integers. Time is in milliseconds and the deficit is kept in
// token-milliseconds (tokens × 60000), so refilling for e elapsed milliseconds
// subtracts exactly e × limit with no division and no rounding drift, however often
// a subject calls. A request costing c is admitted when deficit + c×60000 fits in
// limit×60000; otherwise the wait is the shortfall divided by the limit, rounded up
// to the millisecond. Given the same sequence of calls and `now` values the answers
// are identical, which is what the tests rely on.
//
// A token estimate larger than a whole minute's allowance is admitted when the bucket
// is full and charged in full, leaving a debt that refills like any other deficit;
// this keeps a worst-case estimate (max_tokens) from locking a small limit out
// forever, and Adjust with (actual − estimate) then settles the books exactly.
//
// Concurrent streams are counted slots, not buckets: Acquire takes one and the
// release func gives it back.
//
// # Failures
//
// Redis errors are returned wrapped in ErrBackend; nothing is guessed. We recommend
// the gateway fail open on them (admit, log, count a metric): prepaid holds already
// bound what a tenant can spend, so a limiter outage should cost precision, not
// availability. Fail closed (503) only where limits protect something money does not,
// such as a fragile upstream.
package ratelimit

import (
	"context"
	"errors"
	"math"
	"time"
)

// Limits are one subject's allowances; zero (or a negative value) means unlimited,
// so an operator only sets the limits they care about.
type Limits struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
	ConcurrentStreams int64
}

// Names of the limit that refused a request, as reported in Decision.Limit; they are
// also safe metric label values.
const (
	LimitRequests = "requests"
	LimitTokens   = "tokens"
	LimitStreams  = "streams"
)

// Decision is the answer to Allow: whether the request may proceed, and the numbers
// a client needs to pace itself (sent as OpenAI-style x-ratelimit-* headers).
type Decision struct {
	Allowed    bool
	Limit      string        // which limit refused: "requests", "tokens", "streams"
	RetryAfter time.Duration // when a retry could succeed (0 for streams: retry when one ends)

	// LimitRequests is the per-minute request limit (0 when unlimited, and the three
	// request fields are then not sent); Remaining and Reset describe the bucket after
	// this decision: whole requests left now, and the time until it is full again.
	LimitRequests, RemainingRequests int64
	ResetRequests                    time.Duration
	// LimitTokens, RemainingTokens and ResetTokens are the same for tokens per minute.
	LimitTokens, RemainingTokens int64
	ResetTokens                  time.Duration
}

// Limiter is what the gateway needs from a rate limiter; Memory serves one node and
// Redis shares the counts between every node of a deployment.
type Limiter interface {
	// Allow admits one request that may use up to `tokens` tokens (the gateway's
	// hold-sized estimate) for the subject (e.g. "key:<id>" or "tenant:<id>"). A
	// refused request consumes nothing.
	Allow(ctx context.Context, subject string, l Limits, tokens int64, now time.Time) (Decision, error)
	// Adjust corrects the token count once the real usage is known (delta = actual −
	// estimate, usually negative), so tokens/min reflects actual use.
	Adjust(ctx context.Context, subject string, l Limits, delta int64, now time.Time) error
	// Acquire takes a concurrent-stream slot; the returned release func must be
	// called exactly once (calling it twice is safe and frees one slot only). When
	// ok is false or err is set, release is a no-op.
	Acquire(ctx context.Context, subject string, l Limits) (release func(), ok bool, err error)
}

// ErrBackend wraps every failure of the shared store (Redis), so the gateway can
// recognise a limiter outage with errors.Is and apply its fail-open/closed policy.
var ErrBackend = errors.New("rate limit backend unavailable")

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)

const (
	// window is the limits' period in milliseconds: every limit is per minute.
	window int64 = 60_000
	// maxLimit caps a per-minute limit; anything larger is treated as this. It keeps
	// limit×window and the refill products exact in Redis's Lua, whose numbers are
	// doubles (exact integers only below 2^53).
	maxLimit int64 = 10_000_000_000
	// maxCost caps one request's token estimate and one Adjust delta, for the same
	// reason.
	maxCost int64 = 10_000_000_000
	// maxDeficit caps a bucket's debt (in token·ms), the room left under 2^53.
	maxDeficit int64 = 1_000_000_000_000_000
)

// normalize maps the caller's limits to the internal range: ≤0 is unlimited (0),
// huge values are clamped.
func normalize(v int64) int64 {
	if v <= 0 {
		return 0
	}
	return min(v, maxLimit)
}

func clampCost(v int64) int64 {
	return max(-maxCost, min(v, maxCost))
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// refill returns a bucket's deficit at now, given its deficit d recorded at last and
// its limit per minute. Time that runs backwards (another node's clock, a reordered
// goroutine) refills nothing.
func refill(d, last, now, limit int64) int64 {
	if d <= 0 || limit <= 0 {
		return max(d, 0)
	}
	e := now - last
	if e <= 0 {
		return d
	}
	if e >= ceilDiv(d, limit) { // also avoids e×limit overflowing
		return 0
	}
	return d - e*limit
}

// shortfall is how much deficit (token·ms) must drain before a request costing cost
// fits in the bucket; ≤ 0 means it fits now. An estimate above the whole allowance
// fits only a full bucket.
func shortfall(d, cost, limit int64) int64 {
	return d + min(cost, limit)*window - limit*window
}

// charge adds cost to a deficit, bounded so the arithmetic stays exact.
func charge(d, cost int64) int64 {
	return max(0, min(d+cost*window, maxDeficit))
}

// fullAt is when a bucket updated at last with deficit d is full again (last when it
// already is).
func fullAt(d, last, limit int64) int64 {
	if d <= 0 || limit <= 0 {
		return last
	}
	return last + ceilDiv(d, limit)
}

// outcome is what a limiter computed for one Allow, in the internal units; both
// implementations turn it into a Decision the same way.
type outcome struct {
	allowed            bool
	defReq, defTok     int64 // deficits after the decision
	shortReq, shortTok int64 // shortfalls (> 0 where that bucket refused)
}

func (o outcome) decision(rpm, tpm int64) Decision {
	d := Decision{Allowed: o.allowed}
	if rpm > 0 {
		d.LimitRequests = rpm
		d.RemainingRequests = max(0, (rpm*window-o.defReq)/window)
		d.ResetRequests = msDuration(ceilDiv(o.defReq, rpm))
	}
	if tpm > 0 {
		d.LimitTokens = tpm
		d.RemainingTokens = max(0, (tpm*window-o.defTok)/window)
		d.ResetTokens = msDuration(ceilDiv(o.defTok, tpm))
	}
	if !o.allowed {
		var waitReq, waitTok int64
		if rpm > 0 {
			waitReq = ceilDiv(o.shortReq, rpm)
		}
		if tpm > 0 {
			waitTok = ceilDiv(o.shortTok, tpm)
		}
		if waitTok > waitReq {
			d.Limit, d.RetryAfter = LimitTokens, msDuration(waitTok)
		} else {
			d.Limit, d.RetryAfter = LimitRequests, msDuration(waitReq)
		}
	}
	return d
}

// msDuration converts milliseconds, saturating where time.Duration would overflow
// (a debt of ~290 years; only absurd overruns on a tiny limit get there).
func msDuration(ms int64) time.Duration {
	return time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
}

package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/store"
)

// ErrRateLimited is a request refused by a key's or tenant's rate limit.
var ErrRateLimited = errors.New("rate limited")

// RateLimitError carries the limiter's decision, whose numbers become the answer's
// Retry-After and x-ratelimit-* headers.
type RateLimitError struct {
	Scope    string // "key" or "tenant"
	Decision ratelimit.Decision
}

func (e *RateLimitError) Error() string {
	what := map[string]string{ratelimit.LimitRequests: "requests per minute", ratelimit.LimitTokens: "tokens per minute",
		ratelimit.LimitStreams: "concurrent streams"}[e.Decision.Limit]
	msg := fmt.Sprintf("Rate limit reached: this %s's limit on %s is used up.", e.Scope, what)
	if e.Decision.RetryAfter > 0 {
		msg += fmt.Sprintf(" Retry in %s.", e.Decision.RetryAfter.Round(time.Millisecond))
	} else {
		msg += " Retry when one of your running streams ends."
	}
	return msg + " Nothing was charged."
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

func limitsOf(l store.RateLimits) ratelimit.Limits {
	return ratelimit.Limits{RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute, ConcurrentStreams: l.ConcurrentStreams}
}

// rateSubject is one limited party of a call: its key or its tenant.
type rateSubject struct {
	scope, id string
	limits    ratelimit.Limits
}

func (cl *call) rateSubjects() []rateSubject {
	var out []rateSubject
	if cl.key.Limits.Any() {
		out = append(out, rateSubject{"key", "key:" + cl.key.ID, limitsOf(cl.key.Limits)})
	}
	if cl.key.TenantLimits.Any() {
		out = append(out, rateSubject{"tenant", "tenant:" + cl.key.TenantID, limitsOf(cl.key.TenantLimits)})
	}
	return out
}

// rateLimit admits the call against its key's and tenant's limits, charging the
// token estimate (the hold's own bound), and takes stream slots for streams. A
// limiter outage lets the call through: the prepaid hold still bounds the spend.
func (cl *call) rateLimit(tokens int64, stream bool) error {
	lim := cl.g.cfg.Limiter
	subjects := cl.rateSubjects()
	if lim == nil || len(subjects) == 0 {
		return nil
	}
	ctx := cl.ctx
	now := time.Now()
	for i, s := range subjects {
		d, err := lim.Allow(ctx, s.id, s.limits, tokens, now)
		if err != nil {
			cl.g.log.Warn("rate limiter unavailable; admitting the call", "request_id", cl.rec.RequestID, "error", err)
			continue
		}
		cl.rateHeaders = d
		if !d.Allowed {
			for _, prev := range subjects[:i] { // give back what the earlier subjects charged
				_ = lim.Adjust(ctx, prev.id, prev.limits, -tokens, now)
			}
			cl.g.cfg.Metrics.RateLimited(s.scope, d.Limit)
			return &RateLimitError{Scope: s.scope, Decision: d}
		}
		cl.rated = append(cl.rated, s)
	}
	cl.ratedTokens = tokens
	if !stream {
		return nil
	}
	for _, s := range subjects {
		if s.limits.ConcurrentStreams <= 0 {
			continue
		}
		release, ok, err := lim.Acquire(ctx, s.id, s.limits)
		if err != nil {
			continue
		}
		if !ok {
			cl.releaseStreams()
			cl.g.cfg.Metrics.RateLimited(s.scope, ratelimit.LimitStreams)
			return &RateLimitError{Scope: s.scope, Decision: ratelimit.Decision{Limit: ratelimit.LimitStreams}}
		}
		cl.streamSlots = append(cl.streamSlots, release)
	}
	return nil
}

// releaseStreams frees the call's stream slots.
func (cl *call) releaseStreams() {
	for _, release := range cl.streamSlots {
		release()
	}
	cl.streamSlots = nil
}

// correctTokens replaces the token estimate charged at admission with what the call
// really used, so tokens per minute counts actual use.
func (cl *call) correctTokens(used int64) {
	lim := cl.g.cfg.Limiter
	if lim == nil || len(cl.rated) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(cl.ctx), time.Second)
	defer cancel()
	for _, s := range cl.rated {
		_ = lim.Adjust(ctx, s.id, s.limits, used-cl.ratedTokens, time.Now())
	}
	cl.rated = nil
}

// rateLimitHeaders puts the x-ratelimit-* numbers of the last decision on the answer.
func (cl *call) rateLimitHeaders() {
	if len(cl.rated) == 0 {
		return
	}
	for k, v := range ratelimit.Headers(cl.rateHeaders) {
		cl.c.Header(k, v)
	}
}

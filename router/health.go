package router

import (
	"sort"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// Circuit breaker tuning: a channel that fails breakerThreshold times in a row is
// taken out of rotation for breakerCooldown, then let back in for one probe call;
// the probe's outcome closes the circuit or opens it again.
const (
	breakerThreshold = 5
	breakerCooldown  = 30 * time.Second
)

// Circuit states as the admin API and dashboard show them.
const (
	CircuitClosed   = "closed"    // in rotation
	CircuitOpen     = "open"      // out of rotation until the cooldown ends
	CircuitHalfOpen = "half-open" // one probe call allowed
)

// ChannelHealth is what the gateway has seen of one channel since it started.
type ChannelHealth struct {
	ChannelID   string    `json:"channel_id"`
	State       string    `json:"state"`
	Successes   int64     `json:"successes"`
	Failures    int64     `json:"failures"`
	Consecutive int       `json:"consecutive_failures"`
	LatencyMs   float64   `json:"latency_ms"` // moving average of successful attempts
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitempty"`
	OpenUntil   time.Time `json:"open_until,omitempty"`
}

// SuccessRate is successes over attempts, 1 when there were none.
func (h ChannelHealth) SuccessRate() float64 {
	if n := h.Successes + h.Failures; n > 0 {
		return float64(h.Successes) / float64(n)
	}
	return 1
}

type channelState struct {
	ChannelHealth
	probing bool // a half-open probe is in flight
}

// healthBook tracks every channel's attempts and circuit, in memory: each gateway
// process judges the upstreams it talks to.
type healthBook struct {
	mu sync.Mutex
	m  map[string]*channelState
}

func (b *healthBook) get(id string) *channelState {
	if b.m == nil {
		b.m = map[string]*channelState{}
	}
	s, ok := b.m[id]
	if !ok {
		s = &channelState{ChannelHealth: ChannelHealth{ChannelID: id, State: CircuitClosed}}
		b.m[id] = s
	}
	return s
}

// allow says whether a call may try the channel now; in the half-open state only
// one caller gets through as the probe.
func (b *healthBook) allow(id string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.get(id)
	switch s.State {
	case CircuitOpen:
		if now.Before(s.OpenUntil) {
			return false
		}
		s.State = CircuitHalfOpen
		fallthrough
	case CircuitHalfOpen:
		if s.probing {
			return false
		}
		s.probing = true
	}
	return true
}

// outcome is how an attempt reflects on the channel.
type outcome int

const (
	outcomeOK      outcome = iota // the channel answered (even if it refused the request itself)
	outcomeFailed                 // the channel failed: unreachable, timeout, 5xx, 429, its own auth/quota
	outcomeNeutral                // says nothing about the channel (the client went away)
)

// record notes an attempt's outcome and moves the circuit. A failed channel that
// asked to be left alone for wait (its Retry-After) is out of rotation that long:
// calls sent before then would only be refused again.
func (b *healthBook) record(id string, o outcome, latency time.Duration, errText string, wait time.Duration, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.get(id)
	s.probing = false
	switch o {
	case outcomeNeutral:
		if s.State == CircuitHalfOpen {
			s.State, s.OpenUntil = CircuitOpen, now // let the next call probe again
		}
		return
	case outcomeOK:
		s.Successes++
		s.Consecutive = 0
		s.State = CircuitClosed
		ms := float64(latency) / float64(time.Millisecond)
		if s.LatencyMs == 0 {
			s.LatencyMs = ms
		} else {
			s.LatencyMs = 0.8*s.LatencyMs + 0.2*ms
		}
		return
	}
	s.Failures++
	s.Consecutive++
	s.LastError, s.LastErrorAt = errText, now
	open, until := false, now
	if s.State == CircuitHalfOpen || s.Consecutive >= breakerThreshold {
		open, until = true, now.Add(breakerCooldown)
	}
	if wait > 0 {
		open, until = true, latest(until, now.Add(min(wait, providers.MaxRetryAfter)))
	}
	if open {
		s.State, s.OpenUntil = CircuitOpen, latest(until, s.OpenUntil)
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reopensIn is how long until the first of these channels takes calls again, for
// the Retry-After of a call that found them all out of rotation.
func (b *healthBook) reopensIn(ids []string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	soonest := time.Duration(-1)
	for _, id := range ids {
		wait := time.Second // half-open, its probe still running
		if s := b.m[id]; s != nil && s.State == CircuitOpen {
			wait = max(s.OpenUntil.Sub(now), 0)
		}
		if soonest < 0 || wait < soonest {
			soonest = wait
		}
	}
	return max(soonest, 0)
}

func (b *healthBook) snapshot() []ChannelHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]ChannelHealth, 0, len(b.m))
	for _, s := range b.m {
		h := s.ChannelHealth
		if h.State == CircuitOpen && time.Now().After(h.OpenUntil) {
			h.State = CircuitHalfOpen
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ChannelID < out[j].ChannelID })
	return out
}

// ChannelHealth reports every channel this process has called, for the admin API
// and dashboard.
func (g *Gateway) ChannelHealth() []ChannelHealth { return g.health.snapshot() }

func errAllCircuitsOpen(model string, wait time.Duration) error {
	return &retryAfterError{wait: wait, err: apiErr(ErrNoChannel, "",
		"Every channel serving '%s' is failing or asked for a pause and is out of rotation for a short while; nothing was charged. Retry after the time in the Retry-After header.", model)}
}

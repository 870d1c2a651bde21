package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount spreads subjects over independently locked maps so concurrent calls for
// different subjects rarely contend.
const shardCount = 64

// Memory is an in-process Limiter for a single gateway node. Its state is bounded by
// the subjects recently active: a subject whose buckets are full again is the same
// as a new one, so it is dropped (at once, or by a sweep a minute later).
type Memory struct {
	shards [shardCount]memShard

	streamMu sync.Mutex
	streams  map[string]int64 // subject → stream slots held; absent when zero
}

type memShard struct {
	mu        sync.Mutex
	subjects  map[string]memState
	nextSweep int64 // unix ms of the next eviction pass, driven by callers' now
}

type memState struct {
	reqDef, reqLast int64 // requests bucket: deficit (request·ms) and last update (unix ms)
	tokDef, tokLast int64 // tokens bucket, likewise
	idleAt          int64 // unix ms when both buckets are full again and the entry can go
}

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory {
	m := &Memory{streams: map[string]int64{}}
	for i := range m.shards {
		m.shards[i].subjects = map[string]memState{}
	}
	return m
}

func (m *Memory) shard(subject string) *memShard {
	// FNV-1a, inlined so a lookup allocates nothing.
	h := uint32(2166136261)
	for i := 0; i < len(subject); i++ {
		h ^= uint32(subject[i])
		h *= 16777619
	}
	return &m.shards[h%shardCount]
}

// load returns the subject's buckets refilled to now (full ones when it has no entry),
// and runs an eviction pass at most once a minute of the callers' clock. The shard's
// lock must be held. Like the Redis script, nothing is written back unless the
// caller then stores a change, so a refusal leaves the state exactly as it was.
func (s *memShard) load(subject string, rpm, tpm, now int64) memState {
	// Sweep also when the clock jumped back a long way, so one call from a far-future
	// clock cannot stop eviction. An entry goes a window after it is full again, the
	// same slack Redis keys get.
	if now >= s.nextSweep || now < s.nextSweep-2*window {
		for k, st := range s.subjects {
			if st.idleAt+window <= now {
				delete(s.subjects, k)
			}
		}
		s.nextSweep = now + window
	}
	st, ok := s.subjects[subject]
	if !ok {
		st = memState{reqLast: now, tokLast: now}
	}
	if rpm > 0 {
		st.reqDef = refill(st.reqDef, st.reqLast, now, rpm)
		st.reqLast = max(st.reqLast, now)
	}
	if tpm > 0 {
		st.tokDef = refill(st.tokDef, st.tokLast, now, tpm)
		st.tokLast = max(st.tokLast, now)
	}
	return st
}

// store saves a changed entry with the time it will be idle, or drops it when both
// buckets are full (the same as no entry at all).
func (s *memShard) store(subject string, st memState, rpm, tpm int64) {
	if (rpm <= 0 || st.reqDef == 0) && (tpm <= 0 || st.tokDef == 0) {
		delete(s.subjects, subject)
		return
	}
	st.idleAt = max(fullAt(st.reqDef, st.reqLast, rpm), fullAt(st.tokDef, st.tokLast, tpm))
	s.subjects[subject] = st
}

// Allow implements Limiter.
func (m *Memory) Allow(ctx context.Context, subject string, l Limits, tokens int64, now time.Time) (Decision, error) {
	rpm, tpm := normalize(l.RequestsPerMinute), normalize(l.TokensPerMinute)
	if rpm == 0 && tpm == 0 {
		return Decision{Allowed: true}, nil
	}
	cost := max(0, clampCost(tokens))
	ms := now.UnixMilli()
	s := m.shard(subject)
	s.mu.Lock()
	st := s.load(subject, rpm, tpm, ms)
	var o outcome
	if rpm > 0 {
		o.shortReq = shortfall(st.reqDef, 1, rpm)
	}
	if tpm > 0 {
		o.shortTok = shortfall(st.tokDef, cost, tpm)
	}
	o.allowed = o.shortReq <= 0 && o.shortTok <= 0
	if o.allowed {
		if rpm > 0 {
			st.reqDef = charge(st.reqDef, 1)
		}
		if tpm > 0 {
			st.tokDef = charge(st.tokDef, cost)
		}
		s.store(subject, st, rpm, tpm)
	}
	s.mu.Unlock()
	o.defReq, o.defTok = st.reqDef, st.tokDef
	return o.decision(rpm, tpm), nil
}

// Adjust implements Limiter.
func (m *Memory) Adjust(ctx context.Context, subject string, l Limits, delta int64, now time.Time) error {
	tpm := normalize(l.TokensPerMinute)
	if tpm == 0 || delta == 0 {
		return nil
	}
	rpm, ms := normalize(l.RequestsPerMinute), now.UnixMilli()
	s := m.shard(subject)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.load(subject, rpm, tpm, ms)
	st.tokDef = charge(st.tokDef, clampCost(delta))
	s.store(subject, st, rpm, tpm)
	return nil
}

// Acquire implements Limiter. Slots live only as long as this process, so no lease
// is needed: a crash frees them with everything else.
func (m *Memory) Acquire(ctx context.Context, subject string, l Limits) (func(), bool, error) {
	limit := normalize(l.ConcurrentStreams)
	if limit == 0 {
		return noop, true, nil
	}
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if m.streams[subject] >= limit {
		return noop, false, nil
	}
	m.streams[subject]++
	var done atomic.Bool
	return func() {
		if !done.CompareAndSwap(false, true) {
			return
		}
		m.streamMu.Lock()
		defer m.streamMu.Unlock()
		if m.streams[subject] <= 1 {
			delete(m.streams, subject)
		} else {
			m.streams[subject]--
		}
	}, true, nil
}

// subjects counts the entries held, for the eviction test.
func (m *Memory) subjects() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.subjects)
		s.mu.Unlock()
	}
	m.streamMu.Lock()
	n += len(m.streams)
	m.streamMu.Unlock()
	return n
}

func noop() {}

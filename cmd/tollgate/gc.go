package main

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
)

// tuneGC sets the garbage collector for a gateway, unless the operator set GOGC or
// GOMEMLIMIT. Its live heap is small (~40 MB, most of it the tokenizer) and its
// garbage is per call, so collecting at 4× the live heap instead of 2× saves a
// fifth of its CPU under load for ~100 MB. A live heap that grows (thousands of
// open streams) keeps that headroom in bytes rather than 4× itself (gcPercentFor),
// and the soft limit makes a large one collect as often as it needs to stay near
// 512 MiB.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(maxGCPercent)
		gcPercentNow.Store(maxGCPercent)
		adaptGC.Store(true)
		startGCAdapter.Do(func() { onEachGC(adaptGCPercent) })
	} else {
		adaptGC.Store(false)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}

// gcHeadroom is the garbage let pile up between collections: what GOGC=300 allows
// a baseLive heap. Above it the headroom shrinks by half of the growth: a large
// live heap is mostly parked streams, which make little garbage, and without that
// 10,000 of them held ~280 MB of resident memory instead of ~240 MB.
const (
	gcHeadroom   = 120 << 20
	baseLive     = 40 << 20
	minGCPercent = 50
	maxGCPercent = 300
)

// gcPercentFor is the GOGC that gives a live heap of live bytes its headroom,
// within 50 and 300.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	headroom := uint64(gcHeadroom)
	if live > baseLive {
		headroom -= min(headroom, (live-baseLive)/2)
	}
	return int(min(maxGCPercent, max(minGCPercent, headroom*100/live)))
}

var (
	adaptGC        atomic.Bool
	startGCAdapter sync.Once
	gcPercentNow   atomic.Int64 // what adaptGCPercent set last
)

// adaptGCPercent sets GOGC for the live heap the last collection found, when it
// moved by a tenth or more, or reached a bound.
func adaptGCPercent() {
	if !adaptGC.Load() {
		return
	}
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(sample)
	if sample[0].Value.Kind() != rtmetrics.KindUint64 {
		return
	}
	p := int64(gcPercentFor(sample[0].Value.Uint64()))
	now := gcPercentNow.Load()
	bound := p == minGCPercent || p == maxGCPercent
	if d := p - now; d != 0 && (bound || d*10 >= now || -d*10 >= now) {
		debug.SetGCPercent(int(p))
		gcPercentNow.Store(p)
	}
}

// gcSentinel is an object whose finalizer runs after each collection and re-arms
// itself. It holds a pointer so that it gets a block of its own: the runtime packs
// small pointer-free objects together, and a finalizer on one of them waits until
// every object in its block is unreachable, which may be never.
type gcSentinel struct{ _ *byte }

// onEachGC calls f after every garbage collection, on the finalizer goroutine.
func onEachGC(f func()) {
	var rearm func(*gcSentinel)
	rearm = func(s *gcSentinel) {
		f()
		runtime.SetFinalizer(s, rearm)
	}
	runtime.SetFinalizer(&gcSentinel{}, rearm)
}

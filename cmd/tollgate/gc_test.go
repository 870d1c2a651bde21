package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// TestTuneGC: the gateway's collector settings apply unless the operator chose his own.
func TestTuneGC(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}()

	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != 300 {
		t.Errorf("GC percent %d, want 300", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 512<<20 {
		t.Errorf("memory limit %d, want 512 MiB", got)
	}

	tuneGC(func(name string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[name] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set, yet the GC percent became %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set, yet the memory limit became %d", got)
	}
}

func TestGCPercentKeepsTheHeadroomInBytes(t *testing.T) {
	for _, tc := range []struct {
		liveMB uint64
		want   int
	}{
		{0, 300}, {10, 300}, {40, 300}, {60, 183}, {100, 90}, {120, 66}, {200, 50}, {400, 50},
	} {
		if got := gcPercentFor(tc.liveMB << 20); got != tc.want {
			t.Errorf("live heap %d MB: GOGC %d, want %d", tc.liveMB, got, tc.want)
		}
	}
}

func TestGCAdaptsAfterCollections(t *testing.T) {
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	tuneGC(func(string) string { return "" })
	defer adaptGC.Store(false)
	ballast := make([][]byte, 0, 300)
	for range 300 { // a 300 MB live heap: the headroom becomes GOGC=50
		ballast = append(ballast, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(10 * time.Second)
	for gcPercentNow.Load() != minGCPercent {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d: it did not follow a 300 MB live heap down to %d", gcPercentNow.Load(), minGCPercent)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	adaptGC.Store(false)
	if got := debug.SetGCPercent(100); got != minGCPercent {
		t.Fatalf("the runtime's GOGC is %d, not the %d set", got, minGCPercent)
	}
	runtime.KeepAlive(ballast)
}

// TestOnEachGCBesideLongLivedObjects: the hook runs after collections even when small
// objects allocated next to its sentinel stay reachable (it once shared their block,
// and the GC percent then stayed at 300 with 10,000 streams held). Only a build
// without the race detector packs small objects together: `make test` runs it so.
func TestOnEachGCBesideLongLivedObjects(t *testing.T) {
	var calls [8]atomic.Int32
	kept := make([]*[8]byte, 0, 2*len(calls))
	for i := range calls {
		kept = append(kept, new([8]byte))
		onEachGC(func() { calls[i].Add(1) })
		kept = append(kept, new([8]byte))
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := range calls {
		for calls[i].Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("hook %d never ran after collections", i)
			}
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
		}
	}
	runtime.KeepAlive(kept)
}

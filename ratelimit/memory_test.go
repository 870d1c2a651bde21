package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestMemoryEvictsIdleSubjects: a stream of ever-new subjects (keys come and go)
// must not grow the limiter: entries go once their buckets are full again.
func TestMemoryEvictsIdleSubjects(t *testing.T) {
	m := NewMemory()
	l := Limits{RequestsPerMinute: 5, TokensPerMinute: 10_000}
	peak := 0
	for round := range 30 {
		now := at(time.Duration(round) * time.Minute)
		for i := range 1000 {
			wantAllowed(t, allow(t, m, fmt.Sprintf("key:%d-%d", round, i), l, 100, now))
		}
		peak = max(peak, m.subjects())
	}
	// Each entry is full 12s after its request and swept a minute later: at most the
	// last two or three rounds are held.
	if peak > 3000 {
		t.Fatalf("memory limiter held %d subjects after 30 rounds of 1000 new ones, want ≤ 3000", peak)
	}
	if peak < 1000 {
		t.Fatalf("memory limiter held only %d subjects: a round's own entries must be kept", peak)
	}
}

// TestMemoryKeepsWhatIsOwed: eviction never forgets a subject that still owes:
// an oversize charge keeps its entry (and its refusals) until it has refilled.
func TestMemoryKeepsWhatIsOwed(t *testing.T) {
	m := NewMemory()
	l := Limits{TokensPerMinute: 1000}
	wantAllowed(t, allow(t, m, "key:big", l, 10_000, t0)) // full again after 10 minutes
	for minute := 1; minute < 10; minute++ {
		now := at(time.Duration(minute) * time.Minute)
		for i := range 200 { // touch every shard so each runs its sweep
			allow(t, m, fmt.Sprintf("key:other-%d", i), Limits{RequestsPerMinute: 1}, 0, now)
		}
		wantRefused(t, allow(t, m, "key:big", l, 1000, now), LimitTokens, time.Duration(10-minute)*time.Minute)
	}
	wantAllowed(t, allow(t, m, "key:big", l, 1000, at(10*time.Minute)))
}

// TestMemoryDropsFullEntriesAtOnce: a refund back to full, or released streams,
// leave nothing behind.
func TestMemoryDropsFullEntriesAtOnce(t *testing.T) {
	m := NewMemory()
	l := Limits{TokensPerMinute: 1000, ConcurrentStreams: 3}
	wantAllowed(t, allow(t, m, "key:a", l, 400, t0))
	if n := m.subjects(); n != 1 {
		t.Fatalf("%d entries after one charge, want 1", n)
	}
	adjust(t, m, "key:a", l, -400, t0)
	var releases []func()
	for i := range 50 {
		releases = append(releases, acquire(t, m, fmt.Sprintf("key:s%d", i), l, true))
	}
	if n := m.subjects(); n != 50 {
		t.Fatalf("%d entries with 50 streams held and one refunded bucket, want 50", n)
	}
	for _, r := range releases {
		r()
	}
	if n := m.subjects(); n != 0 {
		t.Fatalf("%d entries left after the refund and every release, want 0", n)
	}
}

// TestMemoryManySubjectsConcurrently exercises the shards under the race detector:
// each subject gets exactly its own limit whatever the other goroutines do.
func TestMemoryManySubjectsConcurrently(t *testing.T) {
	m := NewMemory()
	l := Limits{RequestsPerMinute: 20, TokensPerMinute: 1_000, ConcurrentStreams: 2}
	var mu sync.Mutex
	allowed := map[string]int{}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 400 {
				subject := fmt.Sprintf("key:%d", (g+i)%40)
				d, _ := m.Allow(context.Background(), subject, l, 10, t0)
				if release, ok, _ := m.Acquire(context.Background(), subject, l); ok {
					release()
				}
				if d.Allowed {
					mu.Lock()
					allowed[subject]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range 40 {
		if n := allowed[fmt.Sprintf("key:%d", i)]; n != 20 {
			t.Fatalf("key:%d admitted %d requests, want exactly its limit of 20", i, n)
		}
	}
}

package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the fake clock's origin: every behaviour below is driven by explicit `now`
// values, so the answers are exact.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// behaviours is the one table both implementations must pass.
var behaviours = []struct {
	name string
	run  func(t *testing.T, lim Limiter)
}{
	{"RequestsRefusedAfterLimit", testRequestsRefusedAfterLimit},
	{"WindowRefillsWithTime", testWindowRefills},
	{"TokensPerMinuteWithAdjust", testTokensWithAdjust},
	{"OversizeEstimateRunsAloneThenAdjusts", testOversizeEstimate},
	{"LongerWaitNamesTheLimit", testLongerWaitNamesTheLimit},
	{"RefusedRequestConsumesNothing", testRefusedConsumesNothing},
	{"ZeroLimitsAreUnlimited", testUnlimited},
	{"SubjectsAreIndependent", testSubjectsIndependent},
	{"ClockGoingBackRefillsNothing", testClockBackwards},
	{"LoweredLimitAppliesAtOnce", testLoweredLimit},
	{"StreamsAcquireRelease", testStreams},
	{"ConcurrentAllowAdmitsExactlyTheLimit", testConcurrentAllow},
	{"ConcurrentAcquireAdmitsExactlyTheLimit", testConcurrentAcquire},
}

func TestMemoryLimiter(t *testing.T) {
	for _, b := range behaviours {
		t.Run(b.name, func(t *testing.T) { b.run(t, NewMemory()) })
	}
}

func TestRedisLimiter(t *testing.T) {
	c := redisClient(t)
	for _, b := range behaviours {
		t.Run(b.name, func(t *testing.T) { b.run(t, NewRedis(c, testPrefix(t, c))) })
	}
}

func allow(t *testing.T, lim Limiter, subject string, l Limits, tokens int64, now time.Time) Decision {
	t.Helper()
	d, err := lim.Allow(context.Background(), subject, l, tokens, now)
	if err != nil {
		t.Fatalf("Allow(%s, %d tokens): %v", subject, tokens, err)
	}
	return d
}

func adjust(t *testing.T, lim Limiter, subject string, l Limits, delta int64, now time.Time) {
	t.Helper()
	if err := lim.Adjust(context.Background(), subject, l, delta, now); err != nil {
		t.Fatalf("Adjust(%s, %d): %v", subject, delta, err)
	}
}

func wantAllowed(t *testing.T, d Decision) {
	t.Helper()
	if !d.Allowed {
		t.Fatalf("refused (%s, retry after %v), want allowed: %+v", d.Limit, d.RetryAfter, d)
	}
}

func wantRefused(t *testing.T, d Decision, limit string, retry time.Duration) {
	t.Helper()
	if d.Allowed || d.Limit != limit || d.RetryAfter != retry {
		t.Fatalf("got allowed=%v limit=%q retry=%v, want refused by %q with retry %v", d.Allowed, d.Limit, d.RetryAfter, limit, retry)
	}
}

func testRequestsRefusedAfterLimit(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 5}
	for i := int64(0); i < 5; i++ {
		d := allow(t, lim, "key:a", l, 0, t0)
		wantAllowed(t, d)
		if d.LimitRequests != 5 || d.RemainingRequests != 4-i {
			t.Fatalf("request %d: limit %d remaining %d, want 5 and %d", i, d.LimitRequests, d.RemainingRequests, 4-i)
		}
		if want := time.Duration(i+1) * 12 * time.Second; d.ResetRequests != want {
			t.Fatalf("request %d: reset %v, want %v", i, d.ResetRequests, want)
		}
		if d.LimitTokens != 0 {
			t.Fatalf("tokens reported for an unlimited token budget: %+v", d)
		}
	}
	d := allow(t, lim, "key:a", l, 0, t0)
	wantRefused(t, d, LimitRequests, 12*time.Second) // one request drips back every 60s/5
	if d.RemainingRequests != 0 || d.ResetRequests != time.Minute {
		t.Fatalf("refusal reports remaining %d reset %v, want 0 and 1m", d.RemainingRequests, d.ResetRequests)
	}
}

func testWindowRefills(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 3}
	for range 3 {
		wantAllowed(t, allow(t, lim, "key:a", l, 0, t0))
	}
	wantRefused(t, allow(t, lim, "key:a", l, 0, at(19999*time.Millisecond)), LimitRequests, time.Millisecond)
	d := allow(t, lim, "key:a", l, 0, at(20*time.Second))
	wantAllowed(t, d)
	if d.RemainingRequests != 0 {
		t.Fatalf("remaining %d after the one refilled request, want 0", d.RemainingRequests)
	}
	wantRefused(t, allow(t, lim, "key:a", l, 0, at(30*time.Second)), LimitRequests, 10*time.Second)
	// A minute after the last admission the bucket is full again.
	later := at(80 * time.Second)
	for i := range 3 {
		d := allow(t, lim, "key:a", l, 0, later)
		wantAllowed(t, d)
		if d.RemainingRequests != int64(2-i) {
			t.Fatalf("after a full refill request %d leaves %d, want %d", i, d.RemainingRequests, 2-i)
		}
	}
	wantRefused(t, allow(t, lim, "key:a", l, 0, later), LimitRequests, 20*time.Second)
}

func testTokensWithAdjust(t *testing.T, lim Limiter) {
	l := Limits{TokensPerMinute: 1000}
	d := allow(t, lim, "key:a", l, 600, t0)
	wantAllowed(t, d)
	if d.LimitTokens != 1000 || d.RemainingTokens != 400 || d.ResetTokens != 36*time.Second {
		t.Fatalf("after 600 of 1000: %+v, want remaining 400 reset 36s", d)
	}
	// 600 more needs 200 refilled tokens: 200 × 60ms.
	wantRefused(t, allow(t, lim, "key:a", l, 600, t0), LimitTokens, 12*time.Second)
	// The call really used 100: give back 500, and 600 more fits.
	adjust(t, lim, "key:a", l, -500, t0)
	d = allow(t, lim, "key:a", l, 600, t0)
	wantAllowed(t, d)
	if d.RemainingTokens != 300 {
		t.Fatalf("remaining %d after 100 + 600 used, want 300", d.RemainingTokens)
	}
	// That call overran its estimate by 400: 1100 used, in debt by 100.
	adjust(t, lim, "key:a", l, 400, t0)
	wantRefused(t, allow(t, lim, "key:a", l, 1, t0), LimitTokens, 6060*time.Millisecond)
	// A refund can never make the bucket more than full.
	adjust(t, lim, "key:a", l, -1_000_000, t0)
	d = allow(t, lim, "key:a", l, 1000, t0)
	wantAllowed(t, d)
	wantRefused(t, allow(t, lim, "key:a", l, 1, t0), LimitTokens, 60*time.Millisecond)
}

func testOversizeEstimate(t *testing.T, lim Limiter) {
	l := Limits{TokensPerMinute: 1000}
	d := allow(t, lim, "key:a", l, 5000, t0) // more than a minute's allowance, on a full bucket
	wantAllowed(t, d)
	if d.RemainingTokens != 0 || d.ResetTokens != 5*time.Minute {
		t.Fatalf("oversize admission: %+v, want 0 remaining, reset 5m", d)
	}
	wantRefused(t, allow(t, lim, "key:a", l, 1, t0), LimitTokens, 4001*60*time.Millisecond)
	adjust(t, lim, "key:a", l, 100-5000, t0) // it used 100
	wantAllowed(t, allow(t, lim, "key:a", l, 900, t0))
	// Oversize again while not full: it waits for the bucket to fill completely.
	wantRefused(t, allow(t, lim, "key:a", l, 5000, t0), LimitTokens, time.Minute)
	wantAllowed(t, allow(t, lim, "key:a", l, 5000, at(time.Minute)))
}

func testLongerWaitNamesTheLimit(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 2, TokensPerMinute: 1000}
	wantAllowed(t, allow(t, lim, "key:a", l, 100, t0))
	wantAllowed(t, allow(t, lim, "key:a", l, 100, t0))
	// Both refuse: a request needs 30s, 900 tokens need 6s. The longer wait wins.
	d := allow(t, lim, "key:a", l, 900, t0)
	wantRefused(t, d, LimitRequests, 30*time.Second)
	if d.RemainingTokens != 800 || d.RemainingRequests != 0 {
		t.Fatalf("refusal reports %+v, want 0 requests and 800 tokens remaining", d)
	}
	l = Limits{RequestsPerMinute: 100, TokensPerMinute: 100}
	wantAllowed(t, allow(t, lim, "key:b", l, 100, t0))
	wantRefused(t, allow(t, lim, "key:b", l, 100, t0), LimitTokens, time.Minute)
}

func testRefusedConsumesNothing(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 10, TokensPerMinute: 100}
	wantAllowed(t, allow(t, lim, "key:a", l, 90, t0))
	for range 20 {
		d := allow(t, lim, "key:a", l, 50, t0)
		wantRefused(t, d, LimitTokens, 24*time.Second)
		if d.RemainingRequests != 9 {
			t.Fatalf("a refused request was counted: %d requests remaining, want 9", d.RemainingRequests)
		}
	}
	d := allow(t, lim, "key:a", l, 10, t0)
	wantAllowed(t, d)
	if d.RemainingRequests != 8 || d.RemainingTokens != 0 {
		t.Fatalf("after two admissions: %+v, want 8 requests and 0 tokens remaining", d)
	}
}

func testUnlimited(t *testing.T, lim Limiter) {
	for i := range 500 {
		d := allow(t, lim, "key:a", Limits{}, 1_000_000, t0)
		wantAllowed(t, d)
		if h := Headers(d); len(h) != 0 {
			t.Fatalf("unlimited decision %d renders headers %v", i, h)
		}
	}
	wantAllowed(t, allow(t, lim, "key:a", Limits{RequestsPerMinute: -1, TokensPerMinute: -5}, 10, t0))
	if err := lim.Adjust(context.Background(), "key:a", Limits{}, 1_000_000, t0); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		release, ok, err := lim.Acquire(context.Background(), "key:a", Limits{})
		if err != nil || !ok {
			t.Fatalf("unlimited streams refused: ok=%v err=%v", ok, err)
		}
		defer release()
	}
}

func testSubjectsIndependent(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 1, ConcurrentStreams: 1}
	wantAllowed(t, allow(t, lim, "key:a", l, 0, t0))
	wantRefused(t, allow(t, lim, "key:a", l, 0, t0), LimitRequests, time.Minute)
	wantAllowed(t, allow(t, lim, "key:b", l, 0, t0))
	wantAllowed(t, allow(t, lim, "tenant:a", l, 0, t0))
	ra, ok, err := lim.Acquire(context.Background(), "key:a", l)
	if err != nil || !ok {
		t.Fatalf("key:a stream: ok=%v err=%v", ok, err)
	}
	defer ra()
	rb, ok, err := lim.Acquire(context.Background(), "key:b", l)
	if err != nil || !ok {
		t.Fatalf("key:b stream refused while only key:a holds one: ok=%v err=%v", ok, err)
	}
	defer rb()
}

func testClockBackwards(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 1}
	wantAllowed(t, allow(t, lim, "key:a", l, 0, t0))
	// A node whose clock lags an hour must not see a refill, nor crash the arithmetic.
	wantRefused(t, allow(t, lim, "key:a", l, 0, at(-time.Hour)), LimitRequests, time.Minute)
	wantRefused(t, allow(t, lim, "key:a", l, 0, at(30*time.Second)), LimitRequests, 30*time.Second)
	// One millisecond short is still short.
	wantRefused(t, allow(t, lim, "key:a", l, 0, at(59999*time.Millisecond)), LimitRequests, time.Millisecond)
	wantAllowed(t, allow(t, lim, "key:a", l, 0, at(time.Minute)))
}

func testLoweredLimit(t *testing.T, lim Limiter) {
	for range 5 {
		wantAllowed(t, allow(t, lim, "key:a", Limits{RequestsPerMinute: 10}, 0, t0))
	}
	// The operator lowers the limit to 3 while 5 were just used: 3 must drain first.
	wantRefused(t, allow(t, lim, "key:a", Limits{RequestsPerMinute: 3}, 0, t0), LimitRequests, time.Minute)
	wantAllowed(t, allow(t, lim, "key:a", Limits{RequestsPerMinute: 3}, 0, at(time.Minute)))
}

func acquire(t *testing.T, lim Limiter, subject string, l Limits, wantOK bool) func() {
	t.Helper()
	release, ok, err := lim.Acquire(context.Background(), subject, l)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", subject, err)
	}
	if ok != wantOK {
		t.Fatalf("Acquire(%s) ok=%v, want %v", subject, ok, wantOK)
	}
	if release == nil {
		t.Fatal("Acquire returned a nil release func")
	}
	return release
}

func testStreams(t *testing.T, lim Limiter) {
	l := Limits{ConcurrentStreams: 2}
	r1 := acquire(t, lim, "key:a", l, true)
	r2 := acquire(t, lim, "key:a", l, true)
	refused := acquire(t, lim, "key:a", l, false)
	refused() // a refused acquisition's release is a harmless no-op
	acquire(t, lim, "key:a", l, false)

	r1()
	r1() // twice: must free one slot, not two
	r3 := acquire(t, lim, "key:a", l, true)
	acquire(t, lim, "key:a", l, false)

	r2()
	r3()
	r3()
	r4 := acquire(t, lim, "key:a", l, true)
	r5 := acquire(t, lim, "key:a", l, true)
	acquire(t, lim, "key:a", l, false)
	r4()
	r5()
}

func testConcurrentAllow(t *testing.T, lim Limiter) {
	l := Limits{RequestsPerMinute: 10, TokensPerMinute: 1_000_000}
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			d, err := lim.Allow(context.Background(), "tenant:busy", l, 10, t0)
			switch {
			case err != nil:
				t.Error(err)
			case d.Allowed:
				allowed.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != 10 || refused.Load() != 90 {
		t.Fatalf("100 concurrent calls against 10/min: %d allowed, %d refused; want 10 and 90", allowed.Load(), refused.Load())
	}
	d := allow(t, lim, "tenant:busy", l, 0, t0)
	if d.RemainingTokens != 1_000_000-100 {
		t.Fatalf("tokens remaining %d, want %d: only admitted calls may be charged", d.RemainingTokens, 1_000_000-100)
	}
}

func testConcurrentAcquire(t *testing.T, lim Limiter) {
	l := Limits{ConcurrentStreams: 10}
	var mu sync.Mutex
	var releases []func()
	var refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			release, ok, err := lim.Acquire(context.Background(), "tenant:busy", l)
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				mu.Lock()
				releases = append(releases, release)
				mu.Unlock()
			default:
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(releases) != 10 || refused.Load() != 90 {
		t.Fatalf("100 concurrent acquisitions against 10 slots: %d held, %d refused; want 10 and 90", len(releases), refused.Load())
	}
	// Release everything concurrently, each twice: exactly 10 slots come back.
	for _, r := range releases {
		wg.Go(r)
		wg.Go(r)
	}
	wg.Wait()
	for range 10 {
		defer acquire(t, lim, "tenant:busy", l, true)()
	}
	acquire(t, lim, "tenant:busy", l, false)
}

package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisAddr is where the Redis suite looks; TOLLGATE_TEST_REDIS_ADDR overrides it.
func redisAddr() string {
	if a := os.Getenv("TOLLGATE_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// redisProbe checks once per test binary whether Redis answers, so an absent Redis
// costs one dial timeout, not one per test.
var redisProbe = sync.OnceValue(func() error {
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), DialerRetries: 1, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
})

// redisClient connects to the test Redis. Unreachable Redis fails the test in CI
// (CI=true), where it must run, and skips it elsewhere with the reason.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	if err := redisProbe(); err != nil {
		msg := "Redis is unreachable at " + redisAddr() + " (" + err.Error() + "); start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\""
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipping the Redis limiter tests: " + msg)
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), PoolSize: 128})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix returns a key prefix no other test (or test run) uses, and removes the
// test's keys afterwards.
func testPrefix(t testing.TB, c *redis.Client) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	prefix := "tollgate-test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// TestRedisNodesShareCounts: two limiter instances with their own connections (two
// gateway nodes) draw from the same buckets and the same stream slots.
func TestRedisNodesShareCounts(t *testing.T) {
	c1 := redisClient(t)
	c2 := redisClient(t)
	prefix := testPrefix(t, c1)
	a, b := NewRedis(c1, prefix), NewRedis(c2, prefix)

	l := Limits{RequestsPerMinute: 5, TokensPerMinute: 1000, ConcurrentStreams: 2}
	for range 3 {
		wantAllowed(t, allow(t, a, "tenant:t1", l, 100, t0))
	}
	d := allow(t, b, "tenant:t1", l, 100, t0)
	wantAllowed(t, d)
	if d.RemainingRequests != 1 || d.RemainingTokens != 600 {
		t.Fatalf("node b sees %d requests and %d tokens remaining, want 1 and 600 (node a's use counted)", d.RemainingRequests, d.RemainingTokens)
	}
	wantAllowed(t, allow(t, b, "tenant:t1", l, 100, t0))
	wantRefused(t, allow(t, a, "tenant:t1", l, 100, t0), LimitRequests, 12*time.Second)
	wantRefused(t, allow(t, b, "tenant:t1", l, 100, t0), LimitRequests, 12*time.Second)
	// Node a learns its calls used nothing: node b sees the refund.
	adjust(t, a, "tenant:t1", l, -500, t0)
	if d := allow(t, b, "tenant:t1", l, 0, at(12*time.Second)); !d.Allowed || d.RemainingTokens != 1000 {
		t.Fatalf("after node a's refund node b sees %+v, want allowed with 1000 tokens remaining", d)
	}

	ra := acquire(t, a, "tenant:t1", l, true)
	rb := acquire(t, b, "tenant:t1", l, true)
	acquire(t, a, "tenant:t1", l, false)
	acquire(t, b, "tenant:t1", l, false)
	ra()
	defer acquire(t, b, "tenant:t1", l, true)()
	rb()
}

// redisNow reads the Redis server's clock, the one leases are timed by.
func redisNow(t *testing.T, c *redis.Client) time.Time {
	t.Helper()
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// leaseExpiries returns the expiry (Redis time) of every lease held on a stream key.
func leaseExpiries(t *testing.T, c *redis.Client, key string) []time.Time {
	t.Helper()
	zs, err := c.ZRangeWithScores(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, len(zs))
	for i, z := range zs {
		out[i] = time.UnixMilli(int64(z.Score))
	}
	return out
}

// waitFreshLeases polls until the key holds n leases, each renewed after `after`
// and valid for at least half a TTL more. Polling (instead of sleeping a fixed
// time) keeps the test honest on a loaded machine, where a renewal may run late.
func waitFreshLeases(t *testing.T, c *redis.Client, key string, n int, after time.Time, ttl time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * ttl)
	for {
		exp, now := leaseExpiries(t, c, key), redisNow(t, c)
		fresh := len(exp) == n
		for _, e := range exp {
			fresh = fresh && e.After(after.Add(ttl)) && e.Sub(now) >= ttl/2
		}
		if fresh {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases on %s were not renewed after %v: expiries %v (Redis time now %v)", key, after, exp, now)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisCrashedNodeLeaseExpires: a live node's stream slot is renewed for as long
// as its stream runs; a node that dies holding one stops renewing it, and the slot
// is free again at most LeaseTTL after the crash.
func TestRedisCrashedNodeLeaseExpires(t *testing.T) {
	t.Parallel() // it mostly waits
	c := redisClient(t)
	prefix := testPrefix(t, c)
	const ttl = 600 * time.Millisecond
	crashed, survivor := NewRedis(c, prefix), NewRedis(c, prefix)
	crashed.LeaseTTL, survivor.LeaseTTL = ttl, ttl
	l := Limits{ConcurrentStreams: 2}
	key, lonely := prefix+"st:key:k", prefix+"st:key:lonely"

	start := redisNow(t, c)
	// Never released: the node "dies" below.
	acquire(t, crashed, "key:k", l, true)
	acquire(t, crashed, "key:lonely", l, true)
	// The survivor's own long stream keeps the subject's key alive throughout, so the
	// crashed slot must be reaped by expiry of its lease, not of the whole key.
	defer acquire(t, survivor, "key:k", l, true)()

	// Both slots outlive their first TTL because they are renewed, and still count.
	waitFreshLeases(t, c, key, 2, start.Add(ttl), ttl)
	acquire(t, survivor, "key:k", l, false)

	crashed.halt()
	halted := redisNow(t, c)
	// The bound: no lease of the crashed node reaches past the crash by more than
	// the TTL.
	for _, e := range leaseExpiries(t, c, lonely) {
		if e.After(halted.Add(ttl)) {
			t.Fatalf("a crashed node's lease runs until %v, more than LeaseTTL %v after the crash at %v", e, ttl, halted)
		}
	}
	deadline := time.Now().Add(10 * ttl)
	for {
		release, ok, err := survivor.Acquire(context.Background(), "key:k", l)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the crashed node's slot was still held %v after the crash (lease TTL %v); expiries %v", 10*ttl, ttl, leaseExpiries(t, c, key))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A subject nobody touches again loses its key by expiry alone.
	for c.Exists(context.Background(), lonely).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stream key of a crashed node's only lease still exists %v after the crash", 10*ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisRenewalSurvivesScriptFlush: a Redis restart or SCRIPT FLUSH forgets the
// cached scripts; renewals must reload theirs rather than let live slots lapse.
func TestRedisRenewalSurvivesScriptFlush(t *testing.T) {
	t.Parallel() // it mostly waits
	c := redisClient(t)
	prefix := testPrefix(t, c)
	const ttl = 600 * time.Millisecond
	a, b := NewRedis(c, prefix), NewRedis(c, prefix)
	a.LeaseTTL, b.LeaseTTL = ttl, ttl
	l := Limits{ConcurrentStreams: 1}
	defer acquire(t, a, "key:k", l, true)()
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flushed := redisNow(t, c)
	waitFreshLeases(t, c, prefix+"st:key:k", 1, flushed, ttl)
	acquire(t, b, "key:k", l, false)
}

// TestRedisIdleSubjectsExpire: a bucket's key expires when it would be full again
// (full is the same as absent), so Redis never keeps idle subjects.
func TestRedisIdleSubjectsExpire(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	r := NewRedis(c, prefix)
	ctx := context.Background()

	wantAllowed(t, allow(t, r, "key:a", Limits{RequestsPerMinute: 60}, 0, t0))
	pttl := c.PTTL(ctx, prefix+"rl:key:a").Val()
	if pttl <= time.Minute || pttl > time.Minute+time.Second+time.Millisecond {
		t.Fatalf("one request of 60/min: key TTL %v, want about 1m1s (1s to refill it, plus a window of slack)", pttl)
	}
	l := Limits{TokensPerMinute: 1000}
	wantAllowed(t, allow(t, r, "key:b", l, 500, t0))
	adjust(t, r, "key:b", l, -500, t0)
	if n := c.Exists(ctx, prefix+"rl:key:b").Val(); n != 0 {
		t.Fatalf("a bucket refunded to full still has a key")
	}
	wantAllowed(t, allow(t, r, "key:c", l, 500, t0))
	wantAllowed(t, allow(t, r, "key:c", l, 0, at(time.Minute)))
	if n := c.Exists(ctx, prefix+"rl:key:c").Val(); n != 0 {
		t.Fatalf("a bucket found full again still has a key")
	}
}

// TestRedisErrorsAreReturned: an unreachable Redis is reported (wrapped in
// ErrBackend), never silently allowed or refused.
func TestRedisErrorsAreReturned(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer c.Close()
	r := NewRedis(c, "nowhere:")
	ctx := context.Background()
	l := Limits{RequestsPerMinute: 1, TokensPerMinute: 1, ConcurrentStreams: 1}
	if _, err := r.Allow(ctx, "key:a", l, 1, t0); !errors.Is(err, ErrBackend) {
		t.Fatalf("Allow: err %v, want ErrBackend", err)
	}
	if err := r.Adjust(ctx, "key:a", l, 1, t0); !errors.Is(err, ErrBackend) {
		t.Fatalf("Adjust: err %v, want ErrBackend", err)
	}
	release, ok, err := r.Acquire(ctx, "key:a", l)
	if !errors.Is(err, ErrBackend) || ok || release == nil {
		t.Fatalf("Acquire: ok=%v err=%v release nil=%v, want ErrBackend, not ok, a no-op release", ok, err, release == nil)
	}
	release()
}

// TestRedisMatchesMemory replays one random sequence of calls — limits up to and
// past the clamp, estimates far past it, refunds and overruns, time jumps forward and
// back — against both implementations and requires identical decisions: the Lua
// scripts and the Go code must be the same algorithm, including where Lua's doubles
// would round. (Each subject keeps its limits: how a changed limit meets an evicted
// or expired entry is allowed to differ.)
func TestRedisMatchesMemory(t *testing.T) {
	c := redisClient(t)
	r, m := NewRedis(c, testPrefix(t, c)), NewMemory()
	rng := mrand.New(mrand.NewPCG(7, 11))
	pick := func(vals ...int64) int64 { return vals[rng.IntN(len(vals))] }
	subjects := map[string]Limits{
		"key:small":     {RequestsPerMinute: 7, TokensPerMinute: 40_000},
		"key:one":       {RequestsPerMinute: 1, TokensPerMinute: 1},
		"key:odd":       {RequestsPerMinute: 13, TokensPerMinute: 999_983},
		"tenant:max":    {RequestsPerMinute: maxLimit, TokensPerMinute: maxLimit},
		"tenant:over":   {RequestsPerMinute: math.MaxInt64, TokensPerMinute: 3},
		"tenant:tokens": {TokensPerMinute: 3_000_000},
		"tenant:reqs":   {RequestsPerMinute: 60},
	}
	names := make([]string, 0, len(subjects))
	for s := range subjects {
		names = append(names, s)
	}
	slices.Sort(names)
	now := t0
	ctx := context.Background()
	for i := range 4000 {
		subject := names[rng.IntN(len(names))]
		l := subjects[subject]
		now = now.Add(time.Duration(pick(0, 0, 1, 13, 999, 8_571, 60_000, -5_000)) * time.Millisecond)
		if rng.IntN(4) == 0 {
			delta := pick(-1, -8_000, 3_000, -math.MaxInt64, maxCost, math.MaxInt64)
			if err := r.Adjust(ctx, subject, l, delta, now); err != nil {
				t.Fatal(err)
			}
			_ = m.Adjust(ctx, subject, l, delta, now)
			continue
		}
		tokens := pick(0, 1, 500, 9_000, 45_000, 2_999_999, maxCost, math.MaxInt64, -3)
		dr, err := r.Allow(ctx, subject, l, tokens, now)
		if err != nil {
			t.Fatal(err)
		}
		dm, _ := m.Allow(ctx, subject, l, tokens, now)
		if dr != dm {
			t.Fatalf("step %d (%s, %+v, %d tokens at +%v): Redis %+v, memory %+v", i, subject, l, tokens, now.Sub(t0), dr, dm)
		}
	}
}

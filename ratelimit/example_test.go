package ratelimit_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tollgate-gw/tollgate/ratelimit"
)

// Example shows the calls a gateway makes around one streamed request: admit it,
// send the headers, hold a stream slot while it runs, then correct the token count
// with the usage the upstream reported.
func Example() {
	ctx := context.Background()
	lim := ratelimit.NewMemory() // ratelimit.NewRedis(client, "tollgate:") on several nodes
	limits := ratelimit.Limits{RequestsPerMinute: 60, TokensPerMinute: 10_000, ConcurrentStreams: 1}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	d, err := lim.Allow(ctx, "key:k1", limits, 4_000, now) // 4000 = the hold-sized estimate
	if err != nil {
		panic(err) // a real gateway logs and fails open here
	}
	h := ratelimit.Headers(d)
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Printf("%s: %s\n", k, h[k])
	}

	release, ok, _ := lim.Acquire(ctx, "key:k1", limits)
	fmt.Println("stream slot:", ok)
	_, ok, _ = lim.Acquire(ctx, "key:k1", limits)
	fmt.Println("second stream slot:", ok)
	release()

	// The call used 1200 tokens, not 4000.
	_ = lim.Adjust(ctx, "key:k1", limits, 1_200-4_000, now)
	d, _ = lim.Allow(ctx, "key:k1", limits, 0, now)
	fmt.Println("tokens remaining:", d.RemainingTokens)
	// Output:
	// x-ratelimit-limit-requests: 60
	// x-ratelimit-limit-tokens: 10000
	// x-ratelimit-remaining-requests: 59
	// x-ratelimit-remaining-tokens: 6000
	// x-ratelimit-reset-requests: 1s
	// x-ratelimit-reset-tokens: 24s
	// stream slot: true
	// second stream slot: false
	// tokens remaining: 8800
}

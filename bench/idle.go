package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-gw/tollgate/bench/idlestreams"
	"github.com/tollgate-gw/tollgate/billing"
)

// spareFDs are descriptors left to the gateway beside two per idle stream: its
// database connections, listener and log.
const spareFDs = 64

// idleResult is the idle-streams scenario: streams open through the gateway to a
// fake that sent one content chunk and then went silent.
type idleResult struct {
	want, held          int     // streams asked for; streams open with their first chunk
	fdLimit, fdOpen     int     // the gateway's open-files limit, and descriptors open before
	rssBefore, rssHeld  int64   // the gateway's resident memory before and with the streams held
	rssAfter            int64   // ... and after the clients left and the calls settled
	goBefore, goHeld    goStats // the gateway's Go runtime figures, before and with the streams held
	settled             time.Duration
	openErr, settledErr error
}

// targetStreams is the number of idle streams issue 6's memory target is set for.
const targetStreams = 10000

// atTarget is the resident memory with targetStreams held, extrapolated linearly when
// fewer were held (a shorter run, or the gateway's open-files limit).
func (r *idleResult) atTarget() int64 {
	if r.held == 0 {
		return r.rssHeld
	}
	return r.rssBefore + (r.rssHeld-r.rssBefore)*targetStreams/int64(r.held)
}

// runIdle opens n idle streams through the gateway (as many as its open-files limit
// allows), reads its memory, hangs up every client, and waits until the gateway has
// settled every call (nothing held). A client that leaves mid-stream after content
// arrived is billed for what was generated (DESIGN.md §4.4), so each stream held is
// one more 2xx answer for the billing check.
func runIdle(gw *gateway, n int, profileDir string) (*idleResult, error) {
	r := &idleResult{want: n}
	capacity, limit, open, err := idlestreams.Capacity(gw.pid(), spareFDs)
	if err != nil {
		return nil, err
	}
	r.fdLimit, r.fdOpen = limit, open
	if r.rssBefore, err = idlestreams.RSS(gw.pid()); err != nil {
		return nil, err
	}
	if r.goBefore, err = gw.goStats(); err != nil {
		return nil, err
	}
	streams, err := idlestreams.Open(gw.addr, "/v1/chat/completions", gw.key, chatBody(idleModel, true), min(n, capacity), 2*time.Minute)
	r.held, r.openErr = streams.Len(), err
	if r.rssHeld, err = idlestreams.RSS(gw.pid()); err != nil {
		return nil, err
	}
	if r.goHeld, err = gw.goStats(); err != nil {
		return nil, err
	}
	if profileDir != "" {
		for _, name := range []string{"heap", "goroutine"} {
			if err := gw.saveProfile(profileDir, name+"-idle", 0); err != nil {
				return nil, err
			}
		}
	}
	streams.Close()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		held, err := gw.held(ctx)
		if err == nil {
			var amount billing.Nanos
			if amount, err = billing.ParseUSD(held); err == nil && amount == 0 {
				break
			}
			err = fmt.Errorf("%s USD still held", held)
		}
		if ctx.Err() != nil {
			r.settledErr = fmt.Errorf("calls not settled a minute after the clients left: %v", err)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.settled = time.Since(t0)
	if r.rssAfter, err = idlestreams.RSS(gw.pid()); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *idleResult) print() {
	fmt.Printf("idle streams: %s of %s held open through the gateway, each after its first content chunk", count(int64(r.held)), count(int64(r.want)))
	if r.held < r.want && r.openErr == nil {
		fmt.Printf(" (the gateway's open-files limit of %s, with %d open and %d kept spare, leaves room for %s: two per stream)",
			count(int64(r.fdLimit)), r.fdOpen, spareFDs, count(int64(r.held)))
	}
	fmt.Println()
	if r.openErr != nil {
		fmt.Printf("  FAILED to open them: %v\n", r.openErr)
	}
	perStream := float64(r.rssHeld-r.rssBefore) / float64(max(1, r.held)) / 1024
	fmt.Printf("  gateway RSS: %s before, %s with them held (%.1f KB per stream", mb(r.rssBefore), mb(r.rssHeld), perStream)
	if r.held != targetStreams {
		fmt.Printf("; %s extrapolated to %s", mb(r.atTarget()), count(targetStreams))
	}
	fmt.Printf("), %s after\n", mb(r.rssAfter))
	if r.held > 0 {
		per := func(before, held int64) float64 { return float64(held-before) / float64(r.held) }
		fmt.Printf("  per stream held: %.1f goroutines, %.1f KB of goroutine stacks, %.1f KB of heap in use; collector at GOGC %d (Go runtime figures from /metrics)\n",
			per(r.goBefore.goroutines, r.goHeld.goroutines), per(r.goBefore.stacks, r.goHeld.stacks)/1024, per(r.goBefore.heap, r.goHeld.heap)/1024, r.goHeld.gcPercent)
	}
	if r.settledErr != nil {
		fmt.Printf("  FAILED: %v\n", r.settledErr)
	} else {
		fmt.Printf("  clients hung up: every call settled (nothing held) %.1f s later\n", r.settled.Seconds())
	}
}

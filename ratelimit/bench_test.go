package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchLimits never refuse in a benchmark's span, so every call does the full work
// of an admission (refill, check, charge, store).
var benchLimits = Limits{RequestsPerMinute: 1_000_000_000, TokensPerMinute: maxLimit}

func benchAllow(b *testing.B, lim Limiter) {
	ctx := context.Background()
	subjects := make([]string, 1024)
	for i := range subjects {
		subjects[i] = "key:" + strconv.Itoa(i)
	}
	b.Run("OneSubject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := lim.Allow(ctx, "tenant:bench", benchLimits, 500, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParallelManySubjects", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8) // a gateway has many requests in flight per core
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(n.Add(1)) * 7919
			for pb.Next() {
				i++
				if _, err := lim.Allow(ctx, subjects[i%len(subjects)], benchLimits, 500, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkAllowMemory(b *testing.B) { benchAllow(b, NewMemory()) }

func BenchmarkAllowRedis(b *testing.B) {
	c := redisClient(b)
	benchAllow(b, NewRedis(c, testPrefix(b, c)))
}

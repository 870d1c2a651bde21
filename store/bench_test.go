package store

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// BenchmarkReserveSettle is the store's share of one billed call on SQLite: the
// hold, the settlement, and the writes behind it (ledger entry, usage record,
// rollup). The writer runs on its own goroutine, so ns/op shows what a call waits
// for and cpu-µs/op what the process spends, writer included, per call.
func BenchmarkReserveSettle(b *testing.B) {
	s, err := Open(context.Background(), Options{DSN: b.TempDir() + "/bench.db", SecretKey: testKey()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ten, _ := s.CreateTenant(ctx, "bench")
	if _, _, err := s.Topup(ctx, ten.ID, MaxTopup, "", ""); err != nil {
		b.Fatal(err)
	}
	key, _, err := s.CreateKey(ctx, NewKey{TenantID: ten.ID, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 callers on 2 cores, as under load
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, KeyID: key.ID, Amount: 1000, RequestID: "r"})
			if err != nil {
				b.Error(err)
				return
			}
			rec := CallRecord{RequestID: "req_0123456789abcdef01234567", KeyID: key.ID, Endpoint: "chat", Model: "gpt-4o-mini",
				UpstreamModel: "gpt-4o-mini", ChannelID: "chn_0123456789abcdef0123", Provider: "openai", Status: 200,
				Usage: billing.Usage{PromptTokens: 20, CompletionTokens: 16}, Cost: 500, LatencyMs: 1,
				Attempts: []Attempt{{ChannelID: "chn_0123456789abcdef0123", Provider: "openai", Status: 200}}}
			if _, err := s.Settle(ctx, h, rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the user and system time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

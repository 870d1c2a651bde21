package store

import (
	"context"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
)

// BenchmarkReserveSettle is the store's share of one billed call on SQLite: the
// hold transaction and the settlement transaction (ledger entry and usage record).
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
	b.ReportAllocs()
	b.SetParallelism(16) // 32 callers on 2 cores, as under load
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1000, RequestID: "r"})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Settle(ctx, h, CallRecord{RequestID: "r", Model: "m", Status: 200, Cost: 500}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

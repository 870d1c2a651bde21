package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

func mustTenant(t *testing.T, s *Store, name string, credit billing.Nanos) Tenant {
	t.Helper()
	ctx := context.Background()
	ten, err := s.CreateTenant(ctx, name)
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	if credit > 0 {
		if _, _, err := s.Topup(ctx, ten.ID, credit, "seed", "seed"); err != nil {
			t.Fatalf("topup: %v", err)
		}
	}
	return ten
}

// checkInvariants asserts DESIGN.md §4.1–2 for a tenant.
func checkInvariants(t *testing.T, s *Store, tenantID string) Tenant {
	t.Helper()
	ctx := context.Background()
	ten, err := s.Tenant(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.LedgerSum(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if sum != ten.Balance {
		t.Fatalf("balance %s != Σ ledger %s", ten.Balance, sum)
	}
	if ten.Available() < -ten.CreditLimit || ten.Balance < -ten.CreditLimit {
		t.Fatalf("overdrawn: balance %s held %s limit %s", ten.Balance, ten.Held, ten.CreditLimit)
	}
	return ten
}

func TestReserveSettleRelease(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "acme", 1000)

		t.Run("ErrInsufficientCredit", func(t *testing.T) {
			_, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1001})
			var ice *billing.InsufficientCreditError
			if !errors.As(err, &ice) || ice.Need != 1001 || ice.Available != 1000 || ice.KeyBudget {
				t.Fatalf("want insufficient credit need 1001 available 1000, got %v", err)
			}
		})
		t.Run("SettleDebitsCostAndReleasesRest", func(t *testing.T) {
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 600, RequestID: "r1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := checkInvariants(t, s, ten.ID); got.Held != 600 || got.Available() != 400 {
				t.Fatalf("held %s available %s", got.Held, got.Available())
			}
			charged, err := s.Settle(ctx, h, CallRecord{RequestID: "r1", Model: "m", Status: 200, Cost: 250})
			if err != nil || charged != 250 {
				t.Fatalf("settle: %v charged %s", err, charged)
			}
			if got := checkInvariants(t, s, ten.ID); got.Balance != 750 || got.Held != 0 {
				t.Fatalf("balance %s held %s", got.Balance, got.Held)
			}
			if _, err := s.Settle(ctx, h, CallRecord{Cost: 250}); !errors.Is(err, billing.ErrHoldNotFound) {
				t.Fatalf("second settle: want ErrHoldNotFound, got %v", err)
			}
			if err := s.Release(ctx, h, nil); !errors.Is(err, billing.ErrHoldNotFound) {
				t.Fatalf("release after settle: want ErrHoldNotFound, got %v", err)
			}
			checkInvariants(t, s, ten.ID)
		})
		t.Run("CostAboveHoldIsCapped", func(t *testing.T) {
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 100})
			if err != nil {
				t.Fatal(err)
			}
			charged, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: 5000})
			if err != nil || charged != 100 {
				t.Fatalf("charged %s err %v, want 100", charged, err)
			}
			checkInvariants(t, s, ten.ID)
		})
		t.Run("ReleaseCostsNothing", func(t *testing.T) {
			before := checkInvariants(t, s, ten.ID)
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 300})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Release(ctx, h, &CallRecord{Status: 502, Model: "m"}); err != nil {
				t.Fatal(err)
			}
			after := checkInvariants(t, s, ten.ID)
			if after.Balance != before.Balance || after.Held != 0 {
				t.Fatalf("release changed balance %s→%s held %s", before.Balance, after.Balance, after.Held)
			}
		})
		t.Run("CreditLimitAllowsNegative", func(t *testing.T) {
			if _, err := s.SetCreditLimit(ctx, ten.ID, 500); err != nil {
				t.Fatal(err)
			}
			avail := checkInvariants(t, s, ten.ID).Available()
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: avail})
			if err != nil {
				t.Fatalf("reserve up to credit limit: %v", err)
			}
			if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: avail}); err != nil {
				t.Fatal(err)
			}
			got := checkInvariants(t, s, ten.ID)
			if got.Balance != -500 {
				t.Fatalf("balance %s, want -500", got.Balance)
			}
			if _, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1}); !errors.Is(err, billing.ErrInsufficientCredit) {
				t.Fatalf("reserve past credit limit: %v", err)
			}
		})
	})
}

func TestKeyBudget(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "acme", 10_000)
		budget := billing.Nanos(100)
		k, _, err := s.CreateKey(ctx, NewKey{TenantID: ten.ID, Name: "ci", Budget: &budget})
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, KeyID: k.ID, Amount: 80})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, KeyID: k.ID, Amount: 30})
		var ice *billing.InsufficientCreditError
		if !errors.As(err, &ice) || !ice.KeyBudget || ice.Available != 20 {
			t.Fatalf("want key budget refusal with 20 available, got %v", err)
		}
		if got := checkInvariants(t, s, ten.ID); got.Held != 80 {
			t.Fatalf("a refused key hold must not stay on the wallet: held %s", got.Held)
		}
		if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: 50}); err != nil {
			t.Fatal(err)
		}
		k, _ = s.Key(ctx, k.ID)
		if k.Spent != 50 || k.Held != 0 {
			t.Fatalf("key spent %s held %s", k.Spent, k.Held)
		}
	})
}

// TestConcurrentReserveNeverOverdraws: 200 callers race for a wallet that covers 50.
func TestConcurrentReserveNeverOverdraws(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const cost = 1_000
		ten := mustTenant(t, s, "race", 50*cost)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: cost})
				if errors.Is(err, billing.ErrInsufficientCredit) {
					refused.Add(1)
					return
				}
				if err != nil {
					t.Errorf("reserve: %v", err)
					return
				}
				if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: cost}); err != nil {
					t.Errorf("settle: %v", err)
					return
				}
				ok.Add(1)
			}()
		}
		wg.Wait()
		if ok.Load() != 50 || refused.Load() != 150 {
			t.Fatalf("served %d refused %d, want 50/150", ok.Load(), refused.Load())
		}
		if got := checkInvariants(t, s, ten.ID); got.Balance != 0 || got.Held != 0 {
			t.Fatalf("balance %s held %s", got.Balance, got.Held)
		}
	})
}

func TestConcurrentSettleOfOneHoldBillsOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "once", 1000)
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 500})
		if err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: 400}); err == nil {
					wins.Add(1)
				} else if !errors.Is(err, billing.ErrHoldNotFound) {
					t.Errorf("settle: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d settlements succeeded, want 1", wins.Load())
		}
		if got := checkInvariants(t, s, ten.ID); got.Balance != 600 {
			t.Fatalf("balance %s, want 600", got.Balance)
		}
	})
}

func TestSweepExpiredHolds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "sweep", 1000)
		old, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 300, TTL: time.Millisecond, RequestID: "dead"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 200, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		n, err := s.SweepExpiredHolds(ctx, time.Now().Add(time.Second))
		if err != nil || n != 1 {
			t.Fatalf("swept %d, err %v; want 1", n, err)
		}
		if got := checkInvariants(t, s, ten.ID); got.Held != 200 || got.Balance != 1000 {
			t.Fatalf("held %s balance %s", got.Held, got.Balance)
		}
		if _, err := s.Settle(ctx, old, CallRecord{Cost: 10}); !errors.Is(err, billing.ErrHoldNotFound) {
			t.Fatalf("settling a swept hold: %v", err)
		}
		calls, err := s.Calls(ctx, CallFilter{TenantID: ten.ID})
		if err != nil || len(calls) != 1 || calls[0].ErrorCode != "hold_expired" || calls[0].RequestID != "dead" {
			t.Fatalf("sweep must log the released call: %+v %v", calls, err)
		}
	})
}

func TestTopupIdempotent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "topup", 0)
		var wg sync.WaitGroup
		var fresh atomic.Int64
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, replayed, err := s.Topup(ctx, ten.ID, 5*billing.NanosPerUSD, "invoice 7", "inv-7")
				if err != nil {
					t.Errorf("topup: %v", err)
					return
				}
				if e.BalanceAfter != 5*billing.NanosPerUSD {
					t.Errorf("answer balance %s, want the first answer 5", e.BalanceAfter)
				}
				if !replayed {
					fresh.Add(1)
				}
			}()
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("%d top-ups credited, want 1", fresh.Load())
		}
		if got := checkInvariants(t, s, ten.ID); got.Balance != 5*billing.NanosPerUSD {
			t.Fatalf("balance %s", got.Balance)
		}
		t.Run("ErrInvalid", func(t *testing.T) {
			for _, amount := range []billing.Nanos{0, -1, MaxTopup + 1} {
				if _, _, err := s.Topup(ctx, ten.ID, amount, "", ""); !errors.Is(err, ErrInvalid) {
					t.Errorf("amount %s: want ErrInvalid, got %v", amount, err)
				}
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, _, err := s.Topup(ctx, "ten_missing", 1, "", ""); !errors.Is(err, ErrNotFound) {
				t.Fatalf("want ErrNotFound, got %v", err)
			}
		})
	})
}

func TestLedgerPagesNewestFirst(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "pages", 0)
		for i := 1; i <= 5; i++ {
			if _, _, err := s.Topup(ctx, ten.ID, billing.Nanos(i), "", ""); err != nil {
				t.Fatal(err)
			}
		}
		first, err := s.LedgerPage(ctx, ten.ID, 0, 3)
		if err != nil || len(first) != 3 || first[0].Amount != 5 || first[2].Amount != 3 {
			t.Fatalf("first page %+v %v", first, err)
		}
		second, err := s.LedgerPage(ctx, ten.ID, first[2].ID, 3)
		if err != nil || len(second) != 2 || second[0].Amount != 2 || second[1].BalanceAfter != 1 {
			t.Fatalf("second page %+v %v", second, err)
		}
	})
}

func TestOutboxSettlesLateOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "late", 1000)
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 400, TTL: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		o, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Add(PendingSettlement{Hold: h, Record: CallRecord{RequestID: "r", Model: "m", Status: 200, Cost: 300}}); err != nil {
			t.Fatal(err)
		}
		// The store was away long enough for the hold to expire and be swept.
		if n, err := s.SweepExpiredHolds(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("swept %d %v", n, err)
		}
		reopened, err := OpenOutbox(o.path) // the outbox survives a restart
		if err != nil || reopened.Len() != 1 {
			t.Fatalf("reopened outbox has %d: %v", reopened.Len(), err)
		}
		if n, err := s.DrainOutbox(ctx, reopened); err != nil || n != 1 {
			t.Fatalf("drained %d %v", n, err)
		}
		if err := s.SettleLate(ctx, h, CallRecord{Cost: 300}); err != nil {
			t.Fatal(err)
		}
		if got := checkInvariants(t, s, ten.ID); got.Balance != 700 || got.Held != 0 {
			t.Fatalf("balance %s held %s: want one late debit of 300", got.Balance, got.Held)
		}
	})
}

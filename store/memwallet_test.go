package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// TestWriteBehindSurvivesClose: settlements written behind the answers are all in
// the database once the store is closed (a graceful stop loses nothing), and the
// ledger adds up to the balance.
func TestWriteBehindSurvivesClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	s, err := Open(ctx, Options{DSN: path, SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	ten := mustTenant(t, s, "wb", 1_000_000)
	const calls = 500
	for i := 0; i < calls; i++ {
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: 700}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Options{DSN: path, SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Tenant(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := s.LedgerSum(ctx, ten.ID)
	if want := billing.Nanos(1_000_000 - calls*700); got.Balance != want || sum != want || got.Held != 0 {
		t.Fatalf("balance %s, ledger %s, held %s; want %s, 0 held", got.Balance, sum, got.Held, want)
	}
	var records int64
	if err := s.r.Raw(`SELECT COUNT(*) FROM usage_records WHERE tenant_id = ?`, ten.ID).Scan(&records).Error; err != nil || records != calls {
		t.Fatalf("%d usage records (%v), want %d", records, err, calls)
	}
}

// TestMemoryWalletSeesOtherWriters: the cached wallet follows changes made behind it —
// in this process at once, by another process (the CLI) within walletTTL.
func TestMemoryWalletSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	s, err := Open(ctx, Options{DSN: path, SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ten := mustTenant(t, s, "cache", 1000)
	reserve := func(amount billing.Nanos) error {
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: amount})
		if err == nil {
			err = s.Release(ctx, h, nil)
		}
		return err
	}
	if err := reserve(1000); err != nil {
		t.Fatalf("the wallet covers 1000: %v", err)
	}
	// In this process: a top-up counts at once.
	if _, _, err := s.Topup(ctx, ten.ID, 500, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := reserve(1500); err != nil {
		t.Fatalf("after a top-up to 1500: %v", err)
	}
	// Another process lowers the balance behind the cache (a correction by hand).
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`UPDATE tenants SET balance = 100 WHERE id = ?`, ten.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(walletTTL + time.Second)
	for reserve(1500) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the cached wallet still covers 1500 %s after the balance fell to 100", walletTTL+time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := reserve(101); !errors.Is(err, billing.ErrInsufficientCredit) {
		t.Fatalf("hold of 101 on a balance of 100: %v", err)
	}
	if err := reserve(100); err != nil {
		t.Fatalf("hold of 100 on a balance of 100: %v", err)
	}
}

// TestWriterDropsAWriteTheDatabaseRefuses: one settlement the database refuses (its
// ledger ref is taken) must not hold up the writes queued with it, nor stop the store.
func TestWriterDropsAWriteTheDatabaseRefuses(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	ten := mustTenant(t, s, "poison", 1_000_000)
	settle := func() billing.Hold {
		h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: 100}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := settle()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A second settlement under the first one's ledger ref, queued between two good ones.
	settle()
	s.writer.enqueue(writeOp{kind: opSettle, holdID: first.ID, tenantID: ten.ID, charged: 100,
		rec: CallRecord{RequestID: "req_poison", TenantID: ten.ID, Status: 200, Cost: 100}})
	settle()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush after a refused write: %v", err)
	}
	if err := s.writer.healthy(); err != nil {
		t.Fatalf("the store stopped over one refused write: %v", err)
	}
	var debits int64
	if err := s.r.Raw(`SELECT COUNT(*) FROM ledger_entries WHERE tenant_id = ? AND kind = ?`, ten.ID, LedgerUsage).Scan(&debits).Error; err != nil || debits != 3 {
		t.Fatalf("%d usage debits (%v), want the 3 good ones", debits, err)
	}
	got, _ := s.Tenant(ctx, ten.ID)
	sum, _ := s.LedgerSum(ctx, ten.ID)
	if got.Balance != 1_000_000-300 || sum != got.Balance {
		t.Fatalf("balance %s, ledger %s: want 999700 on both", got.Balance, sum)
	}
	settle() // and it keeps taking calls
}

// The writer waits longer between commits only under a load that fills its
// batches quickly; a lighter load keeps short cycles and short commits.
func TestCommitCycleFollowsTheLoad(t *testing.T) {
	for _, c := range []struct {
		n     int
		since time.Duration
		want  time.Duration
	}{
		{10, 5 * time.Millisecond, commitEvery},       // 2,000 calls a second
		{19, 5 * time.Millisecond, commitEvery},       // just under busyRate
		{20, 5 * time.Millisecond, busyCommitEvery},   // 4,000 calls a second
		{120, 20 * time.Millisecond, busyCommitEvery}, // 6,000: stays busy
		{60, 20 * time.Millisecond, commitEvery},      // 3,000: back to short cycles
		{1, time.Minute, commitEvery},                 // the first write after a pause
	} {
		if got := cycleAfter(c.n, c.since); got != c.want {
			t.Errorf("%d writes over %s: next cycle %s, want %s", c.n, c.since, got, c.want)
		}
	}
}

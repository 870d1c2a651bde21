package alert

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

const usd = billing.NanosPerUSD

// receiver is a tenant's webhook endpoint on loopback: it records deliveries and
// answers with the statuses it is told, then 200.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	statuses []int
	hits     atomic.Int64
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "http://169.254.169.254/latest/meta-data")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]http.Header(nil), r.headers...)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "alert.db"), SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fixture is a tenant with credit and an alert at 5 USD, and a sender with a fake
// clock that tests move forward.
type fixture struct {
	st     *store.Store
	sender *Sender
	tenant store.Tenant
	clock  *atomic.Int64 // Unix ms
}

func newFixture(t *testing.T, allowPrivate bool, url string) *fixture {
	t.Helper()
	st := openStore(t)
	ctx := context.Background()
	ten, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Topup(ctx, ten.ID, 10*usd, "", "seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetBalanceAlert(ctx, ten.ID, 5*usd, url); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, tenant: ten, clock: &atomic.Int64{}}
	f.clock.Store(time.Now().UnixMilli())
	f.sender = NewSender(st, allowPrivate, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.sender.Backoff = time.Second
	f.sender.MaxAttempts = 3
	f.sender.Now = func() time.Time { return time.UnixMilli(f.clock.Load()) }
	return f
}

func (f *fixture) spend(t *testing.T, amount billing.Nanos) {
	t.Helper()
	ctx := context.Background()
	h, err := f.st.Reserve(ctx, billing.HoldRequest{TenantID: f.tenant.ID, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Settle(ctx, h, store.CallRecord{Status: 200, Cost: amount}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) tick(t *testing.T, advance time.Duration) {
	t.Helper()
	f.clock.Add(advance.Milliseconds())
	if err := f.sender.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryIsSignedAndOncePerCrossing(t *testing.T) {
	rcv := newReceiver(t)
	f := newFixture(t, true, rcv.URL+"/hook")
	alert, _ := f.st.BalanceAlert(context.Background(), f.tenant.ID)
	t.Run("NoCrossingNoDelivery", func(t *testing.T) {
		f.spend(t, 4*usd)
		f.tick(t, 0)
		if rcv.hits.Load() != 0 {
			t.Fatal("delivered without a crossing")
		}
	})
	t.Run("CrossingDeliversOneSignedAlert", func(t *testing.T) {
		f.spend(t, 2*usd)
		f.tick(t, 0)
		f.tick(t, time.Minute)
		bodies, headers := rcv.deliveries()
		if len(bodies) != 1 {
			t.Fatalf("%d deliveries", len(bodies))
		}
		var p store.AlertPayload
		if err := json.Unmarshal(bodies[0], &p); err != nil || p.Type != "balance.low" || p.TenantID != f.tenant.ID || p.BalanceUSD != "4.000000000" || p.ThresholdUSD != "5.000000000" {
			t.Fatalf("payload %s: %v", bodies[0], err)
		}
		if headers[0].Get(EventIDHeader) != p.ID || headers[0].Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", headers[0])
		}
		sig := headers[0].Get(SignatureHeader)
		if err := Verify(alert.Secret, sig, bodies[0], f.sender.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature %q does not verify: %v", sig, err)
		}
		if err := Verify("tgwh_wrong", sig, bodies[0], f.sender.Now(), 5*time.Minute); err == nil {
			t.Fatal("a wrong secret verifies")
		}
		if err := Verify(alert.Secret, sig, append(bodies[0], ' '), f.sender.Now(), 5*time.Minute); err == nil {
			t.Fatal("a changed body verifies")
		}
		if err := Verify(alert.Secret, sig, bodies[0], f.sender.Now().Add(time.Hour), 5*time.Minute); err == nil {
			t.Fatal("an old signature verifies")
		}
	})
	t.Run("FurtherDebitsBelowDoNotRepeat", func(t *testing.T) {
		f.spend(t, usd)
		f.tick(t, time.Minute)
		if rcv.hits.Load() != 1 {
			t.Fatalf("%d deliveries", rcv.hits.Load())
		}
	})
	t.Run("TopUpReArmsAndNextCrossingDelivers", func(t *testing.T) {
		if _, _, err := f.st.Topup(context.Background(), f.tenant.ID, 10*usd, "", "again"); err != nil {
			t.Fatal(err)
		}
		f.tick(t, time.Minute)
		f.spend(t, 10*usd)
		f.tick(t, time.Minute)
		if rcv.hits.Load() != 2 {
			t.Fatalf("%d deliveries", rcv.hits.Load())
		}
	})
}

func TestDeliveryRetriesWithBackoff(t *testing.T) {
	t.Run("FailuresRetriedThenDelivered", func(t *testing.T) {
		rcv := newReceiver(t, 500, 503)
		f := newFixture(t, true, rcv.URL)
		f.spend(t, 6*usd)
		f.tick(t, 0) // attempt 1: 500
		f.tick(t, 500*time.Millisecond)
		if rcv.hits.Load() != 1 {
			t.Fatalf("retried before the backoff: %d", rcv.hits.Load())
		}
		f.tick(t, time.Second) // attempt 2 (after 1 s): 503
		f.tick(t, time.Second)
		if rcv.hits.Load() != 2 {
			t.Fatalf("retried before the doubled backoff: %d", rcv.hits.Load())
		}
		f.tick(t, 2*time.Second) // attempt 3 (after 2 s): 200
		list, _ := f.st.AlertDeliveries(context.Background(), f.tenant.ID, 10)
		if rcv.hits.Load() != 3 || len(list) != 1 || list[0].DeliveredAt == 0 || list[0].Attempts != 3 {
			t.Fatalf("hits %d deliveries %+v", rcv.hits.Load(), list)
		}
		f.tick(t, time.Hour)
		if rcv.hits.Load() != 3 {
			t.Fatal("a delivered alert was sent again")
		}
	})
	t.Run("GivesUpAfterMaxAttempts", func(t *testing.T) {
		rcv := newReceiver(t, 500, 500, 500, 500, 500)
		f := newFixture(t, true, rcv.URL)
		f.spend(t, 6*usd)
		for i := 0; i < 10; i++ {
			f.tick(t, time.Hour)
		}
		list, _ := f.st.AlertDeliveries(context.Background(), f.tenant.ID, 10)
		if rcv.hits.Load() != 3 || list[0].FailedAt == 0 || !strings.Contains(list[0].LastError, "500") {
			t.Fatalf("hits %d delivery %+v", rcv.hits.Load(), list[0])
		}
	})
	t.Run("RedirectNotFollowed", func(t *testing.T) {
		rcv := newReceiver(t, http.StatusFound)
		f := newFixture(t, true, rcv.URL)
		f.spend(t, 6*usd)
		f.tick(t, 0)
		list, _ := f.st.AlertDeliveries(context.Background(), f.tenant.ID, 10)
		if rcv.hits.Load() != 1 || list[0].DeliveredAt != 0 || !strings.Contains(list[0].LastError, "redirects are not followed") {
			t.Fatalf("hits %d delivery %+v", rcv.hits.Load(), list[0])
		}
	})
	t.Run("RemovedAlertIsDropped", func(t *testing.T) {
		rcv := newReceiver(t)
		f := newFixture(t, true, rcv.URL)
		f.spend(t, 6*usd)
		if _, err := f.st.CheckBalanceAlerts(context.Background(), f.sender.Now()); err != nil {
			t.Fatal(err)
		}
		if err := f.st.DeleteBalanceAlert(context.Background(), f.tenant.ID); err != nil {
			t.Fatal(err)
		}
		f.tick(t, 0)
		list, _ := f.st.AlertDeliveries(context.Background(), f.tenant.ID, 10)
		if rcv.hits.Load() != 0 || list[0].FailedAt == 0 {
			t.Fatalf("hits %d delivery %+v", rcv.hits.Load(), list[0])
		}
	})
}

// TestPrivateAddressesRefusedAtDelivery stores URLs that slipped past (or were
// stored before) the settings check, and expects the sender itself to refuse them:
// literally private hosts, and a name that resolves to loopback.
func TestPrivateAddressesRefusedAtDelivery(t *testing.T) {
	rcv := newReceiver(t)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":"):]
	for name, target := range map[string]string{
		"LoopbackLiteral":         rcv.URL,
		"NameResolvingToLoopback": "http://localhost" + port + "/hook",
		"MetadataAddress":         "http://169.254.169.254/latest/meta-data",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, false, target)
			f.spend(t, 6*usd)
			f.tick(t, 0)
			list, _ := f.st.AlertDeliveries(context.Background(), f.tenant.ID, 10)
			if len(list) != 1 || list[0].DeliveredAt != 0 || list[0].LastError == "" {
				t.Fatalf("delivery %+v", list)
			}
		})
	}
	if rcv.hits.Load() != 0 {
		t.Fatalf("the receiver on loopback was reached %d times", rcv.hits.Load())
	}
	t.Run("DialerChecksAfterDNS", func(t *testing.T) {
		// A name, not an address: the client's dialer refuses the loopback address
		// it resolves to (as it would for any name an attacker points at one).
		c := NewClient(false)
		_, err := c.Get("http://localhost" + port + "/")
		if !errors.Is(err, router.ErrPrivateUpstream) {
			t.Fatalf("err = %v", err)
		}
		if rcv.hits.Load() != 0 {
			t.Fatal("reached")
		}
	})
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hooks.example/x": true, "http://hooks.example/x": false, "https://127.0.0.1/": false, "https://localhost/": false,
		"https://localhost./": false, "https://a.localhost/": false, "https://10.0.0.1/": false, "https://[::1]/": false,
		"https://169.254.169.254/": false, "https://100.100.100.200/": false, "ftp://hooks.example/": false, "https://u:p@hooks.example/": false,
		"": false,
	} {
		if err := CheckURL(raw, false); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", raw, err)
		}
	}
	if err := CheckURL("http://127.0.0.1:8080/x", true); err != nil {
		t.Errorf("allowed private: %v", err)
	}
}

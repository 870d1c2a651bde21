package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

const usd = billing.NanosPerUSD

func TestInvitesAndTenantUsers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := mustTenant(t, s, "acme", 0)
		globex := mustTenant(t, s, "globex", 0)
		inv, token, err := s.CreateInvite(ctx, acme.ID, " Dev@Acme.example ", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("InviteIsFoundByTokenOnly", func(t *testing.T) {
			got, err := s.InviteByToken(ctx, token, time.Now())
			if err != nil || got.ID != inv.ID || got.Email != "dev@acme.example" || got.TenantID != acme.ID {
				t.Fatalf("%+v %v", got, err)
			}
			if _, err := s.InviteByToken(ctx, token+"x", time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a wrong token found an invite: %v", err)
			}
			if _, err := s.InviteByToken(ctx, token, time.Now().Add(25*time.Hour)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("an expired invite was found: %v", err)
			}
		})
		t.Run("ShortPasswordRefusedAndInviteKept", func(t *testing.T) {
			if _, err := s.AcceptInvite(ctx, token, "short"); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.InviteByToken(ctx, token, time.Now()); err != nil {
				t.Fatalf("a refused password used up the invite: %v", err)
			}
		})
		var user TenantUser
		t.Run("AcceptedOnceCreatesUser", func(t *testing.T) {
			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := 0; i < 5; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if u, err := s.AcceptInvite(ctx, token, "tenant password 1"); err == nil {
						ok.Add(1)
						user = u
					} else if !errors.Is(err, ErrNotFound) {
						t.Errorf("accept: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("%d acceptances of one invite succeeded", ok.Load())
			}
			if user.TenantID != acme.ID || user.Email != "dev@acme.example" {
				t.Fatalf("user %+v", user)
			}
		})
		t.Run("SignInChecksPassword", func(t *testing.T) {
			if _, err := s.AuthenticateTenantUser(ctx, "dev@acme.example", "wrong password!"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.AuthenticateTenantUser(ctx, "nobody@acme.example", "tenant password 1"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v", err)
			}
			u, err := s.AuthenticateTenantUser(ctx, "DEV@acme.example", "tenant password 1")
			if err != nil || u.ID != user.ID || u.LastLoginAt == 0 {
				t.Fatalf("%+v %v", u, err)
			}
		})
		t.Run("EmailBelongsToOneTenant", func(t *testing.T) {
			if _, _, err := s.CreateInvite(ctx, globex.ID, "dev@acme.example", time.Hour); !errors.Is(err, ErrConflict) {
				t.Fatalf("err = %v", err)
			}
			if _, _, err := s.CreateInvite(ctx, "ten_missing", "x@example.com", time.Hour); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if _, _, err := s.CreateInvite(ctx, acme.ID, "not an email", time.Hour); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("SessionsCarryTheTenant", func(t *testing.T) {
			id, err := s.CreateTenantSession(ctx, user.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := s.TenantSession(ctx, id, time.Now())
			if err != nil || sess.TenantID != acme.ID || sess.TenantName != "acme" || sess.Email != user.Email {
				t.Fatalf("%+v %v", sess, err)
			}
			if _, err := s.TenantSession(ctx, id, time.Now().Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("an ended session was found: %v", err)
			}
			if err := s.DeleteTenantSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TenantSession(ctx, id, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a signed-out session was found: %v", err)
			}
		})
		t.Run("SecondInviteResetsPasswordAndEndsSessions", func(t *testing.T) {
			sid, _ := s.CreateTenantSession(ctx, user.ID, time.Hour)
			_, token2, err := s.CreateInvite(ctx, acme.ID, "dev@acme.example", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AcceptInvite(ctx, token2, "tenant password 2"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TenantSession(ctx, sid, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatal("a session survived the password reset")
			}
			if _, err := s.AuthenticateTenantUser(ctx, "dev@acme.example", "tenant password 1"); !errors.Is(err, ErrBadCredentials) {
				t.Fatal("the old password still works")
			}
			us, err := s.TenantUsers(ctx, acme.ID)
			if err != nil || len(us) != 1 {
				t.Fatalf("%+v %v", us, err)
			}
		})
		t.Run("RevokedInviteCannotBeAccepted", func(t *testing.T) {
			inv3, token3, err := s.CreateInvite(ctx, acme.ID, "ops@acme.example", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeInvite(ctx, globex.ID, inv3.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("another tenant revoked the invite: %v", err)
			}
			if err := s.RevokeInvite(ctx, acme.ID, inv3.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AcceptInvite(ctx, token3, "tenant password 3"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("DeletedUserCannotSignIn", func(t *testing.T) {
			if err := s.DeleteTenantUser(ctx, globex.ID, user.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("another tenant deleted the user: %v", err)
			}
			if err := s.DeleteTenantUser(ctx, acme.ID, user.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AuthenticateTenantUser(ctx, "dev@acme.example", "tenant password 2"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

func TestRedeemCodes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := mustTenant(t, s, "acme", 0)
		globex := mustTenant(t, s, "globex", 0)
		batch, codes, err := s.CreateRedeemBatch(ctx, 5*usd, 3, time.Time{}, "launch promo")
		if err != nil || len(codes) != 3 || batch.Count != 3 {
			t.Fatalf("%+v %d %v", batch, len(codes), err)
		}
		t.Run("CodesAreDistinctAndExportable", func(t *testing.T) {
			exported, err := s.RedeemCodes(ctx, batch.ID)
			if err != nil || len(exported) != 3 {
				t.Fatalf("%d %v", len(exported), err)
			}
			seen := map[string]bool{}
			for _, c := range exported {
				if !strings.HasPrefix(c.Code, "TG-") || len(c.Code) != len("TG-")+5*6-1 || seen[c.Code] {
					t.Fatalf("code %q", c.Code)
				}
				seen[c.Code] = true
			}
			for _, c := range codes {
				if !seen[c.Code] {
					t.Fatalf("exported codes differ from the created ones")
				}
			}
		})
		t.Run("RedeemedOnceLooselyTyped", func(t *testing.T) {
			loose := strings.ToLower(strings.ReplaceAll(codes[0].Code, "-", " "))
			e, err := s.Redeem(ctx, acme.ID, loose)
			if err != nil || e.Amount != 5*usd || e.Kind != LedgerRedeem || e.Ref != codes[0].ID {
				t.Fatalf("%+v %v", e, err)
			}
			if _, err := s.Redeem(ctx, acme.ID, codes[0].Code); !errors.Is(err, ErrCodeUsed) {
				t.Fatalf("second redemption: %v", err)
			}
			if _, err := s.Redeem(ctx, globex.ID, codes[0].Code); !errors.Is(err, ErrCodeUsed) {
				t.Fatalf("redemption by another tenant: %v", err)
			}
			if got := checkInvariants(t, s, acme.ID); got.Balance != 5*usd {
				t.Fatalf("balance %s", got.Balance)
			}
			if got := checkInvariants(t, s, globex.ID); got.Balance != 0 {
				t.Fatalf("globex balance %s", got.Balance)
			}
			b, _ := s.RedeemBatch(ctx, batch.ID)
			if b.Redeemed != 1 {
				t.Fatalf("batch says %d redeemed", b.Redeemed)
			}
		})
		t.Run("UnknownCodeIsNotFound", func(t *testing.T) {
			if _, err := s.Redeem(ctx, acme.ID, "TG-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("ConcurrentRedemptionsCreditOnce", func(t *testing.T) {
			var ok, used atomic.Int64
			var wg sync.WaitGroup
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					who := acme.ID
					if i%2 == 1 {
						who = globex.ID
					}
					_, err := s.Redeem(ctx, who, codes[1].Code)
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrCodeUsed):
						used.Add(1)
					default:
						t.Errorf("redeem: %v", err)
					}
				}(i)
			}
			wg.Wait()
			if ok.Load() != 1 || used.Load() != 19 {
				t.Fatalf("%d credited, %d refused as used", ok.Load(), used.Load())
			}
			a, g := checkInvariants(t, s, acme.ID), checkInvariants(t, s, globex.ID)
			if a.Balance+g.Balance != 10*usd {
				t.Fatalf("balances %s + %s, want 10 USD in total", a.Balance, g.Balance)
			}
		})
		t.Run("ExpiredCodeRefused", func(t *testing.T) {
			if _, _, err := s.CreateRedeemBatch(ctx, usd, 1, time.Now().Add(-time.Hour), ""); !errors.Is(err, ErrInvalid) {
				t.Fatalf("a batch expiring in the past: %v", err)
			}
			b, cs, err := s.CreateRedeemBatch(ctx, usd, 1, time.Now().Add(time.Hour), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.tx(ctx, func(tx *gorm.DB) error {
				return tx.Exec(`UPDATE redeem_codes SET expires_at = ? WHERE batch_id = ?`, time.Now().Add(-time.Second).UnixMilli(), b.ID).Error
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Redeem(ctx, acme.ID, cs[0].Code); !errors.Is(err, ErrCodeExpired) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("BadBatchesRefused", func(t *testing.T) {
			for _, c := range []struct {
				amount billing.Nanos
				count  int
			}{{0, 1}, {-usd, 1}, {usd, 0}, {usd, MaxRedeemBatch + 1}, {MaxTopup + 1, 1}} {
				if _, _, err := s.CreateRedeemBatch(ctx, c.amount, c.count, time.Time{}, ""); !errors.Is(err, ErrInvalid) {
					t.Errorf("amount %s count %d: %v", c.amount, c.count, err)
				}
			}
		})
	})
}

func TestCompleteCheckout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := mustTenant(t, s, "acme", 0)
		globex := mustTenant(t, s, "globex", 0)
		cs := CheckoutSession{ID: "cs_test_1", TenantID: acme.ID, AmountMinor: 2500, Currency: "usd", Credit: 25 * usd}
		if err := s.RecordCheckoutSession(ctx, cs); err != nil {
			t.Fatal(err)
		}
		paid := PaidCheckout{EventID: "evt_1", EventType: "checkout.session.completed", SessionID: cs.ID, TenantID: acme.ID, AmountMinor: 2500, Currency: "usd"}
		for _, c := range []struct {
			name    string
			change  func(p *PaidCheckout)
			outcome string
		}{
			{"UnknownSessionRefused", func(p *PaidCheckout) { p.EventID, p.SessionID = "evt_u", "cs_other" }, CheckoutUnknownSession},
			{"OtherTenantRefused", func(p *PaidCheckout) { p.EventID, p.TenantID = "evt_t", globex.ID }, CheckoutMismatch},
			{"SmallerAmountRefused", func(p *PaidCheckout) { p.EventID, p.AmountMinor = "evt_a", 100 }, CheckoutMismatch},
			{"OtherCurrencyRefused", func(p *PaidCheckout) { p.EventID, p.Currency = "evt_c", "eur" }, CheckoutMismatch},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := paid
				c.change(&p)
				res, err := s.CompleteCheckout(ctx, p)
				if err != nil || res.Outcome != c.outcome {
					t.Fatalf("%+v %v", res, err)
				}
				if got := checkInvariants(t, s, acme.ID); got.Balance != 0 {
					t.Fatalf("credited %s", got.Balance)
				}
				if got := checkInvariants(t, s, globex.ID); got.Balance != 0 {
					t.Fatalf("globex credited %s", got.Balance)
				}
			})
		}
		t.Run("MatchingEventCreditsOnce", func(t *testing.T) {
			var wg sync.WaitGroup
			var credited atomic.Int64
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					p := paid
					if i%2 == 1 {
						p.EventID = "evt_2" // a second event for the same session
					}
					res, err := s.CompleteCheckout(ctx, p)
					if err != nil {
						t.Errorf("complete: %v", err)
						return
					}
					switch res.Outcome {
					case CheckoutCredited:
						credited.Add(1)
						if res.Entry.Kind != LedgerStripe || res.Entry.Ref != cs.ID || res.Entry.Amount != 25*usd {
							t.Errorf("entry %+v", res.Entry)
						}
					case CheckoutDuplicateEvent, CheckoutAlreadyPaid:
					default:
						t.Errorf("outcome %+v", res)
					}
				}(i)
			}
			wg.Wait()
			if credited.Load() != 1 {
				t.Fatalf("credited %d times", credited.Load())
			}
			if got := checkInvariants(t, s, acme.ID); got.Balance != 25*usd {
				t.Fatalf("balance %s", got.Balance)
			}
			list, err := s.CheckoutSessions(ctx, acme.ID, 10)
			if err != nil || len(list) != 1 || list[0].Status != CheckoutPaid || list[0].EventID == "" {
				t.Fatalf("%+v %v", list, err)
			}
		})
		t.Run("ReplayedEventIsDuplicate", func(t *testing.T) {
			res, err := s.CompleteCheckout(ctx, paid)
			if err != nil || res.Outcome != CheckoutDuplicateEvent {
				t.Fatalf("%+v %v", res, err)
			}
			if got := checkInvariants(t, s, acme.ID); got.Balance != 25*usd {
				t.Fatalf("balance %s", got.Balance)
			}
		})
	})
}

func TestBalanceAlerts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "acme", 10*usd)
		low := mustTenant(t, s, "low", 1*usd)
		spend := func(amount billing.Nanos) {
			t.Helper()
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: amount})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Settle(ctx, h, CallRecord{Status: 200, Cost: amount}); err != nil {
				t.Fatal(err)
			}
		}
		check := func() []AlertDelivery {
			t.Helper()
			ds, err := s.CheckBalanceAlerts(ctx, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		a, err := s.SetBalanceAlert(ctx, ten.ID, 5*usd, "https://hooks.example/low")
		if err != nil || !a.Armed || !strings.HasPrefix(a.Secret, "tgwh_") {
			t.Fatalf("%+v %v", a, err)
		}
		if b, err := s.SetBalanceAlert(ctx, low.ID, 5*usd, "https://hooks.example/low"); err != nil || b.Armed {
			t.Fatalf("an alert set below its threshold is armed: %+v %v", b, err)
		}
		t.Run("AboveThresholdQueuesNothing", func(t *testing.T) {
			spend(4 * usd)
			if ds := check(); len(ds) != 0 {
				t.Fatalf("queued %d", len(ds))
			}
		})
		t.Run("CrossingQueuesOneDelivery", func(t *testing.T) {
			spend(2 * usd) // 6 → 4 USD, below 5
			ds := check()
			if len(ds) != 1 || ds[0].TenantID != ten.ID {
				t.Fatalf("queued %+v", ds)
			}
			if !strings.Contains(ds[0].Payload, `"type":"balance.low"`) || !strings.Contains(ds[0].Payload, `"balance_usd":"4.000000000"`) {
				t.Fatalf("payload %s", ds[0].Payload)
			}
			spend(usd)
			if ds := check(); len(ds) != 0 {
				t.Fatalf("a second debit below the threshold queued %d more", len(ds))
			}
		})
		t.Run("ReArmedAfterTopupAndFiresAgain", func(t *testing.T) {
			if _, _, err := s.Topup(ctx, ten.ID, 10*usd, "", "re-arm"); err != nil {
				t.Fatal(err)
			}
			if ds := check(); len(ds) != 0 {
				t.Fatalf("a top-up queued %d", len(ds))
			}
			if a, _ := s.BalanceAlert(ctx, ten.ID); !a.Armed {
				t.Fatal("not re-armed above the threshold")
			}
			spend(9 * usd) // 13 → 4
			if ds := check(); len(ds) != 1 {
				t.Fatalf("second crossing queued %d", len(ds))
			}
		})
		t.Run("DeliveriesAreClaimedOnce", func(t *testing.T) {
			due, err := s.DueAlertDeliveries(ctx, time.Now(), 10)
			if err != nil || len(due) != 2 || due[0].URL != "https://hooks.example/low" || due[0].Secret != a.Secret {
				t.Fatalf("%+v %v", due, err)
			}
			ok, err := s.ClaimAlertDelivery(ctx, due[0], time.Now(), time.Minute)
			if err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if ok, _ := s.ClaimAlertDelivery(ctx, due[0], time.Now(), time.Minute); ok {
				t.Fatal("a delivery was claimed twice")
			}
			if err := s.FinishAlertDelivery(ctx, due[0].ID, true, false, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.ClaimAlertDelivery(ctx, due[1], time.Now(), time.Minute); !ok {
				t.Fatal("claim of the second failed")
			}
			if err := s.FinishAlertDelivery(ctx, due[1].ID, false, false, "receiver answered 500", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if due, _ := s.DueAlertDeliveries(ctx, time.Now(), 10); len(due) != 0 {
				t.Fatalf("%d still due", len(due))
			}
			if due, _ := s.DueAlertDeliveries(ctx, time.Now().Add(2*time.Hour), 10); len(due) != 1 || due[0].Attempts != 1 || due[0].LastError == "" {
				t.Fatalf("retry not due later: %+v", due)
			}
			list, _ := s.AlertDeliveries(ctx, ten.ID, 10)
			if len(list) != 2 {
				t.Fatalf("%d deliveries listed", len(list))
			}
		})
		t.Run("SecretRotatesAndAlertDeletes", func(t *testing.T) {
			b, err := s.RotateAlertSecret(ctx, ten.ID)
			if err != nil || b.Secret == a.Secret {
				t.Fatalf("%+v %v", b, err)
			}
			if err := s.DeleteBalanceAlert(ctx, ten.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BalanceAlert(ctx, ten.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			due, _ := s.DueAlertDeliveries(ctx, time.Now().Add(2*time.Hour), 10)
			if len(due) != 1 || due[0].URL != "" {
				t.Fatalf("a removed alert still has a URL: %+v", due)
			}
		})
	})
}

func TestTenantScope(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := mustTenant(t, s, "acme", usd)
		globex := mustTenant(t, s, "globex", usd)
		k, _, err := s.CreateKey(ctx, NewKey{TenantID: acme.ID, Name: "app"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordCall(ctx, CallRecord{RequestID: "r1", TenantID: acme.ID, KeyID: k.ID, Endpoint: "chat", Model: "m", Status: 200, Cost: 5}); err != nil {
			t.Fatal(err)
		}
		calls, _ := s.Calls(ctx, CallFilter{TenantID: acme.ID})
		t.Run("OtherTenantFindsNothingAndChangesNothing", func(t *testing.T) {
			if _, err := s.TenantKey(ctx, globex.ID, k.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.RevokeTenantKey(ctx, globex.ID, k.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			b := billing.Nanos(0)
			if _, err := s.UpdateTenantKey(ctx, globex.ID, k.ID, KeyChange{Budget: &b, Models: []string{"x"}}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if _, err := s.TenantCall(ctx, globex.ID, calls[0].ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			got, _ := s.Key(ctx, k.ID)
			if got.RevokedAt != 0 || got.Budget != nil || len(got.Models) != 0 {
				t.Fatalf("another tenant changed the key: %+v", got)
			}
		})
		t.Run("OwnerChangesBudgetModelsAndRevokes", func(t *testing.T) {
			b := 2 * usd
			got, err := s.UpdateTenantKey(ctx, acme.ID, k.ID, KeyChange{Budget: &b, Models: []string{" gpt-4o ", ""}})
			if err != nil || got.Budget == nil || *got.Budget != b || len(got.Models) != 1 || got.Models[0] != "gpt-4o" {
				t.Fatalf("%+v %v", got, err)
			}
			if got, err = s.UpdateTenantKey(ctx, acme.ID, k.ID, KeyChange{}); err != nil || got.Budget != nil || len(got.Models) != 0 {
				t.Fatalf("clearing: %+v %v", got, err)
			}
			if c, err := s.TenantCall(ctx, acme.ID, calls[0].ID); err != nil || c.RequestID != "r1" {
				t.Fatalf("%+v %v", c, err)
			}
			if got, err = s.RevokeTenantKey(ctx, acme.ID, k.ID); err != nil || got.RevokedAt == 0 {
				t.Fatalf("%+v %v", got, err)
			}
			if again, err := s.RevokeTenantKey(ctx, acme.ID, k.ID); err != nil || again.RevokedAt != got.RevokedAt {
				t.Fatalf("second revoke: %+v %v", again, err)
			}
		})
		t.Run("DailyModelTalliesPerTenant", func(t *testing.T) {
			rows, err := s.DailyModelTallies(ctx, RollupFilter{TenantID: acme.ID})
			if err != nil || len(rows) != 1 || rows[0].Model != "m" || rows[0].Cost != 5 {
				t.Fatalf("%+v %v", rows, err)
			}
			if rows, _ := s.DailyModelTallies(ctx, RollupFilter{TenantID: globex.ID}); len(rows) != 0 {
				t.Fatalf("globex sees %+v", rows)
			}
		})
	})
}

func TestRotateSecretKeyResealsPortalSecrets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	oldKey, newKey := testKey(), testKey()
	s, err := Open(ctx, Options{DSN: path, SecretKey: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	ten := mustTenant(t, s, "acme", usd)
	b, codes, err := s.CreateRedeemBatch(ctx, usd, 2, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.SetBalanceAlert(ctx, ten.ID, usd, "https://hooks.example/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateSecretKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(ctx, Options{DSN: path, SecretKey: newKey}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exported, err := s.RedeemCodes(ctx, b.ID)
	if err != nil || len(exported) != 2 || (exported[0].Code != codes[0].Code && exported[0].Code != codes[1].Code) {
		t.Fatalf("codes after rotation: %+v %v", exported, err)
	}
	got, err := s.BalanceAlert(ctx, ten.ID)
	if err != nil || got.Secret != a.Secret {
		t.Fatalf("alert after rotation: %+v %v", got, err)
	}
}

func TestUpdateKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := mustTenant(t, s, "acme", usd)
		b := 3 * usd
		k, _, err := s.CreateKey(ctx, NewKey{TenantID: acme.ID, Name: "app", Models: []string{"gpt-4o"}, Budget: &b})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := s.ConfigVersion(ctx)
		exp := time.Now().Add(time.Hour).UnixMilli()
		models := []string{" o3 ", "", "gpt-4o-mini"}
		got, err := s.UpdateKey(ctx, k.ID, KeyUpdate{Models: &models, ExpiresAt: &exp})
		if err != nil || got.Budget == nil || *got.Budget != b || len(got.Models) != 2 || got.Models[0] != "o3" || got.ExpiresAt != exp {
			t.Fatalf("models and expiry: %+v %v", got, err)
		}
		if after, _ := s.ConfigVersion(ctx); after == before {
			t.Fatal("the configuration version did not move: other gateways would keep the old key")
		}
		var none *billing.Nanos
		never := int64(0)
		if got, err = s.UpdateKey(ctx, k.ID, KeyUpdate{Budget: &none, ExpiresAt: &never}); err != nil || got.Budget != nil || got.ExpiresAt != 0 || len(got.Models) != 2 {
			t.Fatalf("clearing budget and expiry: %+v %v", got, err)
		}
		negative := -usd
		neg := &negative
		if _, err := s.UpdateKey(ctx, k.ID, KeyUpdate{Budget: &neg}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("negative budget: %v", err)
		}
		if _, err := s.UpdateKey(ctx, "key_missing", KeyUpdate{ExpiresAt: &never}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
	})
}

package payment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/payment/stripetest"
)

const whsec = "whsec_test_secret"

func TestCreateCheckoutAgainstFake(t *testing.T) {
	fake := stripetest.NewServer()
	defer fake.Close()
	s, err := NewStripe(StripeConfig{SecretKey: "sk_test_x", WebhookSecret: whsec, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Run("SessionCarriesTenantAmountAndCurrency", func(t *testing.T) {
		co, err := s.CreateCheckout(ctx, "ten_a", 25*billing.NanosPerUSD, "https://gw.example/portal/checkout/done?session_id={CHECKOUT_SESSION_ID}", "https://gw.example/portal/credit")
		if err != nil {
			t.Fatal(err)
		}
		sess, ok := fake.Session(co.Session.ID)
		if !ok || sess.AmountTotal != 2500 || sess.Currency != "usd" || sess.ClientReferenceID != "ten_a" || sess.Metadata[TenantMetadata] != "ten_a" || sess.Mode != "payment" {
			t.Fatalf("fake saw %+v", sess)
		}
		if co.URL != sess.URL || co.Session.AmountMinor != 2500 || co.Session.Credit != 25*billing.NanosPerUSD || co.Session.TenantID != "ten_a" {
			t.Fatalf("checkout %+v", co)
		}
		if sess.SuccessURL != "https://gw.example/portal/checkout/done?session_id={CHECKOUT_SESSION_ID}" {
			t.Fatalf("success URL %q", sess.SuccessURL)
		}
	})
	t.Run("AmountsOutsideBoundsRefused", func(t *testing.T) {
		n := fake.Sessions()
		for _, a := range []billing.Nanos{MinTopup - 1, MaxTopup + nanosPerCent, 10*billing.NanosPerUSD + 1} {
			if _, err := s.CreateCheckout(ctx, "ten_a", a, "https://x/ok", "https://x/no"); err == nil {
				t.Errorf("%s accepted", a)
			}
		}
		if fake.Sessions() != n {
			t.Fatal("a refused amount reached Stripe")
		}
	})
	t.Run("StripeErrorIsReported", func(t *testing.T) {
		fake.Fail = 500
		if _, err := s.CreateCheckout(ctx, "ten_a", MinTopup, "https://x/ok", "https://x/no"); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestParseEvent(t *testing.T) {
	s, err := NewStripe(StripeConfig{SecretKey: "sk_test_x", WebhookSecret: whsec, APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	sess := stripetest.Session{ID: "cs_1", Object: "checkout.session", Mode: "payment", AmountTotal: 2500, Currency: "usd",
		ClientReferenceID: "ten_a", Metadata: map[string]string{TenantMetadata: "ten_a"}}
	body := stripetest.Event("evt_1", EventCompleted, sess)
	t.Run("SignedEventIsRead", func(t *testing.T) {
		paid, ok, err := s.ParseEvent(body, stripetest.Sign(body, whsec, time.Now()))
		if err != nil || !ok || paid.EventID != "evt_1" || paid.SessionID != "cs_1" || paid.TenantID != "ten_a" || paid.AmountMinor != 2500 || paid.Currency != "usd" {
			t.Fatalf("%+v %v %v", paid, ok, err)
		}
	})
	for name, header := range map[string]string{
		"WrongSecretRefused":   stripetest.Sign(body, "whsec_other", time.Now()),
		"OldSignatureRefused":  stripetest.Sign(body, whsec, time.Now().Add(-10*time.Minute)),
		"MissingHeaderRefused": "",
		"GarbageHeaderRefused": "t=abc,v1=zz",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.ParseEvent(body, header); !errors.Is(err, ErrSignature) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("TamperedBodyRefused", func(t *testing.T) {
		header := stripetest.Sign(body, whsec, time.Now())
		forged := stripetest.Event("evt_1", EventCompleted, stripetest.Session{ID: "cs_1", Mode: "payment", AmountTotal: 999999, Currency: "usd", ClientReferenceID: "ten_a"})
		if _, _, err := s.ParseEvent(forged, header); !errors.Is(err, ErrSignature) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("OtherEventsAreIrrelevant", func(t *testing.T) {
		other := stripetest.Event("evt_2", "checkout.session.expired", sess)
		if _, ok, err := s.ParseEvent(other, stripetest.Sign(other, whsec, time.Now())); err != nil || ok {
			t.Fatalf("%v %v", ok, err)
		}
	})
	t.Run("DisagreeingTenantNamesClearTheTenant", func(t *testing.T) {
		bad := sess
		bad.Metadata = map[string]string{TenantMetadata: "ten_b"}
		b := stripetest.Event("evt_3", EventCompleted, bad)
		paid, ok, err := s.ParseEvent(b, stripetest.Sign(b, whsec, time.Now()))
		if err != nil || !ok || paid.TenantID != "" {
			t.Fatalf("%+v %v %v", paid, ok, err)
		}
	})
}

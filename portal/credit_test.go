package portal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/payment/stripetest"
	"github.com/tollgate-gw/tollgate/store"
)

func TestRedeem(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", 0)
	ctx := context.Background()
	_, codes, err := h.st.CreateRedeemBatch(ctx, 10*usd, 2, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("CodeCreditsAndShowsNewBalance", func(t *testing.T) {
		u.post("/portal/redeem", url.Values{"code": {" " + strings.ToLower(codes[0].Code) + " "}}).mustStatus(t, 200).
			mustContain(t, "Redeemed $10.00. Your balance is now $10.00.", `id="balance">`)
		if got := u.balance(); got != 10*usd {
			t.Fatalf("balance %s", got)
		}
		u.get("/portal/ledger").mustContain(t, "redeem")
	})
	t.Run("UsedCodeRefused", func(t *testing.T) {
		u.post("/portal/redeem", url.Values{"code": {codes[0].Code}}).mustStatus(t, 409).mustContain(t, "already redeemed")
		if got := u.balance(); got != 10*usd {
			t.Fatalf("balance %s", got)
		}
	})
	t.Run("EmptyCodeRefused", func(t *testing.T) {
		u.post("/portal/redeem", url.Values{"code": {""}}).mustStatus(t, 400)
	})
	t.Run("ConcurrentRedemptionsThroughThePortalCreditOnce", func(t *testing.T) {
		v := h.tenantUser("globex", 0)
		var wg sync.WaitGroup
		codesOK := make(chan int, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(who *user) {
				defer wg.Done()
				p := who.postRaw("/portal/redeem", url.Values{"code": {codes[1].Code}})
				codesOK <- p.code
			}(map[bool]*user{true: u, false: v}[i%2 == 0])
		}
		wg.Wait()
		close(codesOK)
		redirects := 0
		for c := range codesOK {
			if c == http.StatusSeeOther {
				redirects++
			} else if c != http.StatusConflict {
				t.Errorf("status %d", c)
			}
		}
		if redirects != 1 || u.balance()+v.balance() != 20*usd {
			t.Fatalf("%d redemptions succeeded; balances %s + %s", redirects, u.balance(), v.balance())
		}
	})
	t.Run("GuessingIsThrottled", func(t *testing.T) {
		w := h.tenantUser("guesser", 0)
		for i := 0; i < redeemLimit; i++ {
			w.post("/portal/redeem", url.Values{"code": {"TG-AAAAA-AAAAA-AAAAA-AAAAA-AAAA" + string(rune('A'+i))}}).mustStatus(t, 404)
		}
		_, more, err := h.st.CreateRedeemBatch(ctx, usd, 1, time.Time{}, "")
		if err != nil {
			t.Fatal(err)
		}
		w.post("/portal/redeem", url.Values{"code": {more[0].Code}}).mustStatus(t, 429).mustContain(t, "Try again in")
		if w.balance() != 0 {
			t.Fatal("a throttled redemption credited")
		}
	})
}

// webhookPost sends an event to the portal's webhook endpoint, signed as given.
func webhookPost(t *testing.T, h *harness, body []byte, sig string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/portal/stripe/webhook", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Status string }
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Status
}

func TestStripeCheckoutAndWebhook(t *testing.T) {
	h, fake := newStripeHarness(t, Config{})
	a := h.tenantUser("acme", 0)
	b := h.tenantUser("globex", 0)
	ctx := context.Background()
	sign := func(body []byte) string { return stripetest.Sign(body, testWebhookSecret, time.Now()) }

	var sess stripetest.Session
	t.Run("CheckoutRedirectsToStripeAndCreditsNothing", func(t *testing.T) {
		p := a.postRaw("/portal/checkout", url.Values{"amount_usd": {"25"}}).mustStatus(t, http.StatusSeeOther)
		if !strings.HasPrefix(p.location, fake.URL+"/pay/") {
			t.Fatalf("redirect to %q", p.location)
		}
		var ok bool
		if sess, ok = fake.Session(strings.TrimPrefix(p.location, fake.URL+"/pay/")); !ok {
			t.Fatal("the fake has no such session")
		}
		if sess.AmountTotal != 2500 || sess.ClientReferenceID != a.tenant.ID ||
			sess.SuccessURL != "https://gw.example/portal/checkout/done?session_id={CHECKOUT_SESSION_ID}" || sess.CancelURL != "https://gw.example/portal/checkout/cancelled" {
			t.Fatalf("session %+v", sess)
		}
		if a.balance() != 0 {
			t.Fatal("credited before payment")
		}
		// Coming back from Stripe shows the state and credits nothing.
		a.get("/portal/checkout/done?session_id="+sess.ID).mustStatus(t, 200).mustContain(t, "Waiting for Stripe")
		if a.balance() != 0 {
			t.Fatal("the return page credited")
		}
	})
	t.Run("BadAmountsRefusedBeforeStripe", func(t *testing.T) {
		n := fake.Sessions()
		for _, amt := range []string{"1", "10000.01", "5.005", "abc", "-5"} {
			a.postRaw("/portal/checkout", url.Values{"amount_usd": {amt}}).mustStatus(t, 400)
		}
		if fake.Sessions() != n {
			t.Fatal("a refused amount reached Stripe")
		}
	})
	t.Run("StripeDownShowsErrorAndStoresNothing", func(t *testing.T) {
		fake.Fail = 500
		a.postRaw("/portal/checkout", url.Values{"amount_usd": {"10"}}).mustStatus(t, http.StatusBadGateway).mustContain(t, "nothing was charged")
		if list, _ := h.st.CheckoutSessions(ctx, a.tenant.ID, 10); len(list) != 1 {
			t.Fatalf("%d sessions stored", len(list))
		}
	})
	good := stripetest.Event("evt_good", payment.EventCompleted, sess)
	for _, c := range []struct {
		name   string
		body   []byte
		sig    string
		status int
	}{
		{"ForgedSignatureRefused", good, stripetest.Sign(good, "whsec_attacker", time.Now()), 400},
		{"UnsignedRefused", good, "", 400},
		{"StaleSignatureRefused", good, stripetest.Sign(good, testWebhookSecret, time.Now().Add(-time.Hour)), 400},
		{"MismatchedAmountRefused", stripetest.Event("evt_amount", payment.EventCompleted, with(sess, func(s *stripetest.Session) { s.AmountTotal = 250000 })), "", 200},
		{"OtherTenantRefused", stripetest.Event("evt_tenant", payment.EventCompleted, with(sess, func(s *stripetest.Session) {
			s.ClientReferenceID, s.Metadata = b.tenant.ID, map[string]string{payment.TenantMetadata: b.tenant.ID}
		})), "", 200},
		{"OtherCurrencyRefused", stripetest.Event("evt_eur", payment.EventCompleted, with(sess, func(s *stripetest.Session) { s.Currency = "eur" })), "", 200},
		{"UnknownSessionRefused", stripetest.Event("evt_unknown", payment.EventCompleted, with(sess, func(s *stripetest.Session) { s.ID = "cs_not_ours" })), "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig := c.sig
			if c.status == 200 {
				sig = sign(c.body)
			}
			code, status := webhookPost(t, h, c.body, sig)
			if code != c.status {
				t.Fatalf("status %d, want %d", code, c.status)
			}
			if code == 200 && status == store.CheckoutCredited {
				t.Fatal("credited")
			}
			if a.balance() != 0 || b.balance() != 0 {
				t.Fatalf("balances %s / %s", a.balance(), b.balance())
			}
		})
	}
	t.Run("PendingPaymentWaitsForAsyncEvent", func(t *testing.T) {
		pending := stripetest.Event("evt_pending", payment.EventCompleted, sess)
		pending = []byte(strings.Replace(string(pending), `"payment_status":"paid"`, `"payment_status":"unpaid"`, 1))
		if code, status := webhookPost(t, h, pending, sign(pending)); code != 200 || status != "ignored" {
			t.Fatalf("%d %s", code, status)
		}
		if a.balance() != 0 {
			t.Fatal("credited an unpaid session")
		}
	})
	t.Run("VerifiedMatchingEventCreditsOnce", func(t *testing.T) {
		if code, status := webhookPost(t, h, good, sign(good)); code != 200 || status != store.CheckoutCredited {
			t.Fatalf("%d %s", code, status)
		}
		if a.balance() != 25*usd || b.balance() != 0 {
			t.Fatalf("balances %s / %s", a.balance(), b.balance())
		}
		a.get("/portal/checkout/done?session_id="+sess.ID).mustContain(t, "Payment received", "$25.00</span> was credited")
	})
	t.Run("ReplayedEventCreditsNothing", func(t *testing.T) {
		// The same signed bytes again, and re-signed later (Stripe's own retry).
		for _, sig := range []string{sign(good), stripetest.Sign(good, testWebhookSecret, time.Now().Add(time.Minute))} {
			if code, status := webhookPost(t, h, good, sig); code != 200 || status != store.CheckoutDuplicateEvent {
				t.Fatalf("%d %s", code, status)
			}
		}
		if a.balance() != 25*usd {
			t.Fatalf("balance %s", a.balance())
		}
	})
	t.Run("SecondEventForPaidSessionCreditsNothing", func(t *testing.T) {
		again := stripetest.Event("evt_async", payment.EventAsyncSuccess, sess)
		if code, status := webhookPost(t, h, again, sign(again)); code != 200 || status != store.CheckoutAlreadyPaid {
			t.Fatalf("%d %s", code, status)
		}
		if a.balance() != 25*usd {
			t.Fatalf("balance %s", a.balance())
		}
	})
	t.Run("OtherEventTypesIgnored", func(t *testing.T) {
		ev := stripetest.Event("evt_other", "customer.created", sess)
		if code, status := webhookPost(t, h, ev, sign(ev)); code != 200 || status != "ignored" {
			t.Fatalf("%d %s", code, status)
		}
	})
	t.Run("OversizedBodyRefused", func(t *testing.T) {
		big := make([]byte, webhookBytes+10)
		if code, _ := webhookPost(t, h, big, sign(big)); code != 400 {
			t.Fatalf("status %d", code)
		}
	})
}

func with(s stripetest.Session, change func(*stripetest.Session)) stripetest.Session {
	change(&s)
	return s
}

func TestStripeWebhookAbsentWithoutStripe(t *testing.T) {
	h := newHarness(t, Config{})
	body := []byte(`{}`)
	if code, _ := webhookPost(t, h, body, "t=1,v1=00"); code != 404 {
		t.Fatalf("status %d", code)
	}
	u := h.tenantUser("acme", 0)
	u.postRaw("/portal/checkout", url.Values{"amount_usd": {"10"}}).mustStatus(t, 404)
}

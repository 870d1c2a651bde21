package portal

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/payment"
	"github.com/tollgate-gw/tollgate/payment/stripetest"
	"github.com/tollgate-gw/tollgate/store"
)

const testWebhookSecret = "whsec_portal_test"

// newStripeHarness is the portal with card payments against a fake Stripe.
func newStripeHarness(t *testing.T, cfg Config) (*harness, *stripetest.Server) {
	t.Helper()
	fake := stripetest.NewServer()
	t.Cleanup(fake.Close)
	s, err := payment.NewStripe(payment.StripeConfig{SecretKey: "sk_test_fake", WebhookSecret: testWebhookSecret, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stripe, cfg.PublicURL = s, "https://gw.example"
	return newHarness(t, cfg), fake
}

// snapshot is everything of a tenant the portal could change.
type snapshot struct {
	Tenant   store.Tenant
	Ledger   []store.LedgerEntry
	Keys     []store.APIKey
	Alert    store.BalanceAlert
	Sessions []store.CheckoutSession
	Users    []store.TenantUser
}

func takeSnapshot(t *testing.T, st *store.Store, tenantID string) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	if s.Tenant, err = st.Tenant(ctx, tenantID); err != nil {
		t.Fatal(err)
	}
	s.Ledger, _ = st.LedgerPage(ctx, tenantID, 0, 1000)
	s.Keys, _ = st.ListKeys(ctx, tenantID)
	s.Alert, _ = st.BalanceAlert(ctx, tenantID)
	s.Sessions, _ = st.CheckoutSessions(ctx, tenantID, 1000)
	s.Users, _ = st.TenantUsers(ctx, tenantID)
	return s
}

// TestTenantIsolation signs in as tenant B and tries every portal route with tenant
// A's ids: each answers 404 (or, for screens without an id, shows B's own data
// only), and nothing of A's changes. The route table must cover every route the
// portal registers, so a new route cannot skip this test.
func TestTenantIsolation(t *testing.T) {
	h, fake := newStripeHarness(t, Config{AllowPrivateWebhooks: true})
	ctx := context.Background()
	a := h.tenantUser("acmeco", 40*usd)
	b := h.tenantUser("globex", 3*usd)

	// Tenant A's things, with names B must never see.
	aKey, _, err := h.st.CreateKey(ctx, store.NewKey{TenantID: a.tenant.ID, Name: "acme-secret-app"})
	if err != nil {
		t.Fatal(err)
	}
	seedCalls(t, h.st, a.tenant, aKey)
	aCalls, _ := h.st.Calls(ctx, store.CallFilter{TenantID: a.tenant.ID})
	if _, err := h.st.SetBalanceAlert(ctx, a.tenant.ID, 5*usd, "https://acme.example/hook"); err != nil {
		t.Fatal(err)
	}
	a.post("/portal/checkout", url.Values{"amount_usd": {"20"}})
	aSessions, _ := h.st.CheckoutSessions(ctx, a.tenant.ID, 10)
	if len(aSessions) != 1 {
		t.Fatalf("A's checkout sessions: %+v", aSessions)
	}
	aLedger, _ := h.st.LedgerPage(ctx, a.tenant.ID, 0, 1)
	_, codes, err := h.st.CreateRedeemBatch(ctx, 2*usd, 1, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := takeSnapshot(t, h.st, a.tenant.ID)
	aHidden := []string{"acmeco", "acme-secret-app", aKey.ID, aKey.Hint, "req_served_acmeco", "acme.example/hook", aSessions[0].ID, "$40.00"}

	type attempt struct {
		method, path string
		form         url.Values
		status       int // 0: 200 and B's own page
	}
	type route struct {
		name  string
		tries []attempt
	}
	// In this order: the alert is set before its secret is rotated and it is deleted.
	attempts := []route{
		{"GET /portal/keys/:id", []attempt{{"GET", "/portal/keys/" + aKey.ID, nil, 404}}},
		{"POST /portal/keys/:id", []attempt{{"POST", "/portal/keys/" + aKey.ID, url.Values{"budget_usd": {"0"}, "models": {"none"}}, 404}}},
		{"POST /portal/keys/:id/revoke", []attempt{{"POST", "/portal/keys/" + aKey.ID + "/revoke", nil, 404}}},
		{"GET /portal/requests/:id", []attempt{{"GET", "/portal/requests/" + itoa(aCalls[0].ID), nil, 404}}},
		{"GET /portal/requests", []attempt{{"GET", "/portal/requests?key_id=" + aKey.ID, nil, 404}, {"GET", "/portal/requests?model=gpt-4o-mini", nil, 0}}},
		{"GET /portal/checkout/done", []attempt{{"GET", "/portal/checkout/done?session_id=" + aSessions[0].ID, nil, 404}}},
		{"GET /portal/ledger", []attempt{{"GET", "/portal/ledger", nil, 0}, {"GET", "/portal/ledger?before=" + itoa(aLedger[0].ID+1), nil, 0}}},
		{"GET /portal/", []attempt{{"GET", "/portal/", nil, 0}}},
		{"GET /portal/usage", []attempt{{"GET", "/portal/usage?days=90", nil, 0}}},
		{"GET /portal/keys", []attempt{{"GET", "/portal/keys", nil, 0}}},
		{"POST /portal/keys", []attempt{{"POST", "/portal/keys", url.Values{"name": {"globex-app"}}, 0}}},
		{"GET /portal/credit", []attempt{{"GET", "/portal/credit", nil, 0}}},
		{"POST /portal/redeem", []attempt{{"POST", "/portal/redeem", url.Values{"code": {codes[0].Code}}, 0}}},
		{"POST /portal/checkout", []attempt{{"POST", "/portal/checkout", url.Values{"amount_usd": {"7"}}, http.StatusSeeOther}}},
		{"GET /portal/checkout/cancelled", []attempt{{"GET", "/portal/checkout/cancelled", nil, 0}}},
		{"GET /portal/alerts", []attempt{{"GET", "/portal/alerts", nil, 0}}},
		{"POST /portal/alerts", []attempt{{"POST", "/portal/alerts", url.Values{"threshold_usd": {"1"}, "url": {"https://globex.example/hook"}}, 0}}},
		{"POST /portal/alerts/secret", []attempt{{"POST", "/portal/alerts/secret", nil, 0}}},
		{"POST /portal/alerts/delete", []attempt{{"POST", "/portal/alerts/delete", nil, 0}}},
		{"POST /portal/logout", []attempt{{"POST", "/portal/logout", nil, http.StatusSeeOther}}},
	}
	// Routes open without a session; they carry no tenant id of their own (the
	// webhook's tenant checks are TestStripeWebhook's).
	open := map[string]bool{"GET /portal/static/:sum/*file": true, "GET /portal/login": true, "POST /portal/login": true,
		"GET /portal/invite/:token": true, "POST /portal/invite/:token": true, "POST /portal/stripe/webhook": true}

	tried := map[string]bool{}
	for _, r := range attempts {
		tried[r.name] = true
	}
	registered := 0
	for _, r := range h.engine.Routes() {
		name := r.Method + " " + r.Path
		if open[name] {
			continue
		}
		registered++
		if !tried[name] {
			t.Errorf("route %s is not tried with another tenant's ids; add it to this test", name)
		}
	}
	if registered != len(attempts) {
		t.Errorf("the table names %d routes, the portal registers %d", len(attempts), registered)
	}
	for _, r := range attempts {
		name := r.name
		if name == "POST /portal/logout" {
			continue // last, below: it ends B's session
		}
		for _, try := range r.tries {
			t.Run(strings.ReplaceAll(name, "/", "_")+"_"+try.method, func(t *testing.T) {
				var p page
				if try.method == "GET" {
					p = b.get(try.path)
				} else {
					p = b.postRaw(try.path, try.form)
					if p.code == http.StatusSeeOther && strings.HasPrefix(p.location, "/portal") {
						p = b.get(p.location)
					}
				}
				want := try.status
				if want == 0 {
					want = http.StatusOK
				}
				p.mustStatus(t, want)
				if want != http.StatusSeeOther {
					p.mustNotContain(t, aHidden...)
				}
				if want == http.StatusOK {
					p.mustContain(t, `id="account-name">globex<`)
				}
			})
		}
	}
	t.Run("LogoutEndsOnlyBsSession", func(t *testing.T) {
		b.postRaw("/portal/logout", nil).mustStatus(t, http.StatusSeeOther)
		b.get("/portal/").mustStatus(t, http.StatusSeeOther)
		a.get("/portal/").mustStatus(t, http.StatusOK).mustContain(t, `id="account-name">acmeco<`)
	})
	t.Run("NothingOfAChanged", func(t *testing.T) {
		after := takeSnapshot(t, h.st, a.tenant.ID)
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("tenant A changed:\nbefore %+v\nafter  %+v", before, after)
		}
		if got := h.keys.forgotten(); len(got) != 0 {
			t.Fatalf("keys evicted: %v", got)
		}
	})
	t.Run("BsActionsLandedOnB", func(t *testing.T) {
		keys, _ := h.st.ListKeys(ctx, b.tenant.ID)
		sessions, _ := h.st.CheckoutSessions(ctx, b.tenant.ID, 10)
		if len(keys) != 1 || keys[0].Name != "globex-app" || len(sessions) != 1 || b.balance() != 5*usd {
			t.Fatalf("keys %+v sessions %+v balance %s", keys, sessions, b.balance())
		}
		if fake.Sessions() != 2 {
			t.Fatalf("Stripe saw %d sessions", fake.Sessions())
		}
	})
}

package router

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// billingGet calls a billing endpoint of the harness's gateway with key.
func billingGet(t *testing.T, h *harness, srv *httptest.Server, path, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %s", path, b)
	}
	return resp.StatusCode, out
}

func TestBillingEndpoints(t *testing.T) {
	h := newHarness(t, 10*billing.NanosPerUSD)
	e := gin.New()
	h.gw.RegisterBilling(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	ctx := context.Background()

	// A served call of 1.25 USD today, one of 0.50 USD on the 2nd of last month, and
	// another tenant's call that must not show.
	other, err := h.store.CreateTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, otherSecret, err := h.store.CreateKey(ctx, store.NewKey{TenantID: other.ID, Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month()-1, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		tenant, key, model string
		cost               billing.Nanos
		at                 time.Time
	}{
		{h.tenant.ID, h.keyID, testModel, 1_250_000_000, now},
		{h.tenant.ID, h.keyID, "test-embed", 500_000_000, lastMonth},
		{other.ID, otherKey.ID, testModel, 9 * billing.NanosPerUSD, now},
	} {
		hold, err := h.store.Reserve(ctx, billing.HoldRequest{TenantID: c.tenant, Amount: c.cost})
		if err != nil && c.tenant == other.ID {
			if _, _, err := h.store.Topup(ctx, other.ID, 20*billing.NanosPerUSD, "", "seed"); err != nil {
				t.Fatal(err)
			}
			hold, err = h.store.Reserve(ctx, billing.HoldRequest{TenantID: c.tenant, Amount: c.cost})
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.Settle(ctx, hold, store.CallRecord{RequestID: "r", KeyID: c.key, Endpoint: "chat", Model: c.model, Status: 200,
			Cost: c.cost, CreatedAt: c.at.UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}

	for _, prefix := range []string{"/v1/dashboard/billing", "/dashboard/billing"} {
		t.Run("SubscriptionIsCreditPlusSpend"+prefix, func(t *testing.T) {
			code, body := billingGet(t, h, srv, prefix+"/subscription", h.key)
			if code != 200 || body["object"] != "billing_subscription" {
				t.Fatalf("%d %v", code, body)
			}
			// balance 10 − 1.75 = 8.25 available; spent 1.75: limit 10.
			if body["hard_limit_usd"] != 10.0 || body["soft_limit_usd"] != 10.0 || body["account_name"] != "acme" {
				t.Fatalf("%v", body)
			}
			own := body["tollgate"].(map[string]any)
			if own["available_usd"] != "8.250000000" || own["spent_usd"] != "1.750000000" || own["tenant_id"] != h.tenant.ID {
				t.Fatalf("%v", own)
			}
		})
	}
	t.Run("UsageDefaultsToThisMonth", func(t *testing.T) {
		code, body := billingGet(t, h, srv, "/v1/dashboard/billing/usage", h.key)
		if code != 200 || body["object"] != "list" || math.Abs(body["total_usage"].(float64)-125) > 1e-9 {
			t.Fatalf("%d %v", code, body)
		}
		days := body["daily_costs"].([]any)
		if len(days) != 1 {
			t.Fatalf("%v", days)
		}
		items := days[0].(map[string]any)["line_items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["name"] != testModel {
			t.Fatalf("%v", items)
		}
	})
	t.Run("UsageSinceFirstCallAddsUpToHardLimit", func(t *testing.T) {
		from := lastMonth.Format(time.DateOnly)
		to := now.AddDate(0, 0, 1).Format(time.DateOnly)
		code, body := billingGet(t, h, srv, "/v1/dashboard/billing/usage?start_date="+from+"&end_date="+to, h.key)
		if code != 200 || math.Abs(body["total_usage"].(float64)-175) > 1e-9 || len(body["daily_costs"].([]any)) != 2 {
			t.Fatalf("%d %v", code, body)
		}
		// What clients display: hard limit − usage = what the tenant can spend.
		if got := 10.0 - body["total_usage"].(float64)/100; math.Abs(got-8.25) > 1e-9 {
			t.Fatalf("remaining %v", got)
		}
	})
	t.Run("OtherTenantSeesItsOwn", func(t *testing.T) {
		_, body := billingGet(t, h, srv, "/v1/dashboard/billing/usage", otherSecret)
		if math.Abs(body["total_usage"].(float64)-900) > 1e-9 {
			t.Fatalf("%v", body)
		}
		_, sub := billingGet(t, h, srv, "/v1/dashboard/billing/subscription", otherSecret)
		if sub["account_name"] != "globex" {
			t.Fatalf("%v", sub)
		}
	})
	t.Run("BadDatesRefused", func(t *testing.T) {
		for _, q := range []string{"?start_date=2025-13-01", "?end_date=x", "?start_date=2025-02-01&end_date=2025-01-01", "?start_date=2024-01-01&end_date=2025-01-01"} {
			if code, body := billingGet(t, h, srv, "/v1/dashboard/billing/usage"+q, h.key); code != 400 {
				t.Errorf("%s: %d %v", q, code, body)
			}
		}
	})
	t.Run("NeedsAKey", func(t *testing.T) {
		if code, _ := billingGet(t, h, srv, "/v1/dashboard/billing/subscription", ""); code != 401 {
			t.Fatalf("status %d", code)
		}
		if code, _ := billingGet(t, h, srv, "/v1/dashboard/billing/usage", "sk-tg-not-a-key"); code != 401 {
			t.Fatalf("status %d", code)
		}
	})
}

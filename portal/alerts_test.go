package portal

import (
	"context"
	"net/url"
	"testing"
)

func TestAlertSettings(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", 20*usd)
	ctx := context.Background()
	for name, target := range map[string]string{
		"LoopbackRefused":    "https://127.0.0.1/hook",
		"LocalhostRefused":   "https://localhost./hook",
		"MetadataRefused":    "https://169.254.169.254/latest/meta-data",
		"PrivateRefused":     "https://10.1.2.3/hook",
		"IPv6LoopRefused":    "https://[::1]/hook",
		"PlainHTTPRefused":   "http://hooks.example/x",
		"CredentialsRefused": "https://user:pw@hooks.example/x",
		"NotAURLRefused":     "hooks.example",
	} {
		t.Run(name, func(t *testing.T) {
			u.post("/portal/alerts", url.Values{"threshold_usd": {"5"}, "url": {target}}).mustStatus(t, 400)
			if _, err := h.st.BalanceAlert(ctx, u.tenant.ID); err == nil {
				t.Fatal("the alert was saved")
			}
		})
	}
	t.Run("BadThresholdRefused", func(t *testing.T) {
		u.post("/portal/alerts", url.Values{"threshold_usd": {"0"}, "url": {"https://hooks.example/x"}}).mustStatus(t, 400)
	})
	t.Run("SavedWithSecret", func(t *testing.T) {
		p := u.post("/portal/alerts", url.Values{"threshold_usd": {"5"}, "url": {"https://hooks.example/x"}}).mustStatus(t, 200).
			mustContain(t, "fires when your credit falls below $5.00", `id="alert-secret"`, "armed")
		a, err := h.st.BalanceAlert(ctx, u.tenant.ID)
		if err != nil || a.Threshold != 5*usd || a.URL != "https://hooks.example/x" || !a.Armed {
			t.Fatalf("%+v %v", a, err)
		}
		p.mustContain(t, a.Secret)
	})
	t.Run("ThresholdAboveBalanceSaysSo", func(t *testing.T) {
		u.post("/portal/alerts", url.Values{"threshold_usd": {"50"}, "url": {"https://hooks.example/x"}}).mustStatus(t, 200).mustContain(t, "already below")
	})
	t.Run("SecretRotates", func(t *testing.T) {
		old, _ := h.st.BalanceAlert(ctx, u.tenant.ID)
		u.post("/portal/alerts/secret", nil).mustStatus(t, 200).mustContain(t, "New signing secret")
		if a, _ := h.st.BalanceAlert(ctx, u.tenant.ID); a.Secret == old.Secret {
			t.Fatal("secret unchanged")
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		u.post("/portal/alerts/delete", nil).mustStatus(t, 200).mustContain(t, "Alert removed")
		if _, err := h.st.BalanceAlert(ctx, u.tenant.ID); err == nil {
			t.Fatal("still there")
		}
		u.post("/portal/alerts/delete", nil).mustStatus(t, 404)
	})
	t.Run("LoopbackAllowedWhenOperatorSaysSo", func(t *testing.T) {
		h2 := newHarness(t, Config{AllowPrivateWebhooks: true})
		v := h2.tenantUser("lab", usd)
		v.post("/portal/alerts", url.Values{"threshold_usd": {"5"}, "url": {"http://127.0.0.1:9/hook"}}).mustStatus(t, 200)
	})
}

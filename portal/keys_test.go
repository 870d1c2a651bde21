package portal

import (
	"context"
	"net/url"
	"regexp"
	"testing"

	"github.com/tollgate-gw/tollgate/store"
)

func TestKeys(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", 5*usd)
	ctx := context.Background()
	var secret string
	t.Run("CreatedKeyShownOnce", func(t *testing.T) {
		p := u.post("/portal/keys", url.Values{"name": {"app"}, "models": {"gpt-4o-mini, gpt-4o"}, "budget_usd": {"2.5"}}).
			mustStatus(t, 200).mustContain(t, `id="created-key"`, "only time it is shown")
		m := regexp.MustCompile(`value="(sk-tg-[0-9A-Za-z]+)"`).FindStringSubmatch(p.body)
		if m == nil || !store.WellFormedKey(m[1]) {
			t.Fatalf("no well-formed key on the page")
		}
		secret = m[1]
		k, err := h.st.KeyByDigest(ctx, store.KeyDigest(secret))
		if err != nil || k.TenantID != u.tenant.ID || k.Budget == nil || *k.Budget != 2_500_000_000 || len(k.Models) != 2 {
			t.Fatalf("%+v %v", k, err)
		}
		u.get("/portal/keys").mustStatus(t, 200).mustContain(t, k.Hint).mustNotContain(t, secret)
		u.get("/portal/keys/"+k.ID).mustNotContain(t, secret)
	})
	k, _ := h.st.KeyByDigest(ctx, store.KeyDigest(secret))
	t.Run("BadInputKeepsTheForm", func(t *testing.T) {
		u.post("/portal/keys", url.Values{"name": {""}, "models": {"gpt-4o"}}).mustStatus(t, 400).mustContain(t, "name is required", `value="gpt-4o"`)
		u.post("/portal/keys", url.Values{"name": {"x"}, "budget_usd": {"ten"}}).mustStatus(t, 400).mustContain(t, `value="ten"`)
		u.post("/portal/keys", url.Values{"name": {"x"}, "expires_at": {"2001-01-01"}}).mustStatus(t, 400).mustContain(t, "must be in the future")
		u.post("/portal/keys/"+k.ID, url.Values{"budget_usd": {"-1"}}).mustStatus(t, 400)
	})
	t.Run("BudgetAndModelsChange", func(t *testing.T) {
		u.post("/portal/keys/"+k.ID, url.Values{"budget_usd": {"7"}, "models": {"gpt-4o-mini"}}).mustStatus(t, 200).mustContain(t, "saved")
		got, _ := h.st.Key(ctx, k.ID)
		if got.Budget == nil || *got.Budget != 7*usd || len(got.Models) != 1 || got.Models[0] != "gpt-4o-mini" {
			t.Fatalf("%+v", got)
		}
		u.post("/portal/keys/"+k.ID, url.Values{"budget_usd": {""}, "models": {""}}).mustStatus(t, 200)
		if got, _ := h.st.Key(ctx, k.ID); got.Budget != nil || len(got.Models) != 0 {
			t.Fatalf("not cleared: %+v", got)
		}
		if f := h.keys.forgotten(); len(f) != 2 || f[0] != k.ID {
			t.Fatalf("the gateway's cache was not told: %v", f)
		}
	})
	t.Run("RevokedAtOnce", func(t *testing.T) {
		u.post("/portal/keys/"+k.ID+"/revoke", nil).mustStatus(t, 200).mustContain(t, "revoked")
		if got, _ := h.st.Key(ctx, k.ID); got.RevokedAt == 0 {
			t.Fatal("not revoked")
		}
		if f := h.keys.forgotten(); f[len(f)-1] != k.ID {
			t.Fatalf("evicted %v", f)
		}
		u.post("/portal/keys/"+k.ID, url.Values{"budget_usd": {"1"}}).mustStatus(t, 200).mustContain(t, "cannot be changed")
	})
}

func TestTenantChangesAreAudited(t *testing.T) {
	h := newHarness(t, Config{})
	u := h.tenantUser("acme", usd)
	u.post("/portal/keys", url.Values{"name": {"app"}}).mustStatus(t, 200)
	u.post("/portal/redeem", url.Values{"code": {"TG-SECRETCODE"}}).mustStatus(t, 404)
	entries, err := h.st.AuditLog(context.Background(), 0, 10)
	if err != nil || len(entries) < 2 {
		t.Fatalf("%+v %v", entries, err)
	}
	var actions []string
	for _, e := range entries {
		if e.Actor != "tenant-user:"+u.email || e.Detail["tenant_id"] != u.tenant.ID {
			t.Fatalf("entry %+v", e)
		}
		for _, v := range e.Detail {
			if v == "TG-SECRETCODE" {
				t.Fatal("a redeem code reached the audit log")
			}
		}
		actions = append(actions, e.Action)
	}
	if actions[0] != "POST /portal/redeem" || actions[1] != "POST /portal/keys" {
		t.Fatalf("actions %v", actions)
	}
}

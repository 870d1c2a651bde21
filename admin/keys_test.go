package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

func TestKeys(t *testing.T) {
	h := newHarness(t)
	id := h.createTenant("acme")
	var keyID, secret string

	t.Run("CreateShowsSecretOnce", func(t *testing.T) {
		exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
		r := h.do("POST", "/tenants/"+id+"/keys", `{"name":"ci","models":["gpt-4o"," gpt-4o-mini "],"budget_usd":"2.5","expires_at":"`+exp+`"}`).
			must(t, http.StatusCreated)
		keyID, secret = r.str(t, "id"), r.str(t, "key")
		if !strings.HasPrefix(secret, store.KeyPrefix) || !store.WellFormedKey(secret) {
			t.Fatalf("key %q is not a well-formed sk-tg- key", secret)
		}
		if !strings.HasPrefix(secret, strings.TrimSuffix(r.str(t, "hint"), "…")) {
			t.Fatalf("hint %q is not the key's start", r.str(t, "hint"))
		}
		if r.str(t, "budget_usd") != "2.500000000" || r.str(t, "expires_at") != exp || r.str(t, "tenant_id") != id {
			t.Fatalf("answer %s", r.raw)
		}
		if models := r.body["models"].([]any); len(models) != 2 || models[1] != "gpt-4o-mini" {
			t.Fatalf("models %v", models)
		}
		k, err := h.st.KeyByDigest(context.Background(), store.KeyDigest(secret))
		if err != nil || k.ID != keyID {
			t.Fatalf("the returned secret does not authenticate key %s: %v", keyID, err)
		}
	})
	t.Run("NoBudgetOrExpiryIsNull", func(t *testing.T) {
		r := h.do("POST", "/tenants/"+id+"/keys", `{"name":"plain"}`).must(t, http.StatusCreated)
		if r.body["budget_usd"] != nil || r.body["expires_at"] != nil || !strings.Contains(r.raw, `"models":[]`) {
			t.Fatalf("answer %s", r.raw)
		}
	})
	t.Run("ListNeverShowsSecret", func(t *testing.T) {
		r := h.do("GET", "/tenants/"+id+"/keys", "").must(t, http.StatusOK)
		if strings.Contains(r.raw, secret) || strings.Contains(r.raw, secret[len(store.KeyPrefix)+4:]) {
			t.Fatalf("list contains the secret: %s", r.raw)
		}
		keys := r.data(t)
		if len(keys) != 2 {
			t.Fatalf("want 2 keys, got %d", len(keys))
		}
		for _, k := range keys {
			if _, has := k["key"]; has {
				t.Fatalf("list entry has a key field: %v", k)
			}
			if k["active"] != true || k["revoked_at"] != nil || k["spent_usd"] != "0.000000000" || k["held_usd"] != "0.000000000" {
				t.Fatalf("entry %v", k)
			}
		}
	})
	t.Run("RevokeForgetsKey", func(t *testing.T) {
		r := h.do("DELETE", "/keys/"+keyID, "").must(t, http.StatusOK)
		if r.body["active"] != false || r.body["revoked_at"] == nil || strings.Contains(r.raw, secret) {
			t.Fatalf("revoked key %s", r.raw)
		}
		if got := h.notify.forgottenKeys(); len(got) != 1 || got[0] != keyID {
			t.Fatalf("ForgetKey calls %v, want [%s]", got, keyID)
		}
		k, err := h.st.Key(context.Background(), keyID)
		if err != nil || k.RevokedAt == 0 {
			t.Fatalf("key not revoked in the store: %+v %v", k, err)
		}
		if got := h.do("GET", "/keys/"+keyID, "").must(t, http.StatusOK); got.body["active"] != false {
			t.Fatalf("get after revoke %s", got.raw)
		}
	})
	t.Run("UnknownKeyIs404", func(t *testing.T) {
		h.do("DELETE", "/keys/key_nope", "").wantError(t, http.StatusNotFound, "")
		if n := len(h.notify.forgottenKeys()); n != 1 {
			t.Fatalf("ForgetKey called for a missing key (%d calls)", n)
		}
	})
	t.Run("BadInputIs400", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		for _, tc := range []struct{ body, param string }{
			{`{"name":"x","expires_at":"` + past + `"}`, "expires_at"},
			{`{"name":"x","expires_at":"tomorrow"}`, "expires_at"},
			{`{"name":"x","budget_usd":"-1"}`, "budget_usd"},
			{`{"name":"x","budget_usd":"1.0000000001"}`, "budget_usd"},
			{`{"name":"x","models":[""]}`, "models"},
			{`{"name":"x","models":"gpt-4o"}`, "models"},
			{`{"name":""}`, "name"},
			{`{"name":"x","secret":"y"}`, "secret"},
		} {
			h.do("POST", "/tenants/"+id+"/keys", tc.body).wantError(t, http.StatusBadRequest, tc.param)
		}
	})
	t.Run("UnknownTenantIs404", func(t *testing.T) {
		h.do("POST", "/tenants/ten_nope/keys", `{"name":"x"}`).wantError(t, http.StatusNotFound, "")
		h.do("GET", "/tenants/ten_nope/keys", "").wantError(t, http.StatusNotFound, "")
	})
}

func TestPatchKeySettings(t *testing.T) {
	h := newHarness(t)
	id := h.createTenant("acme")
	keyID := h.do("POST", "/tenants/"+id+"/keys", `{"name":"ci","models":["gpt-4o"],"budget_usd":"2.5","rate_limits":{"requests_per_minute":5}}`).
		must(t, http.StatusCreated).str(t, "id")
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)

	t.Run("BudgetModelsAndExpiry", func(t *testing.T) {
		before := h.notify.forgetCount()
		r := h.do("PATCH", "/keys/"+keyID, `{"budget_usd":"10","models":["gpt-4o-mini"," o3 "],"expires_at":"`+exp+`"}`).must(t, http.StatusOK)
		if r.str(t, "budget_usd") != "10.000000000" || r.str(t, "expires_at") != exp || !strings.Contains(r.raw, `"models":["gpt-4o-mini","o3"]`) {
			t.Fatalf("patched key %s", r.raw)
		}
		if !strings.Contains(r.raw, `"requests_per_minute":5`) {
			t.Fatalf("a field the patch did not name changed: %s", r.raw)
		}
		if h.notify.forgetCount() != before+1 {
			t.Fatal("the gateway was not told to forget the key")
		}
		k, err := h.st.Key(context.Background(), keyID)
		if err != nil || k.Budget == nil || *k.Budget != 10*billing.NanosPerUSD || len(k.Models) != 2 || k.ExpiresAt == 0 {
			t.Fatalf("stored key %+v %v", k, err)
		}
	})
	t.Run("NullClearsBudgetAndExpiry", func(t *testing.T) {
		r := h.do("PATCH", "/keys/"+keyID, `{"budget_usd":null,"expires_at":null}`).must(t, http.StatusOK)
		if r.body["budget_usd"] != nil || r.body["expires_at"] != nil || !strings.Contains(r.raw, `"models":["gpt-4o-mini","o3"]`) {
			t.Fatalf("patched key %s", r.raw)
		}
	})
	t.Run("EmptyModelsAllowsEveryModel", func(t *testing.T) {
		r := h.do("PATCH", "/keys/"+keyID, `{"models":[]}`).must(t, http.StatusOK)
		if !strings.Contains(r.raw, `"models":[]`) {
			t.Fatalf("patched key %s", r.raw)
		}
	})
	t.Run("BadValuesChangeNothing", func(t *testing.T) {
		h.do("PATCH", "/keys/"+keyID, `{}`).wantError(t, http.StatusBadRequest, "")
		h.do("PATCH", "/keys/"+keyID, `{"budget_usd":"-1","models":["x"]}`).wantError(t, http.StatusBadRequest, "budget_usd")
		h.do("PATCH", "/keys/"+keyID, `{"expires_at":"2001-01-01T00:00:00Z"}`).wantError(t, http.StatusBadRequest, "expires_at")
		h.do("PATCH", "/keys/"+keyID, `{"expires_at":"tomorrow"}`).wantError(t, http.StatusBadRequest, "expires_at")
		h.do("PATCH", "/keys/"+keyID, `{"models":[" "]}`).wantError(t, http.StatusBadRequest, "models")
		h.do("PATCH", "/keys/key_missing", `{"budget_usd":"1"}`).wantError(t, http.StatusNotFound, "")
		k, err := h.st.Key(context.Background(), keyID)
		if err != nil || k.Budget != nil || len(k.Models) != 0 || k.ExpiresAt != 0 {
			t.Fatalf("a refused patch changed the key: %+v %v", k, err)
		}
	})
	t.Run("RevokedKeyIs409", func(t *testing.T) {
		h.do("DELETE", "/keys/"+keyID, "").must(t, http.StatusOK)
		h.do("PATCH", "/keys/"+keyID, `{"budget_usd":"1"}`).wantError(t, http.StatusConflict, "")
	})
}

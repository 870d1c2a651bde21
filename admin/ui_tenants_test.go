package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

func TestTenantsScreen(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	ctx := context.Background()
	var acmePath string
	t.Run("CreateRedirectsToTheTenant", func(t *testing.T) {
		p := h.postRaw("/admin/tenants", url.Values{"name": {"  acme  "}}, nil)
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.location, "/admin/tenants/ten_") {
			t.Fatalf("%d → %q", p.code, p.location)
		}
		acmePath = p.location
		h.get(acmePath).mustStatus(t, 200).mustContain(t, "<h1>acme", "Tenant “acme” created")
	})
	t.Run("BlankNameIs400WithFieldError", func(t *testing.T) {
		h.post("/admin/tenants", url.Values{"name": {"   "}}).mustStatus(t, http.StatusBadRequest).
			mustContain(t, `class="field invalid"`, "name is required")
	})
	t.Run("DuplicateIs409AndKeepsInput", func(t *testing.T) {
		h.post("/admin/tenants", url.Values{"name": {"acme"}}).mustStatus(t, http.StatusConflict).
			mustContain(t, `already exists`, `name="name" id="f-name" value="acme"`)
	})
	t.Run("SearchAndPagination", func(t *testing.T) {
		for i := 0; i < pageSize+5; i++ {
			if _, err := h.st.CreateTenant(ctx, fmt.Sprintf("bulk-%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
		first := h.get("/admin/tenants").mustContain(t, "56 tenants · page 1 of 2", "Next →")
		if strings.Contains(first.body, "bulk-054") {
			t.Fatal("page 1 shows a tenant of page 2")
		}
		h.get("/admin/tenants?page=2").mustContain(t, "bulk-054", "← Previous").mustStatus(t, 200)
		found := h.get("/admin/tenants?q=CME").mustContain(t, "acme", "1 tenants")
		if strings.Contains(found.body, "bulk-000") {
			t.Fatal("search does not filter")
		}
		h.get("/admin/tenants?q=zzz").mustContain(t, "No tenant's name contains “zzz”")
	})
	t.Run("ListShowsWalletAndSpend", func(t *testing.T) {
		id := strings.TrimPrefix(acmePath, "/admin/tenants/")
		if _, _, err := h.st.Topup(ctx, id, 1234_500_000_000, "", "k1"); err != nil {
			t.Fatal(err)
		}
		if err := h.st.RecordCalls(ctx, []store.CallRecord{{RequestID: "r", TenantID: id, KeyID: "k", Model: "m", ChannelID: "c", Status: 200, Cost: 2_500_000_000}}); err != nil {
			t.Fatal(err)
		}
		h.get("/admin/tenants?q=acme").mustContain(t, `title="1234.500000000 USD">$1,234.50</span>`, `title="2.500000000 USD">$2.50</span>`)
	})
}

func TestTenantTopup(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	ctx := context.Background()
	ten, err := h.st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/tenants/" + ten.ID
	keyIn := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
	formKey := func(body string) string {
		m := keyIn.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no idempotency key in the top-up form")
		}
		return m[1]
	}
	balance := func() billing.Nanos {
		got, err := h.st.Tenant(ctx, ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Balance
	}
	t.Run("EachRenderStampsANewKey", func(t *testing.T) {
		if formKey(h.get(path).body) == formKey(h.get(path).body) {
			t.Fatal("two renders of the form share an idempotency key")
		}
	})
	t.Run("DoubleSubmitCreditsOnce", func(t *testing.T) {
		key := formKey(h.get(path).body)
		form := url.Values{"amount_usd": {"12.5"}, "note": {"invoice 7"}, "idempotency_key": {key}}
		h.post(path+"/topup", form).mustStatus(t, 200).mustContain(t, "Credited $12.50. The balance is now $12.50.")
		h.post(path+"/topup", form).mustStatus(t, 200).mustContain(t, "already credited", "the balance is unchanged")
		if b := balance(); b != 12_500_000_000 {
			t.Fatalf("balance %s after a double submission, want 12.5", b)
		}
	})
	t.Run("ReusedFormWithOtherAmountIs409", func(t *testing.T) {
		key := formKey(h.get(path).body)
		h.post(path+"/topup", url.Values{"amount_usd": {"1"}, "idempotency_key": {key}}).mustStatus(t, 200)
		p := h.post(path+"/topup", url.Values{"amount_usd": {"2"}, "idempotency_key": {key}}).mustStatus(t, http.StatusConflict)
		p.mustContain(t, "already used to credit $1.00")
		if formKey(p.body) == key {
			t.Fatal("the refused form kept the used key")
		}
		if b := balance(); b != 13_500_000_000 {
			t.Fatalf("balance %s, want 13.5", b)
		}
	})
	t.Run("BadAmountIs400AndKeepsInput", func(t *testing.T) {
		for _, amount := range []string{"12,50", "-3", "0", "1e3", "abc", "2000000"} {
			key := formKey(h.get(path).body)
			p := h.post(path+"/topup", url.Values{"amount_usd": {amount}, "note": {"kept note"}, "idempotency_key": {key}})
			p.mustStatus(t, http.StatusBadRequest).mustContain(t, `name="amount_usd" id="f-amount_usd" value="`+amount+`"`, `value="kept note"`, `class="field invalid"`)
			if formKey(p.body) != key {
				t.Fatalf("amount %q: the form lost its idempotency key", amount)
			}
		}
		if b := balance(); b != 13_500_000_000 {
			t.Fatalf("a refused top-up changed the balance to %s", b)
		}
	})
	t.Run("LedgerListsEntriesAndPages", func(t *testing.T) {
		for i := 0; i < 25; i++ {
			if _, _, err := h.st.Topup(ctx, ten.ID, billing.NanosPerUSD, fmt.Sprintf("n%02d", i), fmt.Sprintf("bulk-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		first := h.get(path).mustContain(t, `id="ledger-table"`, "n24", "Older →")
		m := regexp.MustCompile(`\?before=(\d+)#ledger`).FindStringSubmatch(first.body)
		if m == nil {
			t.Fatal("no link to older entries")
		}
		older := h.get(path+"?before="+m[1]).mustContain(t, "invoice 7", "← Newest")
		if strings.Contains(older.body, ">n24<") {
			t.Fatal("the older page repeats the newest entry")
		}
	})
	t.Run("CreditLimit", func(t *testing.T) {
		h.post(path+"/credit-limit", url.Values{"credit_limit_usd": {"50"}}).mustStatus(t, 200).mustContain(t, "Credit limit set to $50.00")
		h.post(path+"/credit-limit", url.Values{"credit_limit_usd": {"-1"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, `value="-1"`)
		if got, _ := h.st.Tenant(ctx, ten.ID); got.CreditLimit != 50*billing.NanosPerUSD {
			t.Fatalf("limit %s", got.CreditLimit)
		}
	})
	t.Run("UnknownTenantIs404", func(t *testing.T) {
		h.post("/admin/tenants/ten_nope/topup", url.Values{"amount_usd": {"1"}, "idempotency_key": {"x"}}).mustStatus(t, http.StatusNotFound)
	})
}

func TestTenantKeys(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	ctx := context.Background()
	ten, err := h.st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/tenants/" + ten.ID
	var secret string
	t.Run("CreateShowsTheSecretOnce", func(t *testing.T) {
		p := h.post(path+"/keys", url.Values{"name": {"app"}, "models": {"gpt-4o-mini, gpt-4o"}, "budget_usd": {"10"}, "expires_at": {"2999-01-01"}})
		p.mustStatus(t, 200).mustContain(t, `id="created-key"`, "only time it is shown", `data-copy="#new-key"`)
		m := regexp.MustCompile(`value="(sk-tg-[0-9A-Za-z]+)" id="new-key"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no key in:\n%s", shortBody(p.body))
		}
		secret = m[1]
		k, err := h.st.KeyByDigest(ctx, store.KeyDigest(secret))
		if err != nil || k.Name != "app" || len(k.Models) != 2 || k.Budget == nil || *k.Budget != 10*billing.NanosPerUSD || k.ExpiresAt == 0 {
			t.Fatalf("stored key %+v, %v", k, err)
		}
		if again := h.get(path); strings.Contains(again.body, secret) {
			t.Fatal("the secret is shown again")
		}
		h.get(path).mustContain(t, "gpt-4o-mini, gpt-4o", "$10.00", "active")
	})
	t.Run("BadFieldsAre400AndKeepInput", func(t *testing.T) {
		h.post(path+"/keys", url.Values{"name": {""}, "models": {"gpt-4o"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, "name is required", `value="gpt-4o"`)
		h.post(path+"/keys", url.Values{"name": {"x"}, "budget_usd": {"ten"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, `value="ten"`)
		h.post(path+"/keys", url.Values{"name": {"x"}, "expires_at": {"2001-01-01"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, "must be in the future")
		if ks, _ := h.st.ListKeys(ctx, ten.ID); len(ks) != 1 {
			t.Fatalf("%d keys after refused forms", len(ks))
		}
	})
	t.Run("EditChangesBudgetModelsAndExpiry", func(t *testing.T) {
		k, _ := h.st.KeyByDigest(ctx, store.KeyDigest(secret))
		keyPath := "/admin/keys/" + k.ID
		h.get(path).mustContain(t, `href="`+keyPath+`"`)
		h.get(keyPath).mustStatus(t, 200).mustContain(t, `id="key-edit-form"`, `value="10"`, `value="gpt-4o-mini, gpt-4o"`, `value="2999-01-01"`)
		h.post(keyPath, url.Values{"budget_usd": {"25"}, "models": {"o3"}, "expires_at": {"2999-01-01"}}).mustStatus(t, 200).mustContain(t, "Key “app” saved.")
		got, _ := h.st.Key(ctx, k.ID)
		if got.Budget == nil || *got.Budget != 25*billing.NanosPerUSD || len(got.Models) != 1 || got.Models[0] != "o3" || got.ExpiresAt != k.ExpiresAt {
			t.Fatalf("key after the edit %+v (expiry was %d)", got, k.ExpiresAt)
		}
		if forgotten := h.gw.forgottenKeys(); len(forgotten) != 1 || forgotten[0] != k.ID {
			t.Fatalf("ForgetKey calls %v", forgotten)
		}
		h.post(keyPath, url.Values{"budget_usd": {"ten"}, "models": {"o3"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, `value="ten"`)
		h.post(keyPath, url.Values{"expires_at": {"2001-01-01"}}).mustStatus(t, http.StatusBadRequest).mustContain(t, "must be in the future")
		if after, _ := h.st.Key(ctx, k.ID); after.Budget == nil || *after.Budget != 25*billing.NanosPerUSD || after.ExpiresAt != k.ExpiresAt {
			t.Fatalf("a refused edit changed the key: %+v", after)
		}
		h.post(keyPath, url.Values{"budget_usd": {""}, "models": {"o3"}, "expires_at": {""}}).mustStatus(t, 200).mustContain(t, "Key “app” saved.")
		if after, _ := h.st.Key(ctx, k.ID); after.Budget != nil || after.ExpiresAt != 0 {
			t.Fatalf("emptied budget and expiry: %+v", after)
		}
		h.get("/admin/keys/key_nope").mustStatus(t, http.StatusNotFound)
	})
	t.Run("RevokeForgetsTheKey", func(t *testing.T) {
		k, _ := h.st.KeyByDigest(ctx, store.KeyDigest(secret))
		h.post("/admin/keys/"+k.ID+"/revoke", nil).mustStatus(t, 200).mustContain(t, "Key “app” revoked", "revoked")
		if got := h.gw.forgottenKeys(); len(got) != 3 || got[2] != k.ID { // two edits, then the revocation
			t.Fatalf("ForgetKey calls %v", got)
		}
		if after, _ := h.st.Key(ctx, k.ID); after.RevokedAt == 0 {
			t.Fatal("not revoked")
		}
		h.post("/admin/keys/"+k.ID, url.Values{"budget_usd": {"5"}}).mustStatus(t, 200).mustContain(t, "it cannot be changed")
		if after, _ := h.st.Key(ctx, k.ID); after.Budget != nil {
			t.Fatalf("a revoked key was changed: %+v", after)
		}
	})
}

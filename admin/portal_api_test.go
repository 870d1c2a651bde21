package admin

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInvitesAPI(t *testing.T) {
	h := newHarness(t)
	h.api.PublicURL("https://gw.example/")
	ten := h.createTenant("acme")
	other := h.createTenant("globex")
	var token string
	t.Run("InviteCarriesOneTimeLink", func(t *testing.T) {
		r := h.do("POST", "/tenants/"+ten+"/invites", `{"email":"Dev@Acme.example","ttl_hours":48}`).must(t, 201)
		token = r.str(t, "token")
		if r.str(t, "url") != "https://gw.example/portal/invite/"+token || r.str(t, "email") != "dev@acme.example" {
			t.Fatalf("%s", r.raw)
		}
		exp, _ := time.Parse(time.RFC3339Nano, r.str(t, "expires_at"))
		if d := time.Until(exp); d < 47*time.Hour || d > 49*time.Hour {
			t.Fatalf("expires in %s", d)
		}
		list := h.do("GET", "/tenants/"+ten+"/invites", "").must(t, 200).data(t)
		if len(list) != 1 || list[0]["token"] != nil || strings.Contains(h.do("GET", "/tenants/"+ten+"/invites", "").raw, token) {
			t.Fatalf("the list shows the token: %v", list)
		}
	})
	t.Run("AcceptedInviteMakesAUser", func(t *testing.T) {
		if _, err := h.st.AcceptInvite(context.Background(), token, "tenant password 1"); err != nil {
			t.Fatal(err)
		}
		users := h.do("GET", "/tenants/"+ten+"/users", "").must(t, 200).data(t)
		if len(users) != 1 || users[0]["email"] != "dev@acme.example" {
			t.Fatalf("%v", users)
		}
		if got := h.do("GET", "/tenants/"+other+"/users", "").must(t, 200).data(t); len(got) != 0 {
			t.Fatalf("globex lists %v", got)
		}
		h.do("DELETE", "/tenants/"+other+"/users/"+users[0]["id"].(string), "").wantError(t, 404, "")
		h.do("DELETE", "/tenants/"+ten+"/users/"+users[0]["id"].(string), "").must(t, 204)
	})
	t.Run("BadInvitesRefused", func(t *testing.T) {
		h.do("POST", "/tenants/"+ten+"/invites", `{"email":"nope"}`).must(t, 400)
		h.do("POST", "/tenants/"+ten+"/invites", `{"email":"a@b.example","ttl_hours":0}`).wantError(t, 400, "ttl_hours")
		h.do("POST", "/tenants/ten_missing/invites", `{"email":"a@b.example"}`).must(t, 404)
		h.do("POST", "/tenants/"+ten+"/invites", `{"email":"a@b.example","role":"admin"}`).wantError(t, 400, "role")
	})
	t.Run("InviteRevoked", func(t *testing.T) {
		id := h.do("POST", "/tenants/"+ten+"/invites", `{"email":"ops@acme.example"}`).must(t, 201).str(t, "id")
		h.do("DELETE", "/tenants/"+other+"/invites/"+id, "").must(t, 404)
		h.do("DELETE", "/tenants/"+ten+"/invites/"+id, "").must(t, 204)
		h.do("DELETE", "/tenants/"+ten+"/invites/"+id, "").must(t, 404)
	})
	t.Run("AuditedWithoutTheToken", func(t *testing.T) {
		entries, err := h.st.AuditLog(context.Background(), 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			if e.Action == "POST /admin/api/v1/tenants/:id/invites" && e.Target == ten {
				found = true
			}
			for _, v := range e.Detail {
				if strings.Contains(v, token) {
					t.Fatal("the audit log holds an invite token")
				}
			}
		}
		if !found {
			t.Fatal("invite creation not audited")
		}
	})
}

func TestRedeemBatchesAPI(t *testing.T) {
	h := newHarness(t)
	ten := h.createTenant("acme")
	var id string
	var codes []any
	t.Run("BatchCreatedWithCodes", func(t *testing.T) {
		r := h.do("POST", "/redeem-batches", `{"amount_usd":"10","count":3,"note":"promo","expires_at":"2999-01-01T00:00:00Z"}`).must(t, 201)
		id, codes = r.str(t, "id"), r.body["codes"].([]any)
		if len(codes) != 3 || r.str(t, "amount_usd") != "10.000000000" {
			t.Fatalf("%s", r.raw)
		}
		if list := h.do("GET", "/redeem-batches", "").must(t, 200).data(t); len(list) != 1 || list[0]["codes"] != nil {
			t.Fatalf("the list shows codes: %v", list)
		}
	})
	t.Run("ExportListsCodesAndIsAudited", func(t *testing.T) {
		if _, err := h.st.Redeem(context.Background(), ten, codes[0].(string)); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", Prefix+"/redeem-batches/"+id+"/codes.csv", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.engine.ServeHTTP(w, req)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
		if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(RedeemCSVHeader, ",") {
			t.Fatalf("%v %v", rows, err)
		}
		redeemed := 0
		for _, row := range rows[1:] {
			if row[3] == ten {
				redeemed++
				if row[0] != codes[0] {
					t.Fatalf("row %v", row)
				}
			}
		}
		if redeemed != 1 {
			t.Fatalf("%d rows marked redeemed", redeemed)
		}
		if b := h.do("GET", "/redeem-batches/"+id, "").must(t, 200); b.body["redeemed"].(interface{ String() string }).String() != "1" {
			t.Fatalf("%s", b.raw)
		}
		entries, _ := h.st.AuditLog(context.Background(), 0, 10)
		if len(entries) == 0 || entries[0].Action != "GET "+Prefix+"/redeem-batches/:id/codes.csv" || entries[0].Target != id {
			t.Fatalf("export not audited: %+v", entries)
		}
	})
	t.Run("BadBatchesRefused", func(t *testing.T) {
		h.do("POST", "/redeem-batches", `{"count":3}`).wantError(t, 400, "amount_usd")
		h.do("POST", "/redeem-batches", `{"amount_usd":"0","count":3}`).wantError(t, 400, "amount_usd")
		h.do("POST", "/redeem-batches", `{"amount_usd":"1","count":0}`).wantError(t, 400, "count")
		h.do("POST", "/redeem-batches", `{"amount_usd":"1","count":10001}`).wantError(t, 400, "count")
		h.do("POST", "/redeem-batches", `{"amount_usd":"1","count":1,"expires_at":"2001-01-01T00:00:00Z"}`).wantError(t, 400, "expires_at")
		h.do("GET", "/redeem-batches/rb_missing", "").must(t, 404)
		req := httptest.NewRequest("GET", Prefix+"/redeem-batches/rb_missing/codes.csv", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.engine.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestAlertAPI(t *testing.T) {
	h := newHarness(t)
	ten := h.createTenant("acme")
	t.Run("PrivateURLsRefused", func(t *testing.T) {
		for _, u := range []string{"https://127.0.0.1/x", "https://169.254.169.254/", "http://hooks.example/x", "https://localhost/"} {
			h.do("PUT", "/tenants/"+ten+"/alert", `{"threshold_usd":"5","url":"`+u+`"}`).wantError(t, 400, "url")
		}
		h.do("GET", "/tenants/"+ten+"/alert", "").must(t, 404)
	})
	t.Run("SetReadDeleted", func(t *testing.T) {
		r := h.do("PUT", "/tenants/"+ten+"/alert", `{"threshold_usd":"5","url":"https://hooks.example/x"}`).must(t, 200)
		if r.str(t, "threshold_usd") != "5.000000000" || !strings.HasPrefix(r.str(t, "secret"), "tgwh_") || r.body["armed"] != false {
			t.Fatalf("%s", r.raw)
		}
		h.do("GET", "/tenants/"+ten+"/alert", "").must(t, 200)
		h.do("DELETE", "/tenants/"+ten+"/alert", "").must(t, 204)
		h.do("DELETE", "/tenants/"+ten+"/alert", "").must(t, 404)
		h.do("PUT", "/tenants/ten_missing/alert", `{"threshold_usd":"5","url":"https://hooks.example/x"}`).must(t, 404)
		h.do("PUT", "/tenants/"+ten+"/alert", `{"url":"https://hooks.example/x"}`).wantError(t, 400, "threshold_usd")
	})
	t.Run("PrivateAllowedWhenOperatorSaysSo", func(t *testing.T) {
		h.api.AllowPrivateWebhooks(true)
		h.do("PUT", "/tenants/"+ten+"/alert", `{"threshold_usd":"5","url":"http://127.0.0.1:9/x"}`).must(t, 200)
	})
}

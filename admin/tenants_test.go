package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTenants(t *testing.T) {
	h := newHarness(t)
	var acmeID string
	t.Run("CreatedWithEmptyWallet", func(t *testing.T) {
		r := h.do("POST", "/tenants", `{"name":"  Acme  "}`).must(t, http.StatusCreated)
		acmeID = r.str(t, "id")
		for field, want := range map[string]string{"name": "Acme", "balance_usd": "0.000000000", "held_usd": "0.000000000",
			"available_usd": "0.000000000", "credit_limit_usd": "0.000000000"} {
			if got := r.str(t, field); got != want {
				t.Errorf("%s = %q, want %q", field, got, want)
			}
		}
		created, err := time.Parse(time.RFC3339, r.str(t, "created_at"))
		if err != nil || time.Since(created) > time.Minute || !strings.HasSuffix(r.str(t, "created_at"), "Z") {
			t.Errorf("created_at %q is not a recent RFC 3339 UTC time (%v)", r.str(t, "created_at"), err)
		}
	})
	t.Run("DuplicateNameIs409", func(t *testing.T) {
		h.do("POST", "/tenants", `{"name":"Acme"}`).wantError(t, http.StatusConflict, "")
	})
	t.Run("EmptyNameIs400", func(t *testing.T) {
		h.do("POST", "/tenants", `{"name":"   "}`).wantError(t, http.StatusBadRequest, "name")
		h.do("POST", "/tenants", `{}`).wantError(t, http.StatusBadRequest, "name")
	})
	t.Run("UnknownFieldIs400NamingIt", func(t *testing.T) {
		msg := h.do("POST", "/tenants", `{"name":"x","nmae":"y"}`).wantError(t, http.StatusBadRequest, "nmae")
		if !strings.Contains(msg, `"nmae"`) || !strings.Contains(msg, "name") {
			t.Fatalf("message %q should name the unknown field and the accepted ones", msg)
		}
	})
	t.Run("MalformedJSONIs400", func(t *testing.T) {
		h.do("POST", "/tenants", `{"name":`).wantError(t, http.StatusBadRequest, "")
		h.do("POST", "/tenants", `{"name":"a"} {"name":"b"}`).wantError(t, http.StatusBadRequest, "")
		h.do("POST", "/tenants", ``).wantError(t, http.StatusBadRequest, "")
		h.do("POST", "/tenants", `["a"]`).wantError(t, http.StatusBadRequest, "")
		h.do("POST", "/tenants", `{"name":42}`).wantError(t, http.StatusBadRequest, "name")
	})
	t.Run("OversizedBodyIs413", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("a", maxBodyBytes) + `"}`
		h.do("POST", "/tenants", big).wantError(t, http.StatusRequestEntityTooLarge, "")
	})
	t.Run("GetReturnsTheTenant", func(t *testing.T) {
		r := h.do("GET", "/tenants/"+acmeID, "").must(t, http.StatusOK)
		if r.str(t, "id") != acmeID || r.str(t, "name") != "Acme" {
			t.Fatalf("got %s", r.raw)
		}
	})
	t.Run("UnknownIdIs404", func(t *testing.T) {
		h.do("GET", "/tenants/ten_nope", "").wantError(t, http.StatusNotFound, "")
	})
	t.Run("ListSearchesAndPages", func(t *testing.T) {
		h.createTenant("Globex")
		h.createTenant("Initech")
		all := h.do("GET", "/tenants", "").must(t, http.StatusOK).data(t)
		if len(all) != 3 || all[0]["name"] != "Acme" || all[2]["name"] != "Initech" {
			t.Fatalf("list = %v, want Acme, Globex, Initech", all)
		}
		found := h.do("GET", "/tenants?search=lob", "").must(t, http.StatusOK).data(t)
		if len(found) != 1 || found[0]["name"] != "Globex" {
			t.Fatalf("search = %v, want Globex", found)
		}
		page := h.do("GET", "/tenants?limit=1&offset=1", "").must(t, http.StatusOK).data(t)
		if len(page) != 1 || page[0]["name"] != "Globex" {
			t.Fatalf("page = %v, want Globex", page)
		}
		none := h.do("GET", "/tenants?search=zzz", "").must(t, http.StatusOK)
		if !strings.Contains(none.raw, `"data":[]`) {
			t.Fatalf("empty list should be [], got %s", none.raw)
		}
		h.do("GET", "/tenants?limit=abc", "").wantError(t, http.StatusBadRequest, "limit")
		h.do("GET", "/tenants?offset=-1", "").wantError(t, http.StatusBadRequest, "offset")
	})
	t.Run("PatchSetsCreditLimit", func(t *testing.T) {
		r := h.do("PATCH", "/tenants/"+acmeID, `{"credit_limit_usd":"5.25"}`).must(t, http.StatusOK)
		if r.str(t, "credit_limit_usd") != "5.250000000" || r.str(t, "available_usd") != "5.250000000" {
			t.Fatalf("after patch: %s", r.raw)
		}
		ten, err := h.st.Tenant(context.Background(), acmeID)
		if err != nil || ten.CreditLimit.String() != "5.250000000" {
			t.Fatalf("stored limit %v (%v)", ten.CreditLimit, err)
		}
	})
	t.Run("PatchRefusesBadLimit", func(t *testing.T) {
		h.do("PATCH", "/tenants/"+acmeID, `{"credit_limit_usd":"-1"}`).wantError(t, http.StatusBadRequest, "credit_limit_usd")
		h.do("PATCH", "/tenants/"+acmeID, `{}`).wantError(t, http.StatusBadRequest, "credit_limit_usd")
		h.do("PATCH", "/tenants/"+acmeID, `{"credit_limit_usd":true}`).wantError(t, http.StatusBadRequest, "credit_limit_usd")
		h.do("PATCH", "/tenants/ten_nope", `{"credit_limit_usd":"1"}`).wantError(t, http.StatusNotFound, "")
	})
}

package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDashboardInvitesAndRedeemCodes(t *testing.T) {
	h := newUIHarness(t, func(u *UI) { u.PublicURL("https://gw.example") })
	h.signIn()
	ctx := context.Background()
	ten, err := h.st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/tenants/" + ten.ID
	t.Run("TenantPageOffersInvites", func(t *testing.T) {
		h.get(path).mustStatus(t, 200).mustContain(t, `id="portal-access"`, `id="invite-form"`, "No one signs in")
	})
	t.Run("InviteLinkShownOnceAndWorks", func(t *testing.T) {
		p := h.post(path+"/invites", url.Values{"email": {"dev@acme.example"}}).mustStatus(t, 200).mustContain(t, `id="invite-link"`)
		m := regexp.MustCompile(`value="https://gw\.example/portal/invite/([A-Za-z0-9_-]+)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no invite link:\n%s", shortBody(p.body))
		}
		if _, err := h.st.AcceptInvite(ctx, m[1], "tenant password 1"); err != nil {
			t.Fatal(err)
		}
		h.get(path).mustContain(t, `id="portal-users"`, "dev@acme.example").mustNotContain(t, m[1])
	})
	t.Run("BadInviteKeepsTheForm", func(t *testing.T) {
		h.post(path+"/invites", url.Values{"email": {"not-an-email"}}).mustStatus(t, 400).mustContain(t, `value="not-an-email"`)
		h.post("/admin/tenants/ten_missing/invites", url.Values{"email": {"a@b.example"}}).mustStatus(t, 404)
	})
	var batchID string
	t.Run("RedeemBatchCreatedAndExported", func(t *testing.T) {
		h.get("/admin/redeem").mustStatus(t, 200).mustContain(t, "No redeem codes yet", `id="redeem-batch-form"`)
		p := h.post("/admin/redeem", url.Values{"amount_usd": {"5"}, "count": {"3"}, "note": {"meetup"}}).mustStatus(t, 200).
			mustContain(t, `id="new-codes"`, "3 codes worth $5.00")
		if n := len(regexp.MustCompile(`TG-[A-Z0-9-]{29}`).FindAllString(p.body, -1)); n != 3 {
			t.Fatalf("%d codes on the page", n)
		}
		batchID = regexp.MustCompile(`/admin/redeem/(rb_[0-9a-f]+)/codes\.csv`).FindStringSubmatch(p.body)[1]
		csv := h.get("/admin/redeem/"+batchID+"/codes.csv").mustStatus(t, 200)
		if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || strings.Count(csv.body, "\n") != 4 {
			t.Fatalf("%v\n%s", csv.header, csv.body)
		}
		entries, _ := h.st.AuditLog(ctx, 0, 5)
		if len(entries) == 0 || entries[0].Action != "GET /admin/redeem/:id/codes.csv" || entries[0].Actor != "user:"+testAdminEmail {
			t.Fatalf("export not audited: %+v", entries)
		}
		h.get("/admin/redeem").mustContain(t, `id="batches-table"`, "meetup")
	})
	t.Run("BadBatchesRefused", func(t *testing.T) {
		h.post("/admin/redeem", url.Values{"amount_usd": {"0"}, "count": {"3"}}).mustStatus(t, 400)
		h.post("/admin/redeem", url.Values{"amount_usd": {"5"}, "count": {"0"}}).mustStatus(t, 400)
		h.post("/admin/redeem", url.Values{"amount_usd": {"5"}, "count": {"1"}, "expires_at": {time.Now().AddDate(0, 0, -1).Format(time.DateOnly)}}).mustStatus(t, 400)
		h.get("/admin/redeem/rb_missing/codes.csv").mustStatus(t, http.StatusNotFound)
	})
}

// mustNotContain fails if the page has any of the snippets.
func (p page) mustNotContain(t testing.TB, snippets ...string) page {
	t.Helper()
	for _, s := range snippets {
		if strings.Contains(p.body, s) {
			t.Fatalf("page (%d) shows %q", p.code, s)
		}
	}
	return p
}

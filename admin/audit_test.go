package admin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAuditLogRecordsChangesWithoutSecrets: every change lands in the audit log with
// its route and target, secrets redacted; reads are not recorded.
func TestAuditLogRecordsChangesWithoutSecrets(t *testing.T) {
	h := newHarness(t)
	id := h.do("POST", "/tenants", `{"name":"acme"}`).must(t, http.StatusCreated).str(t, "id")
	h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"12.5","note":"invoice 9","idempotency_key":"i9"}`).must(t, http.StatusCreated)
	h.do("POST", "/channels", `{"name":"oa","provider":"openai","base_url":"https://x.example","api_key":"sk-very-secret-upstream","models":["m"]}`).must(t, http.StatusCreated)
	h.do("GET", "/tenants", "").must(t, http.StatusOK)
	h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"-1"}`).wantError(t, http.StatusBadRequest, "amount_usd")

	r := h.do("GET", "/audit", "").must(t, http.StatusOK)
	if strings.Contains(r.raw, "sk-very-secret-upstream") {
		t.Fatal("the audit log holds an upstream key")
	}
	entries := r.data(t)
	if len(entries) != 4 {
		t.Fatalf("%d entries, want 4 changes (reads are not audited): %s", len(entries), r.raw)
	}
	// Newest first: the refused top-up, the channel, the top-up, the tenant.
	if fmt.Sprint(entries[0]["status"]) != "400" || entries[1]["action"] != "POST /admin/api/v1/channels" ||
		entries[2]["target"] != id || entries[2]["detail"].(map[string]any)["amount_usd"] != "12.5" ||
		entries[1]["detail"].(map[string]any)["api_key"] != "[redacted]" || entries[3]["actor"] != "admin-token" {
		t.Fatalf("audit entries %s", r.raw)
	}
}

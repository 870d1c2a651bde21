package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestRateLimitsThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	id := h.do("POST", "/tenants", `{"name":"acme"}`).must(t, http.StatusCreated).str(t, "id")
	r := h.do("PATCH", "/tenants/"+id, `{"rate_limits":{"requests_per_minute":60,"tokens_per_minute":90000,"concurrent_streams":2}}`).must(t, http.StatusOK)
	if !strings.Contains(r.raw, `"rate_limits":{"requests_per_minute":60,"tokens_per_minute":90000,"concurrent_streams":2}`) {
		t.Fatalf("tenant %s", r.raw)
	}
	h.do("PATCH", "/tenants/"+id, `{"rate_limits":{"requests_per_minute":-1}}`).wantError(t, http.StatusBadRequest, "rate_limits")
	h.do("PATCH", "/tenants/"+id, `{}`).wantError(t, http.StatusBadRequest, "credit_limit_usd")

	k := h.do("POST", "/tenants/"+id+"/keys", `{"name":"ci","rate_limits":{"requests_per_minute":5}}`).must(t, http.StatusCreated)
	if !strings.Contains(k.raw, `"requests_per_minute":5`) {
		t.Fatalf("key %s", k.raw)
	}
	keyID := k.str(t, "id")
	before := h.notify.forgetCount()
	r = h.do("PATCH", "/keys/"+keyID, `{"rate_limits":{"requests_per_minute":7,"concurrent_streams":1}}`).must(t, http.StatusOK)
	if !strings.Contains(r.raw, `"requests_per_minute":7`) || h.notify.forgetCount() != before+1 {
		t.Fatalf("patched key %s (forgotten %d→%d)", r.raw, before, h.notify.forgetCount())
	}
	h.do("PATCH", "/keys/key_missing", `{"rate_limits":{"requests_per_minute":7}}`).wantError(t, http.StatusNotFound, "")
}

func (f *fakeNotifier) forgetCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.forgotten)
}

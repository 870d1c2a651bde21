package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-gw/tollgate/store"
)

func balanceOf(t *testing.T, h *harness, tenantID string) string {
	t.Helper()
	ten, err := h.st.Tenant(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := h.st.LedgerSum(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if sum != ten.Balance {
		t.Fatalf("balance %s != Σ ledger %s", ten.Balance, sum)
	}
	return ten.Balance.String()
}

func TestTopups(t *testing.T) {
	h := newHarness(t)
	id := h.createTenant("acme")

	t.Run("CreditsExactAmount", func(t *testing.T) {
		r := h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"10.123456789","note":"first"}`).must(t, http.StatusCreated)
		if r.str(t, "amount_usd") != "10.123456789" || r.str(t, "balance_usd") != "10.123456789" || r.str(t, "tenant_id") != id ||
			r.str(t, "note") != "first" {
			t.Fatalf("answer %s", r.raw)
		}
		if _, ok := r.body["id"].(json.Number); !ok {
			t.Fatalf("id should be the ledger entry's number: %s", r.raw)
		}
		if got := balanceOf(t, h, id); got != "10.123456789" {
			t.Fatalf("balance %s", got)
		}
	})
	t.Run("BareNumberIsExact", func(t *testing.T) {
		r := h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":12.5}`).must(t, http.StatusCreated)
		if r.str(t, "amount_usd") != "12.500000000" || r.str(t, "balance_usd") != "22.623456789" {
			t.Fatalf("answer %s", r.raw)
		}
		// The smallest unit, as a bare number, must arrive exactly (no float rounding).
		r = h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":0.000000001}`).must(t, http.StatusCreated)
		if r.str(t, "amount_usd") != "0.000000001" || r.str(t, "balance_usd") != "22.623456790" {
			t.Fatalf("answer %s", r.raw)
		}
	})
	t.Run("ReplayReturnsFirstAnswerAndCreditsOnce", func(t *testing.T) {
		body := `{"amount_usd":"5","note":"invoice 7","idempotency_key":"inv-7"}`
		first := h.do("POST", "/tenants/"+id+"/topups", body).must(t, http.StatusCreated)
		before := balanceOf(t, h, id)
		again := h.do("POST", "/tenants/"+id+"/topups", body).must(t, http.StatusOK)
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay without Idempotent-Replayed header")
		}
		if first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first answer marked as replayed")
		}
		if again.raw != first.raw {
			t.Fatalf("replay body differs:\n first %s\n again %s", first.raw, again.raw)
		}
		if after := balanceOf(t, h, id); after != before {
			t.Fatalf("replay credited again: %s -> %s", before, after)
		}
	})
	t.Run("KeyFromHeader", func(t *testing.T) {
		first := h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"1"}`, "Idempotency-Key", "hdr-1").must(t, http.StatusCreated)
		if first.str(t, "idempotency_key") != "hdr-1" {
			t.Fatalf("answer %s", first.raw)
		}
		before := balanceOf(t, h, id)
		again := h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"1","idempotency_key":"hdr-1"}`, "Idempotency-Key", "hdr-1").must(t, http.StatusOK)
		if again.raw != first.raw || balanceOf(t, h, id) != before {
			t.Fatalf("header key did not replay: %s", again.raw)
		}
		h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"1","idempotency_key":"a"}`, "Idempotency-Key", "b").
			wantError(t, http.StatusBadRequest, "idempotency_key")
	})
	t.Run("ReusedKeyWithOtherAmountIs409", func(t *testing.T) {
		before := balanceOf(t, h, id)
		h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":"6","idempotency_key":"inv-7"}`).wantError(t, http.StatusConflict, "idempotency_key")
		if balanceOf(t, h, id) != before {
			t.Fatal("a refused reuse credited")
		}
	})
	t.Run("ConcurrentIdenticalTopupsCreditOnce", func(t *testing.T) {
		other := h.createTenant("concurrent")
		var wg sync.WaitGroup
		codes := make(chan int, 20)
		bodies := make(chan string, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := h.do("POST", "/tenants/"+other+"/topups", `{"amount_usd":"3.5","idempotency_key":"same"}`)
				codes <- r.code
				bodies <- r.raw
			}()
		}
		wg.Wait()
		close(codes)
		close(bodies)
		n := map[int]int{}
		for c := range codes {
			n[c]++
		}
		if n[http.StatusCreated] != 1 || n[http.StatusOK] != 19 {
			t.Fatalf("statuses %v, want one 201 and nineteen 200", n)
		}
		var first string
		for b := range bodies {
			if first == "" {
				first = b
			} else if b != first {
				t.Fatalf("answers differ:\n%s\n%s", first, b)
			}
		}
		if got := balanceOf(t, h, other); got != "3.500000000" {
			t.Fatalf("balance %s, want 3.500000000", got)
		}
	})
	t.Run("BadAmountsAre400", func(t *testing.T) {
		before := balanceOf(t, h, id)
		for _, amount := range []string{`"0"`, `"-1"`, `"abc"`, `"1e3"`, `1e3`, `"0.0000000001"`, `"1000001"`, `1000000.000000001`,
			`""`, `" 1"`, `null`, `true`, `{}`, `"99999999999999999999"`, `-0`} {
			t.Run(amount, func(t *testing.T) {
				msg := h.do("POST", "/tenants/"+id+"/topups", `{"amount_usd":`+amount+`}`).wantError(t, http.StatusBadRequest, "amount_usd")
				if !strings.Contains(msg, "amount_usd") {
					t.Fatalf("message %q does not name amount_usd", msg)
				}
			})
		}
		if after := balanceOf(t, h, id); after != before {
			t.Fatalf("a refused top-up credited: %s -> %s", before, after)
		}
	})
	t.Run("MaxTopupIsAccepted", func(t *testing.T) {
		other := h.createTenant("whale")
		r := h.do("POST", "/tenants/"+other+"/topups", `{"amount_usd":"1000000"}`).must(t, http.StatusCreated)
		if r.str(t, "balance_usd") != store.MaxTopup.String() {
			t.Fatalf("answer %s", r.raw)
		}
	})
	t.Run("UnknownTenantIs404", func(t *testing.T) {
		h.do("POST", "/tenants/ten_nope/topups", `{"amount_usd":"1"}`).wantError(t, http.StatusNotFound, "")
	})
}

func TestLedger(t *testing.T) {
	h := newHarness(t)
	id := h.createTenant("acme")
	for i := 1; i <= 5; i++ {
		h.do("POST", "/tenants/"+id+"/topups", fmt.Sprintf(`{"amount_usd":"%d","note":"n%d"}`, i, i)).must(t, http.StatusCreated)
	}
	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		r := h.do("GET", "/tenants/"+id+"/ledger?limit=2", "").must(t, http.StatusOK)
		page := r.data(t)
		if len(page) != 2 || page[0]["note"] != "n5" || page[1]["note"] != "n4" {
			t.Fatalf("first page %v", page)
		}
		if page[0]["amount_usd"] != "5.000000000" || page[0]["balance_after_usd"] != "15.000000000" || page[0]["kind"] != "topup" {
			t.Fatalf("entry %v", page[0])
		}
		cursor, ok := r.body["next_before"].(json.Number)
		if !ok || cursor.String() != fmt.Sprint(page[1]["id"]) {
			t.Fatalf("next_before %v, want the last id %v", r.body["next_before"], page[1]["id"])
		}
		r = h.do("GET", "/tenants/"+id+"/ledger?limit=2&before="+cursor.String(), "").must(t, http.StatusOK)
		page = r.data(t)
		if len(page) != 2 || page[0]["note"] != "n3" || page[1]["note"] != "n2" {
			t.Fatalf("second page %v", page)
		}
		r = h.do("GET", "/tenants/"+id+"/ledger?limit=2&before="+r.body["next_before"].(json.Number).String(), "").must(t, http.StatusOK)
		page = r.data(t)
		if len(page) != 1 || page[0]["note"] != "n1" || r.body["next_before"] != nil {
			t.Fatalf("last page %v next_before %v", page, r.body["next_before"])
		}
	})
	t.Run("BadCursorIs400", func(t *testing.T) {
		h.do("GET", "/tenants/"+id+"/ledger?before=x", "").wantError(t, http.StatusBadRequest, "before")
		h.do("GET", "/tenants/"+id+"/ledger?limit=0", "").wantError(t, http.StatusBadRequest, "limit")
	})
	t.Run("UnknownTenantIs404", func(t *testing.T) {
		h.do("GET", "/tenants/ten_nope/ledger", "").wantError(t, http.StatusNotFound, "")
	})
}

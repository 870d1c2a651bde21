package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
)

func TestPricesScreen(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	ctx := context.Background()
	t.Run("ListsDefaultsAndFilters", func(t *testing.T) {
		all := h.get("/admin/prices").mustStatus(t, 200).mustContain(t, "gpt-4o-mini", "claude-sonnet-4", "0 overridden")
		if n := strings.Count(all.body, `<span class="badge">default</span>`); n != len(billing.DefaultPrices()) {
			t.Fatalf("%d default rows, want %d", n, len(billing.DefaultPrices()))
		}
		some := h.get("/admin/prices?q=CLAUDE")
		if strings.Contains(some.body, "gpt-4o-mini") || !strings.Contains(some.body, "claude-sonnet-4") {
			t.Fatal("the filter does not filter")
		}
		h.get("/admin/prices?q=no-such-model").mustContain(t, "No model matches")
	})
	t.Run("EditMakesAnOverrideAndReloads", func(t *testing.T) {
		before := h.gw.reloadCount()
		h.get("/admin/prices/edit?model=gpt-4o-mini").mustContain(t, `value="0.15"`, `value="0.6"`, `value="128000"`)
		p := h.post("/admin/prices", url.Values{"model": {"gpt-4o-mini"}, "input_usd_per_mtok": {"0.2"}, "output_usd_per_mtok": {"0.8"},
			"context_window": {"0"}, "max_output": {"0"}})
		p.mustStatus(t, 200).mustContain(t, "Price of gpt-4o-mini saved", "1 overridden", `title="default: 0.15 in, 0.6 out"`)
		overrides, _ := h.st.PriceOverrides(ctx)
		if len(overrides) != 1 || overrides[0].Input.PerMTok() != "0.2" || overrides[0].Output.PerMTok() != "0.8" {
			t.Fatalf("overrides %+v", overrides)
		}
		if h.gw.reloadCount() != before+1 {
			t.Fatal("no reload after a price change")
		}
	})
	t.Run("NewModelPrice", func(t *testing.T) {
		h.post("/admin/prices", url.Values{"model": {"my-local-llama"}, "input_usd_per_mtok": {"0.01"}, "output_usd_per_mtok": {"0.02"}}).
			mustStatus(t, 200).mustContain(t, "my-local-llama", "Remove")
	})
	t.Run("BadPriceIs400AndKeepsInput", func(t *testing.T) {
		h.post("/admin/prices", url.Values{"model": {"m"}, "input_usd_per_mtok": {"-1"}, "output_usd_per_mtok": {"2"}}).
			mustStatus(t, http.StatusBadRequest).mustContain(t, `value="-1"`, `class="field invalid"`)
		h.post("/admin/prices", url.Values{"model": {"m"}, "output_usd_per_mtok": {"2"}}).
			mustStatus(t, http.StatusBadRequest).mustContain(t, "input_usd_per_mtok is required")
		h.post("/admin/prices", url.Values{"model": {"m"}, "input_usd_per_mtok": {"1"}, "output_usd_per_mtok": {"2"}, "context_window": {"lots"}}).
			mustStatus(t, http.StatusBadRequest).mustContain(t, "whole number of tokens")
	})
	t.Run("ResetRestoresTheDefault", func(t *testing.T) {
		h.post("/admin/prices/reset", url.Values{"model": {"gpt-4o-mini"}}).mustStatus(t, 200).mustContain(t, "Override of gpt-4o-mini removed")
		overrides, _ := h.st.PriceOverrides(ctx)
		if len(overrides) != 1 || overrides[0].Model != "my-local-llama" {
			t.Fatalf("overrides %+v", overrides)
		}
		h.post("/admin/prices/reset", url.Values{"model": {"gpt-4o-mini"}}).mustContain(t, `class="flash error"`, "no override")
	})
}

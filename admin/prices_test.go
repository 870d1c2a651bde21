package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
)

func findPrice(t *testing.T, rows []map[string]any, model string) map[string]any {
	t.Helper()
	for _, r := range rows {
		if r["model"] == model {
			return r
		}
	}
	return nil
}

func TestPrices(t *testing.T) {
	h := newHarness(t)
	defaults := billing.DefaultPrices()
	if len(defaults) == 0 {
		t.Fatal("no embedded default prices")
	}
	def := defaults[0]

	t.Run("ListShowsDefaults", func(t *testing.T) {
		rows := h.do("GET", "/prices", "").must(t, http.StatusOK).data(t)
		if len(rows) != len(defaults) {
			t.Fatalf("%d rows, want %d defaults", len(rows), len(defaults))
		}
		row := findPrice(t, rows, def.Model)
		if row == nil || row["source"] != "default" || row["input_usd_per_mtok"] != def.Input.PerMTok() ||
			row["output_usd_per_mtok"] != def.Output.PerMTok() || row["provider"] != def.Provider {
			t.Fatalf("row for %s = %v", def.Model, row)
		}
	})
	t.Run("PutOverridesDefault", func(t *testing.T) {
		r := h.do("PUT", "/prices/"+def.Model, `{"input_usd_per_mtok":"0.0375","output_usd_per_mtok":1.5,"cached_input_usd_per_mtok":"0.01"}`).
			must(t, http.StatusOK)
		if r.str(t, "source") != "override" || r.str(t, "input_usd_per_mtok") != "0.0375" || r.str(t, "output_usd_per_mtok") != "1.5" ||
			r.str(t, "cached_input_usd_per_mtok") != "0.01" || r.body["cache_write_usd_per_mtok"] != nil {
			t.Fatalf("answer %s", r.raw)
		}
		if r.body["context_window"].(interface{ String() string }).String() == "0" && def.ContextWindow != 0 {
			t.Fatalf("override lost the default's context window: %s", r.raw)
		}
		if d, ok := r.body["default"].(map[string]any); !ok || d["input_usd_per_mtok"] != def.Input.PerMTok() {
			t.Fatalf("override does not show the default it replaces: %s", r.raw)
		}
		row := findPrice(t, h.do("GET", "/prices", "").must(t, http.StatusOK).data(t), def.Model)
		if row["source"] != "override" || row["input_usd_per_mtok"] != "0.0375" {
			t.Fatalf("list row %v", row)
		}
		overrides, err := h.st.PriceOverrides(context.Background())
		if err != nil || len(overrides) != 1 || overrides[0].Input != 37500 || overrides[0].Output != 1_500_000 {
			t.Fatalf("stored overrides %+v (%v)", overrides, err)
		}
		if h.notify.reloadCount() != 1 {
			t.Fatalf("Reload called %d times, want 1", h.notify.reloadCount())
		}
	})
	t.Run("ModelWithSlashes", func(t *testing.T) {
		const model = "myorg/team/custom-7b"
		r := h.do("PUT", "/prices/"+model, `{"input_usd_per_mtok":"0.2","output_usd_per_mtok":"0.4","context_window":32768,"max_output":4096}`).
			must(t, http.StatusOK)
		if r.str(t, "model") != model || r.str(t, "source") != "override" || r.body["default"] != nil {
			t.Fatalf("answer %s", r.raw)
		}
		got := h.do("GET", "/prices/"+model, "").must(t, http.StatusOK)
		if got.str(t, "model") != model || got.body["max_output"].(interface{ String() string }).String() != "4096" {
			t.Fatalf("get %s", got.raw)
		}
		if findPrice(t, h.do("GET", "/prices", "").must(t, http.StatusOK).data(t), model) == nil {
			t.Fatal("list does not include the new model")
		}
		h.do("DELETE", "/prices/"+model, "").must(t, http.StatusNoContent)
		h.do("GET", "/prices/"+model, "").wantError(t, http.StatusNotFound, "model")
	})
	t.Run("DeleteRestoresDefault", func(t *testing.T) {
		before := h.notify.reloadCount()
		h.do("DELETE", "/prices/"+def.Model, "").must(t, http.StatusNoContent)
		if h.notify.reloadCount() != before+1 {
			t.Fatal("delete did not reload")
		}
		r := h.do("GET", "/prices/"+def.Model, "").must(t, http.StatusOK)
		if r.str(t, "source") != "default" || r.str(t, "input_usd_per_mtok") != def.Input.PerMTok() {
			t.Fatalf("after delete %s", r.raw)
		}
		h.do("DELETE", "/prices/"+def.Model, "").wantError(t, http.StatusNotFound, "model")
	})
	t.Run("BadPricesAre400", func(t *testing.T) {
		for _, tc := range []struct{ body, param string }{
			{`{"output_usd_per_mtok":"1"}`, "input_usd_per_mtok"},
			{`{"input_usd_per_mtok":"1"}`, "output_usd_per_mtok"},
			{`{"input_usd_per_mtok":"-1","output_usd_per_mtok":"1"}`, "input_usd_per_mtok"},
			{`{"input_usd_per_mtok":1e-3,"output_usd_per_mtok":"1"}`, "input_usd_per_mtok"},
			{`{"input_usd_per_mtok":"1","output_usd_per_mtok":"0.0000001"}`, "output_usd_per_mtok"},
			{`{"input_usd_per_mtok":"1","output_usd_per_mtok":"1","cache_write_usd_per_mtok":"x"}`, "cache_write_usd_per_mtok"},
			{`{"input_usd_per_mtok":"1","output_usd_per_mtok":"1","context_window":-5}`, "context_window"},
			{`{"input_usd_per_mtok":"1","output_usd_per_mtok":"1","max_output":"4096"}`, "max_output"},
			{`{"input_usd_per_mtok":"1","output_usd_per_mtok":"1","provider":"x"}`, "provider"},
		} {
			h.do("PUT", "/prices/m", tc.body).wantError(t, http.StatusBadRequest, tc.param)
		}
		h.do("PUT", "/prices/", `{"input_usd_per_mtok":"1","output_usd_per_mtok":"1"}`).wantError(t, http.StatusBadRequest, "model")
		if overrides, _ := h.st.PriceOverrides(context.Background()); len(overrides) != 0 {
			t.Fatalf("a refused price was stored: %+v", overrides)
		}
	})
	t.Run("ReloadFailureSaysPriceIsStored", func(t *testing.T) {
		h.notify.failWith = errors.New("catalog rebuild failed")
		defer func() { h.notify.failWith = nil }()
		r := h.do("PUT", "/prices/stored-anyway", `{"input_usd_per_mtok":"1","output_usd_per_mtok":"2"}`)
		if r.code < 500 || !strings.Contains(r.raw, "was stored") || !strings.Contains(r.raw, "catalog rebuild failed") {
			t.Fatalf("status %d body %s", r.code, r.raw)
		}
		overrides, err := h.st.PriceOverrides(context.Background())
		if err != nil || len(overrides) != 1 || overrides[0].Model != "stored-anyway" {
			t.Fatalf("overrides %+v (%v)", overrides, err)
		}
	})
}

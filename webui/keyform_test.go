package webui

import (
	"errors"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
)

func TestKeyForm(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	t.Run("FullFormRead", func(t *testing.T) {
		f := NewForm("name", "app", "models", "gpt-4o-mini, gpt-4o\nclaude", "budget_usd", "12.5", "expires_at", "2026-02-01")
		nk, err := KeyForm(f, "ten_a", now)
		if err != nil || nk.TenantID != "ten_a" || nk.Name != "app" || len(nk.Models) != 3 || nk.Budget == nil ||
			*nk.Budget != 12_500_000_000 || !nk.ExpiresAt.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("%+v %v", nk, err)
		}
	})
	t.Run("EmptyOptionalFieldsMeanNone", func(t *testing.T) {
		nk, err := KeyForm(NewForm("name", "app"), "ten_a", now)
		if err != nil || nk.Budget != nil || nk.Models != nil || !nk.ExpiresAt.IsZero() {
			t.Fatalf("%+v %v", nk, err)
		}
	})
	for name, c := range map[string]struct {
		form  *Form
		field string
	}{
		"NameRequired":        {NewForm("name", ""), "name"},
		"NameWithoutControls": {NewForm("name", "a\tb"), "name"},
		"BudgetNotANumber":    {NewForm("name", "x", "budget_usd", "ten"), "budget_usd"},
		"BudgetNegative":      {NewForm("name", "x", "budget_usd", "-1"), "budget_usd"},
		"BudgetHuge":          {NewForm("name", "x", "budget_usd", "1000000001"), "budget_usd"},
		"ExpiryInThePast":     {NewForm("name", "x", "expires_at", "2026-01-01"), "expires_at"},
		"ExpiryNotADate":      {NewForm("name", "x", "expires_at", "tomorrow"), "expires_at"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := KeyForm(c.form, "ten_a", now)
			var re *router.RequestError
			if !errors.As(err, &re) || re.Param != c.field || !errors.Is(err, router.ErrInvalidRequest) {
				t.Fatalf("err = %v", err)
			}
			if status := c.form.Fail(err, "name"); status != 400 || c.form.Err(c.field) == "" {
				t.Fatalf("status %d errors %v", status, c.form.Errors)
			}
		})
	}
	t.Run("ParseUSDIsExact", func(t *testing.T) {
		if n, err := ParseUSD("x", "0.000000001"); err != nil || n != 1 {
			t.Fatalf("%d %v", n, err)
		}
		if _, err := ParseUSD("x", "1e3"); err == nil {
			t.Fatal("an exponent was accepted")
		}
		if b, _ := ParseBudget("0"); b == nil || *b != billing.Nanos(0) {
			t.Fatal("a zero budget is not a budget of zero")
		}
	})
}

package admin

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
)

func TestDecimal(t *testing.T) {
	decode := func(t *testing.T, field string) decimal {
		t.Helper()
		var v struct {
			D decimal `json:"d"`
		}
		if err := json.Unmarshal([]byte(`{"d":`+field+`}`), &v); err != nil {
			t.Fatalf("decode %s: %v", field, err)
		}
		return v.D
	}
	t.Run("StringsAndBareNumbersAreExact", func(t *testing.T) {
		for field, want := range map[string]billing.Nanos{
			`"12.5"`: 12_500_000_000, `12.5`: 12_500_000_000, `0.000000001`: 1, `"9223372036.854775807"`: 1<<63 - 1,
			`-3`: -3_000_000_000, `"0"`: 0, `123456789.123456789`: 123_456_789_123_456_789,
		} {
			got, err := decode(t, field).usd("d")
			if err != nil || got != want {
				t.Errorf("%s: got %d (%v), want %d", field, got, err, want)
			}
		}
	})
	t.Run("ErrInvalidRequestNamingField", func(t *testing.T) {
		for _, field := range []string{`1e3`, `"1E3"`, `"1.5e2"`, `"0.0000000001"`, `"abc"`, `"+1"`, `".5"`, `"1."`, `""`, `true`, `[1]`, `{"a":1}`, `"9223372037"`} {
			_, err := decode(t, field).usd("amount_usd")
			var re *router.RequestError
			if !errors.As(err, &re) || !errors.Is(err, router.ErrInvalidRequest) || re.Param != "amount_usd" {
				t.Errorf("%s: want an invalid-request error for amount_usd, got %v", field, err)
			}
		}
	})
	t.Run("NullIsAbsent", func(t *testing.T) {
		if d := decode(t, `null`); d.set {
			t.Fatalf("null decoded as set: %+v", d)
		}
		if d := decode(t, `"1"`); !d.set {
			t.Fatal("a value decoded as absent")
		}
	})
	t.Run("PerMTokIsExactAndNonNegative", func(t *testing.T) {
		if got, err := decode(t, `0.0375`).perMTok("p"); err != nil || got != 37_500 {
			t.Fatalf("0.0375: got %d (%v)", got, err)
		}
		for _, field := range []string{`"-1"`, `"0.0000001"`, `2e1`} {
			if _, err := decode(t, field).perMTok("p"); !errors.Is(err, router.ErrInvalidRequest) {
				t.Errorf("%s: want invalid request, got %v", field, err)
			}
		}
	})
}

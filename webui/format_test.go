package webui

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

func TestUSDText(t *testing.T) {
	for _, c := range []struct {
		in   billing.Nanos
		want string
	}{
		{0, "$0.00"},
		{12_500_000_000, "$12.50"},
		{1_234_567_890_000, "$1,234.57"},
		{4_994_999_999, "$4.99"},
		{4_995_000_000, "$5.00"},
		{10_000_000, "$0.01"},
		{9_999_999, "$0.009999999"},
		{450_000, "$0.00045"},
		{1, "$0.000000001"},
		{-2_500_000_000, "−$2.50"},
		{-1, "−$0.000000001"},
		{1_000_000_000_000_000, "$1,000,000.00"},
	} {
		if got := USD(c.in); got != c.want {
			t.Errorf("USD(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	if h := string(Money(12_500_000_000)); h != `<span class="money" title="12.500000000 USD">$12.50</span>` {
		t.Errorf("Money = %s", h)
	}
	if h := string(Money(-1)); !strings.Contains(h, `class="money neg"`) {
		t.Errorf("negative money is not marked: %s", h)
	}
}

func TestFormatHelpers(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "−45,000"} {
		if got := Int(in); got != want {
			t.Errorf("Int(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0%", 0.0004: "<0.1%", 0.018: "1.8%", 0.25: "25%", 1: "100%"} {
		if got := Percent(in); got != want {
			t.Errorf("Percent(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.4: "0.4 ms", 840: "840 ms", 2400: "2.4 s"} {
		if got := Millis(in); got != want {
			t.Errorf("Millis(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRelativeTime(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-10 * time.Second), "just now"},
		{now.Add(-5 * time.Minute), "5 min ago"},
		{now.Add(-3 * time.Hour), "3 h ago"},
		{now.Add(-72 * time.Hour), "3 days ago"},
		{now.Add(48 * time.Hour), "in 2 days"},
		{time.Date(2025, 1, 2, 15, 4, 0, 0, time.UTC), "Jan 2, 15:04"},
		{time.Date(2023, 1, 2, 15, 4, 0, 0, time.UTC), "Jan 2, 2023"},
	} {
		if got := RelativeTime(c.t, now); got != c.want {
			t.Errorf("RelativeTime(%v) = %q, want %q", c.t, got, c.want)
		}
	}
	h := string(When(time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC).UnixMilli()))
	if !strings.Contains(h, `datetime="2025-01-02T15:04:05Z"`) || !strings.Contains(h, `title="2025-01-02 15:04:05 UTC"`) {
		t.Errorf("When = %s", h)
	}
	if When(int64(0)) != "—" {
		t.Error("a zero time is not a dash")
	}
}

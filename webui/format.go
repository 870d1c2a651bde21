package webui

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// USD writes an amount the way people read money: "$1,234.50", rounded to the
// cent (half away from zero), with amounts under a cent written out exactly
// ("$0.00045") so a small charge never reads as nothing. Integer arithmetic only.
func USD(n billing.Nanos) string {
	neg := n < 0
	mag := uint64(n) // #nosec G115 -- kept only when n >= 0; a negative n is replaced below
	if neg {
		mag = uint64(-(n + 1)) + 1 // #nosec G115 -- n < 0, so -(n+1) is in [0, MaxInt64]
	}
	const cent = uint64(billing.NanosPerUSD) / 100
	var s string
	switch {
	case mag == 0:
		return "$0.00"
	case mag < cent:
		frac := strconv.FormatUint(mag, 10)
		frac = strings.Repeat("0", 9-len(frac)) + frac
		s = "$0." + strings.TrimRight(frac, "0")
	default:
		cents := mag/cent + boolToUint(mag%cent >= cent/2)
		s = fmt.Sprintf("$%s.%02d", groupDigits(strconv.FormatUint(cents/100, 10)), cents%100)
	}
	if neg {
		return "−" + s
	}
	return s
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Money is USD in a span whose tooltip holds the exact amount.
func Money(n billing.Nanos) template.HTML {
	cls := "money"
	if n < 0 {
		cls += " neg"
	}
	// #nosec G203 -- cls is one of two constants and n.String() a decimal number; the text is escaped.
	return template.HTML(`<span class="` + cls + `" title="` + n.String() + ` USD">` + template.HTMLEscapeString(USD(n)) + `</span>`)
}

// groupDigits puts thousands separators into a run of digits.
func groupDigits(d string) string {
	if len(d) <= 3 {
		return d
	}
	var b strings.Builder
	pre := len(d) % 3
	if pre > 0 {
		b.WriteString(d[:pre])
	}
	for i := pre; i < len(d); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d[i : i+3])
	}
	return b.String()
}

// Int writes a count with thousands separators.
func Int(v int64) string {
	if v < 0 {
		return "−" + groupDigits(strconv.FormatInt(-v, 10))
	}
	return groupDigits(strconv.FormatInt(v, 10))
}

// Percent writes a share (0..1) as a percentage an operator can compare:
// "0%", "<0.1%", "2.5%", "100%".
func Percent(r float64) string {
	switch {
	case r <= 0:
		return "0%"
	case r < 0.001:
		return "<0.1%"
	case r >= 1:
		return "100%"
	case r < 0.1:
		return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(r*100, 'f', 0, 64) + "%"
}

// Millis writes a latency: "840 ms", "2.4 s".
func Millis(ms float64) string {
	if ms > 0 && ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
}

// When writes a stored time (Unix ms) or a time.Time as a <time> element that
// reads "5 min ago" for recent times and a date otherwise, with the exact UTC time
// in its tooltip. Zero is "—".
func When(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case int64:
		if x != 0 {
			t = time.UnixMilli(x).UTC()
		}
	case time.Time:
		t = x.UTC()
	}
	if t.IsZero() {
		return "—"
	}
	exact := t.Format("2006-01-02 15:04:05 UTC")
	// #nosec G203 -- both attributes are fixed time layouts (digits, '-', ':', 'T', 'Z', "UTC");
	// the text is escaped.
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `" title="` + exact + `">` +
		template.HTMLEscapeString(RelativeTime(t, time.Now())) + `</time>`)
}

// RelativeTime is how long ago (or until) t is, in the largest sensible unit; past
// a week it is the date and time.
func RelativeTime(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if !future {
			return "just now"
		}
		s = "under a minute"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	case d < 8*24*time.Hour:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	default:
		if t.Year() == now.Year() {
			return t.Format("Jan 2, 15:04")
		}
		return t.Format("Jan 2, 2006")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// StatusClass names the colour class of an HTTP status badge.
func StatusClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "ok"
	case status == 402:
		return "refused"
	case status >= 400 && status < 500:
		return "warn"
	}
	return "bad"
}

package metrics

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sample is one line of the text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape GETs the handler as Prometheus would and parses every sample line.
func scrape(t *testing.T, m *Metrics) []sample {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics Content-Type %q, want the text format", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		head, val, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '}'); i >= 0 {
			head, val, ok = line[:i+1], strings.TrimSpace(line[i+1:]), true
		}
		if !ok {
			t.Fatalf("unparsable line %q", line)
		}
		if name, labels, has := strings.Cut(head, "{"); has {
			s.name = name
			for _, kv := range splitLabels(strings.TrimSuffix(labels, "}")) {
				k, v, _ := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(v)
				if err != nil {
					t.Fatalf("label %q in %q: %v", kv, line, err)
				}
				s.labels[k] = uq
			}
		} else {
			s.name = head
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("value in %q: %v", line, err)
		}
		s.value = f
		out = append(out, s)
	}
	return out
}

// splitLabels splits `a="x",b="y,z"` at the commas between pairs.
func splitLabels(s string) []string {
	var parts []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

// find returns the value of the one sample with this name and these labels (others
// may be present); ok is false when there is none.
func find(samples []sample, name string, labels ...string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				match = false
				break
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

func want(t *testing.T, samples []sample, value float64, name string, labels ...string) {
	t.Helper()
	got, ok := find(samples, name, labels...)
	if !ok {
		t.Fatalf("no sample %s%v in the scrape", name, labels)
	}
	if math.Abs(got-value) > 1e-9 {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, value)
	}
}

func wantAbsent(t *testing.T, samples []sample, name string, labels ...string) {
	t.Helper()
	if v, ok := find(samples, name, labels...); ok {
		t.Fatalf("unexpected sample %s%v = %v", name, labels, v)
	}
}

// sum adds the values of every sample with this name and these labels.
func sum(samples []sample, name string, labels ...string) float64 {
	total := 0.0
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && s.labels[labels[i]] == labels[i+1]
		}
		if match {
			total += s.value
		}
	}
	return total
}

// distinct counts the values one label takes across a metric's samples.
func distinct(samples []sample, name, label string) map[string]bool {
	vals := map[string]bool{}
	for _, s := range samples {
		if s.name == name {
			vals[s.labels[label]] = true
		}
	}
	return vals
}

func TestScrapeShowsObservations(t *testing.T) {
	m := New()
	m.Call("chat", "gpt-4o", "t1", 200, true, 1500*time.Millisecond, 1400*time.Millisecond)
	m.Call("chat", "gpt-4o", "t1", 200, true, 500*time.Millisecond, 499*time.Millisecond)
	m.Call("chat", "gpt-4o", "t1", 402, false, 3*time.Millisecond, 0)
	m.Call("embeddings", "text-embedding-3-small", "t2", 502, false, 2*time.Second, 1990*time.Millisecond)
	m.Usage("gpt-4o", "t1", 100, 50, 1_500_000)
	m.Usage("gpt-4o", "t1", 10, 0, 25)
	m.Attempt("ch-openai", "openai", 200, 300*time.Millisecond)
	m.Attempt("ch-openai", "openai", 429, 10*time.Millisecond)
	m.Attempt("ch-openai", "openai", 0, time.Millisecond)
	m.Attempt("ch-azure", "azure", 503, 20*time.Millisecond)
	m.Attempt("ch-azure", "azure", 402, 20*time.Millisecond)
	m.Attempt("ch-azure", "azure", 504, 30*time.Second)
	m.StoreOp("reserve", 2*time.Millisecond, nil)
	m.StoreOp("settle", 4*time.Millisecond, errors.New("database is locked"))
	m.SetHoldsOutstanding(3, 2_500_000_000)
	m.StreamParked(true)
	m.StreamPark()
	m.StreamParked(true)
	m.StreamPark()
	m.StreamParked(false)
	m.StreamParked(true) // a park that did not happen: not in the total
	m.StreamParked(false)
	m.RateLimited("key", "requests")
	m.RateLimited("key", "requests")
	m.RateLimited("tenant", "tokens")
	s := scrape(t, m)

	t.Run("Calls", func(t *testing.T) {
		want(t, s, 2, "tollgate_calls_total", "endpoint", "chat", "model", "gpt-4o", "status_class", "2xx", "code", "200")
		want(t, s, 1, "tollgate_calls_total", "endpoint", "chat", "model", "gpt-4o", "status_class", "4xx", "code", "402")
		want(t, s, 1, "tollgate_calls_total", "endpoint", "embeddings", "status_class", "5xx", "code", "502")
		want(t, s, 1, "tollgate_payment_required_total", "tenant", "t1", "model", "gpt-4o")
		wantAbsent(t, s, "tollgate_payment_required_total", "tenant", "t2")
	})
	t.Run("Latency", func(t *testing.T) {
		want(t, s, 2, "tollgate_call_duration_seconds_count", "endpoint", "chat", "model", "gpt-4o", "stream", "true")
		want(t, s, 2, "tollgate_call_duration_seconds_sum", "endpoint", "chat", "model", "gpt-4o", "stream", "true")
		want(t, s, 1, "tollgate_call_duration_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "1")
		want(t, s, 2, "tollgate_call_duration_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "2.5")
		want(t, s, 1, "tollgate_call_duration_seconds_count", "endpoint", "chat", "stream", "false")
		// The bucket range a gateway needs: 50µs … 60s.
		want(t, s, 0, "tollgate_call_duration_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "5e-05")
		want(t, s, 2, "tollgate_call_duration_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "60")
	})
	t.Run("OverheadOnlyForCallsThatReachedAnUpstream", func(t *testing.T) {
		want(t, s, 2, "tollgate_gateway_overhead_seconds_count", "endpoint", "chat", "stream", "true")
		want(t, s, 0.101, "tollgate_gateway_overhead_seconds_sum", "endpoint", "chat", "stream", "true")
		want(t, s, 0, "tollgate_gateway_overhead_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "1e-05")
		want(t, s, 1, "tollgate_gateway_overhead_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "0.001")
		want(t, s, 2, "tollgate_gateway_overhead_seconds_bucket", "endpoint", "chat", "stream", "true", "le", "0.1")
		// The 402 never reached an upstream: its whole time is not "overhead".
		want(t, s, 0, "tollgate_gateway_overhead_seconds_count", "endpoint", "chat", "stream", "false")
		want(t, s, 0.01, "tollgate_gateway_overhead_seconds_sum", "endpoint", "embeddings")
	})
	t.Run("UsageAndSpend", func(t *testing.T) {
		want(t, s, 110, "tollgate_tokens_total", "model", "gpt-4o", "tenant", "t1", "kind", "prompt")
		want(t, s, 50, "tollgate_tokens_total", "model", "gpt-4o", "tenant", "t1", "kind", "completion")
		want(t, s, 0.001500025, "tollgate_spend_usd_total", "model", "gpt-4o", "tenant", "t1")
	})
	t.Run("Attempts", func(t *testing.T) {
		for _, c := range []struct{ channel, outcome string }{
			{"ch-openai", "ok"}, {"ch-openai", "rate_limited"}, {"ch-openai", "unreachable"},
			{"ch-azure", "server_error"}, {"ch-azure", "quota"}, {"ch-azure", "timeout"},
		} {
			want(t, s, 1, "tollgate_upstream_attempts_total", "channel", c.channel, "outcome", c.outcome)
		}
		want(t, s, 3, "tollgate_upstream_duration_seconds_count", "channel", "ch-azure", "provider", "azure")
		want(t, s, 2, "tollgate_upstream_duration_seconds_bucket", "channel", "ch-azure", "le", "0.025")
		want(t, s, 3, "tollgate_upstream_duration_seconds_bucket", "channel", "ch-azure", "le", "30")
	})
	t.Run("Store", func(t *testing.T) {
		want(t, s, 1, "tollgate_store_op_seconds_count", "op", "reserve")
		want(t, s, 1, "tollgate_store_op_seconds_bucket", "op", "reserve", "le", "0.0025")
		want(t, s, 1, "tollgate_store_errors_total", "op", "settle")
		wantAbsent(t, s, "tollgate_store_errors_total", "op", "reserve")
	})
	t.Run("HoldsAndRateLimits", func(t *testing.T) {
		want(t, s, 3, "tollgate_holds_outstanding")
		want(t, s, 2.5, "tollgate_holds_outstanding_usd")
		want(t, s, 1, "tollgate_streams_parked")
		want(t, s, 2, "tollgate_stream_parks_total")
		want(t, s, 2, "tollgate_rate_limited_total", "scope", "key", "limit", "requests")
		want(t, s, 1, "tollgate_rate_limited_total", "scope", "tenant", "limit", "tokens")
	})
	t.Run("RuntimeCollectors", func(t *testing.T) {
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
			if _, ok := find(s, name); !ok {
				t.Errorf("%s missing from the scrape", name)
			}
		}
	})

	// Gauges follow the latest value, they do not accumulate.
	m.SetHoldsOutstanding(0, 0)
	s = scrape(t, m)
	want(t, s, 0, "tollgate_holds_outstanding")
	want(t, s, 0, "tollgate_holds_outstanding_usd")
}

// TestCardinalityIsBounded: statuses collapse to known codes and classes, and no
// label dimension grows past its cap, whatever strings reach the observation API.
func TestCardinalityIsBounded(t *testing.T) {
	m := New()
	for _, st := range []int{418, 451, 299, 0, 999, -1, 200, 404} {
		m.Call("chat", "gpt-4o", "t1", st, false, time.Millisecond, 0)
	}
	s := scrape(t, m)
	want(t, s, 2, "tollgate_calls_total", "status_class", "4xx", "code", "other")
	want(t, s, 1, "tollgate_calls_total", "status_class", "2xx", "code", "other")
	want(t, s, 3, "tollgate_calls_total", "status_class", "unknown", "code", "other")
	want(t, s, 1, "tollgate_calls_total", "status_class", "4xx", "code", "404")
	if codes := distinct(s, "tollgate_calls_total", "code"); len(codes) != 3 {
		t.Fatalf("codes %v, want exactly 200, 404 and other", codes)
	}

	for i := range maxTenants + 300 {
		m.Usage("gpt-4o", fmt.Sprintf("tenant-%d", i), 1, 0, 0)
		m.Attempt(fmt.Sprintf("ch-%d", i), "openai", 200, time.Millisecond)
		m.StoreOp(fmt.Sprintf("op-%d", i), time.Millisecond, nil)
	}
	for i := range maxModels + 700 {
		model := fmt.Sprintf("model-%d", i)
		tenant := fmt.Sprintf("late-tenant-%d", i)
		m.Call("chat", model, tenant, 402, false, time.Millisecond, 0)
		m.Usage(model, tenant, 1, 1, 1)
	}
	m.Call("chat", "", "", 200, false, time.Millisecond, 0)
	m.Call("chat", strings.Repeat("x", 500), "", 200, false, time.Millisecond, 0)
	m.Call("chat", "bad\xffutf8", "", 200, false, time.Millisecond, 0)
	s = scrape(t, m)

	for _, c := range []struct {
		metric, label string
		max           int
	}{
		{"tollgate_calls_total", "model", maxModels + 2}, // + "other" + "unknown"
		{"tollgate_tokens_total", "model", maxModels + 1},
		{"tollgate_payment_required_total", "tenant", maxTenants + 1},
		{"tollgate_tokens_total", "tenant", maxTenants + 1},
		{"tollgate_upstream_attempts_total", "channel", maxChannels + 1},
		{"tollgate_store_op_seconds_count", "op", maxOps + 1},
	} {
		vals := distinct(s, c.metric, c.label)
		if len(vals) > c.max {
			t.Errorf("%s has %d distinct %s values, want ≤ %d", c.metric, len(vals), c.label, c.max)
		}
		if !vals[valueOther] {
			t.Errorf("%s: values past the cap were not folded into %q", c.metric, valueOther)
		}
	}
	// The first values seen keep their own series; "" is "unknown"; junk is "other".
	want(t, s, 1, "tollgate_calls_total", "model", "model-0", "code", "402")
	want(t, s, 1, "tollgate_calls_total", "model", "unknown", "code", "200")
	if _, ok := find(s, "tollgate_calls_total", "model", strings.Repeat("x", 500)); ok {
		t.Error("a 500-byte model name became a label value")
	}
	// Folding loses no counts: every call is somewhere.
	if total, want := sum(s, "tollgate_calls_total"), float64(8+maxModels+700+3); total != want {
		t.Errorf("calls_total sums to %v, want %v", total, want)
	}
}

// TestPrivateRegistry: two Metrics coexist (the global default registry would panic
// on the second registration) and neither leaks into the other or the default.
func TestPrivateRegistry(t *testing.T) {
	a, b := New(), New()
	a.RateLimited("key", "requests")
	if _, ok := find(scrape(t, b), "tollgate_rate_limited_total"); ok {
		t.Fatal("an observation on one Metrics shows in another's scrape")
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "tollgate_") {
			t.Fatalf("%s registered on the global default registry", mf.GetName())
		}
	}
	if a.Registry() == b.Registry() {
		t.Fatal("two Metrics share a registry")
	}
}

// TestNilMetricsIsANoop lets the gateway run without metrics (tests, embedding).
func TestNilMetricsIsANoop(t *testing.T) {
	var m *Metrics
	m.Call("chat", "m", "t", 200, false, time.Second, time.Second)
	m.Usage("m", "t", 1, 1, 1)
	m.Attempt("c", "p", 200, time.Second)
	m.StoreOp("op", time.Second, errors.New("x"))
	m.SetHoldsOutstanding(1, 1)
	m.RateLimited("key", "requests")
}

// TestOddInputsDoNotPanic: counters panic on negative adds in client_golang; the
// API must absorb what a buggy caller might pass.
func TestOddInputsDoNotPanic(t *testing.T) {
	m := New()
	m.Usage("m", "t", -5, -1, -100)
	m.Call("chat", "m", "t", 200, false, time.Millisecond, time.Second) // upstream > total
	m.Attempt("c", "p", 200, -time.Second)
	s := scrape(t, m)
	wantAbsent(t, s, "tollgate_tokens_total")
	wantAbsent(t, s, "tollgate_spend_usd_total")
	want(t, s, 0, "tollgate_gateway_overhead_seconds_sum", "endpoint", "chat")
}

func TestConcurrentObservations(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				m.Call("chat", fmt.Sprintf("model-%d", i%7), "t", 200+g%2*229, g%2 == 0, time.Millisecond, time.Microsecond)
				m.Usage(fmt.Sprintf("model-%d", i%7), "t", 1, 2, 3)
			}
		})
	}
	wg.Wait()
	s := scrape(t, m)
	if total := sum(s, "tollgate_calls_total"); total != 16*500 {
		t.Fatalf("calls_total sums to %v after 8000 concurrent calls", total)
	}
	if n := sum(s, "tollgate_calls_total", "code", "429"); n != 8*500 {
		t.Fatalf("%v calls counted as 429, want %d", n, 8*500)
	}
	if n := sum(s, "tollgate_tokens_total", "kind", "completion"); n != 2*16*500 {
		t.Fatalf("%v completion tokens counted, want %d", n, 2*16*500)
	}
}

func BenchmarkCall(b *testing.B) {
	m := New()
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Call("chat", "gpt-4o-mini", "tenant-1", 200, true, 850*time.Millisecond, 840*time.Millisecond)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Call("chat", "gpt-4o-mini", "tenant-1", 200, true, 850*time.Millisecond, 840*time.Millisecond)
			}
		})
	})
	b.Run("PaymentRequired", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Call("chat", "gpt-4o-mini", "tenant-1", 402, false, time.Millisecond, 0)
		}
	})
}

package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/metrics"
)

func TestMetricsAndOverheadHeader(t *testing.T) {
	m := metrics.New()
	h := newHarness(t, usd, func(c *Config) { c.Metrics = m })
	poor := newHarness(t, 10, func(c *Config) { c.Metrics = m })

	resp, _ := h.post("/v1/chat/completions", chatBody(nil))
	overhead, err := strconv.ParseFloat(resp.Header.Get(OverheadHeader), 64)
	if resp.StatusCode != 200 || err != nil || overhead <= 0 || overhead > 1000 {
		t.Fatalf("overhead header %q on a plain answer", resp.Header.Get(OverheadHeader))
	}
	if resp, _ := poor.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 402 || resp.Header.Get(OverheadHeader) == "" {
		t.Fatalf("a refusal must carry the overhead too: %v", resp.Header)
	}
	// Streams: a header until the first byte, and a trailer for the whole call.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+h.key)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(sresp.Body)
	sresp.Body.Close()
	if sresp.Header.Get(OverheadHeader) == "" || sresp.Trailer.Get(OverheadHeader) == "" {
		t.Fatalf("stream overhead header %q trailer %q", sresp.Header.Get(OverheadHeader), sresp.Trailer.Get(OverheadHeader))
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`tollgate_calls_total{code="200",endpoint="chat",model="test-model",status_class="2xx"} 2`,
		`tollgate_payment_required_total{model="test-model",tenant="` + poor.tenant.ID + `"} 1`,
		`tollgate_tokens_total{kind="completion",model="test-model",tenant="` + h.tenant.ID + `"}`,
		`tollgate_upstream_attempts_total{channel="` + h.channel.ID + `",outcome=`,
		`tollgate_gateway_overhead_seconds_count{endpoint="chat",stream="true"} 1`,
		`tollgate_store_op_seconds_count{op="reserve"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, h.key) || strings.Contains(body, "sk-upstream-secret") {
		t.Fatal("a secret in the metrics")
	}
}

package router

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestPrivateAddr(t *testing.T) {
	for addr, private := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"::1": true, "fd00:ec2::254": true, "fe80::1": true, "100.64.0.1": true, "0.0.0.0": true, "::ffff:127.0.0.1": true,
		"100.100.100.200": true, "8.8.8.8": false, "2606:4700::1111": false, "104.18.6.192": false,
	} {
		if got := PrivateAddr(netip.MustParseAddr(addr)); got != private {
			t.Errorf("PrivateAddr(%s) = %v, want %v", addr, got, private)
		}
	}
	for host, bad := range map[string]bool{"localhost": true, "api.localhost": true, "10.0.0.1": true, "api.openai.com": false, "8.8.8.8": false} {
		if got := CheckUpstreamHost(host) != nil; got != bad {
			t.Errorf("CheckUpstreamHost(%s) refused=%v, want %v", host, got, bad)
		}
	}
}

// TestPrivateUpstreamRefusedAtDial: with private upstreams not allowed, a channel that
// points at a loopback address (however it got there) is never dialled.
func TestPrivateUpstreamRefusedAtDial(t *testing.T) {
	h := newHarness(t, usd, func(c *Config) { c.AllowPrivateUpstreams = false })
	resp, body := h.post("/v1/chat/completions", chatBody(nil))
	if resp.StatusCode != http.StatusBadGateway || *errorOf(t, body).Code != "upstream_unreachable" {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if h.upstream.CallCount() != 0 {
		t.Fatal("a private upstream was reached")
	}
	if w := h.wallet(); w.Balance != usd || w.Held != 0 {
		t.Fatalf("charged: %+v", w)
	}
	rec := h.calls()[0]
	if len(rec.Attempts) != 1 || !strings.Contains(rec.Attempts[0].Error, "private") {
		t.Fatalf("the request log must say why: %+v", rec.Attempts)
	}
}

package router

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/tollgate-gw/tollgate/internal/h1"
	"github.com/tollgate-gw/tollgate/internal/netwatch"
)

// ErrPrivateUpstream refuses an upstream address inside a private, loopback,
// link-local or cloud-metadata range: an operator (or an attacker who got into the
// admin API) must not be able to turn the gateway into a proxy into its own network.
var ErrPrivateUpstream = errors.New("upstream address is private")

// metadataAddrs are cloud instance-metadata endpoints outside the ranges below.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack (link-local anyway)
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// PrivateAddr reports whether an address must not be an upstream unless the
// operator allows private upstreams.
func PrivateAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, m := range metadataAddrs {
		if a == m {
			return true
		}
	}
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// CheckUpstreamHost refuses a host that is literally a private address (or
// "localhost"). Names are checked again at every connection, after DNS.
func CheckUpstreamHost(host string) error {
	if host == "localhost" || len(host) > len(".localhost") && host[len(host)-len(".localhost"):] == ".localhost" {
		return fmt.Errorf("%w: %s", ErrPrivateUpstream, host)
	}
	if a, err := netip.ParseAddr(host); err == nil && PrivateAddr(a) {
		return fmt.Errorf("%w: %s", ErrPrivateUpstream, host)
	}
	return nil
}

// publicOnly is a dialer Control hook: it runs after DNS, on the address actually
// dialled, so neither DNS rebinding nor a redirect can reach a private address.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrPrivateUpstream, address)
	}
	if PrivateAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s (set TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=true to allow it)", ErrPrivateUpstream, ap.Addr())
	}
	return nil
}

// TrustUpstreamCAs makes an upstream client from NewUpstreamClientFor trust the
// certificate authorities in pemCerts besides the system's: channels served by an
// in-house host behind a private CA. HTTP/2 stays on.
func TrustUpstreamCAs(c *http.Client, pemCerts []byte) error {
	t, ok := HTTPTransport(c)
	if !ok {
		return errors.New("upstream client has no *http.Transport")
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemCerts) {
		return errors.New("no PEM certificate to trust")
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
}

// NewUpstreamClient is NewUpstreamClientFor(true): for tools that call channels the
// operator configured by hand (tests, diagnostics).
func NewUpstreamClient() *http.Client { return NewUpstreamClientFor(true) }

// NewUpstreamClientFor is the HTTP client adapters share: pooled keep-alive
// connections to each upstream, no overall timeout (each call's context bounds it),
// redirects not followed (an API answering 3xx is misconfigured, and a redirect could
// point anywhere), and — unless allowPrivate — connections only to public addresses.
//
// Plain-HTTP upstreams are served by h1.Transport, on the caller's goroutine; HTTPS
// and proxied ones by a *http.Transport (HTTP/2 where the host speaks it).
func NewUpstreamClientFor(allowPrivate bool) *http.Client {
	const maxIdlePerHost, idleTimeout = 256, 90 * time.Second
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.IdleConnTimeout = idleTimeout
	t.ResponseHeaderTimeout = 0
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = publicOnly
	}
	t.DialContext = d.DialContext
	plain := &h1.Transport{Dial: d.DialContext, Fallback: t, MaxIdlePerHost: maxIdlePerHost, IdleTimeout: idleTimeout,
		WatchReadable: watchReadable}
	return &http.Client{Transport: plain, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// HTTPTransport returns the *http.Transport of an upstream client from
// NewUpstreamClientFor, the one that serves HTTPS and proxied requests and holds the
// TLS and proxy settings of both.
func HTTPTransport(c *http.Client) (*http.Transport, bool) {
	switch t := c.Transport.(type) {
	case *http.Transport:
		return t, true
	case *h1.Transport:
		return t.Fallback, true
	}
	return nil, false
}

// watchReadable lets streams over plain-HTTP channels park (detach.go).
func watchReadable(nc net.Conn, wake func()) (func() bool, bool) {
	w, ok := netwatch.OnReadable(nc, wake)
	if !ok {
		return nil, false
	}
	return func() bool { _, waiting := w.Stop(); return waiting }, true
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// The reference relay: Go's own reverse proxy, with no auth, no parsing and no
// billing, in a process of its own between the same client and fake. What it adds
// to a call is what any relaying process adds on this host at this moment, so the
// gateway's added latency can be read against it on a machine of any speed.

// relayEnv, when set in the environment, makes the benchmark binary serve as the
// reference relay in front of the upstream it names, instead of benchmarking.
const relayEnv = "TOLLGATE_BENCH_RELAY_TO"

// serveRelay relays every request to upstream (http://host:port) until SIGTERM,
// flushing each read of an answer at once, as a streaming proxy must.
func serveRelay(upstream string) error {
	target, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	// #nosec G704 -- the benchmark points it at the fake upstream it started on loopback
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	proxy.ErrorLog = log.New(os.Stderr, "reference relay: ", 0)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}
	proxy.Transport = transport
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read first, as a gateway does to route a call. Streamed on by
		// the proxy instead, its last read could come after the answer began, when
		// net/http refuses it, and the proxy would drop the upstream connection.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("reference relay listening on http://%s/v1\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	fmt.Printf("upstream connections dialled: %d\n", dials.Load())
	return nil
}

// startRelay runs this binary as the reference relay in front of fakeURL (…/v1) and
// returns the relay's base URL (…/v1).
func startRelay(dir, fakeURL string) (*process, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	upstream, err := url.Parse(fakeURL)
	if err != nil {
		return nil, "", err
	}
	upstream.Path = ""
	const name = "reference-relay"
	p, err := start(name, self, filepath.Join(dir, name+".log"), []string{relayEnv + "=" + upstream.String()})
	if err != nil {
		return nil, "", err
	}
	return p.waitForURL()
}

package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTransport() *Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	fb := &http.Transport{DialContext: d.DialContext}
	return &Transport{Dial: d.DialContext, Fallback: fb, MaxIdlePerHost: 4, IdleTimeout: time.Minute}
}

// countingServer is an httptest server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	return countingServerIdle(t, 0, h)
}

// countingServerIdle is countingServer closing connections idle for idle (0: never).
func countingServerIdle(t *testing.T, idle time.Duration, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.IdleTimeout = idle
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func get(t *testing.T, c *http.Client, method, u, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestRequestAndAnswerAreExact(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Method+" "+r.URL.RequestURI()+" "+r.Host+" "+r.Header.Get("Authorization")+" "+fmt.Sprint(r.ContentLength))
		w.WriteHeader(http.StatusCreated)
		w.Write(b)
	})
	c := &http.Client{Transport: newTransport()}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat?x=1", strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if resp.StatusCode != 201 || string(b) != `{"a":1}` || resp.Header.Get("X-Echo") != "POST /v1/chat?x=1 "+host+" Bearer k 7" {
		t.Fatalf("got %d %q %q", resp.StatusCode, b, resp.Header.Get("X-Echo"))
	}
}

// A body read to its end keeps answering io.EOF, and one closed early refuses reads.
func TestBodyAfterItsEnd(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := &http.Client{Transport: newTransport()}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("%q, %v", b, err)
	}
	if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v; want 0, io.EOF", n, err)
	}
	resp.Body.Close()
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 8)); err != errClosedBody {
		t.Fatalf("read after Close: %v", err)
	}
}

func TestKeepAliveReusesOneConnection(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := &http.Client{Transport: newTransport()}
	for i := 0; i < 5; i++ {
		if code, body, _ := get(t, c, "POST", srv.URL, "x"); code != 200 || body != "ok" {
			t.Fatalf("call %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 sequential calls used %d connections, want 1", n)
	}
}

// An idle connection the upstream closed (its keep-alive timeout) is noticed before
// a request is written on it: the call goes out on a new connection and succeeds.
func TestIdleConnectionClosedByPeerIsNotUsed(t *testing.T) {
	srv, conns := countingServerIdle(t, 50*time.Millisecond, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := &http.Client{Transport: newTransport()}
	get(t, c, "POST", srv.URL, "x")
	time.Sleep(300 * time.Millisecond) // the server has closed the idle connection
	if code, body, _ := get(t, c, "POST", srv.URL, "x"); code != 200 || body != "ok" {
		t.Fatalf("after the idle close: %d %q", code, body)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

func TestConnectionCloseAnswerIsNotReused(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: newTransport()}
	for i := 0; i < 3; i++ {
		get(t, c, "POST", srv.URL, "x")
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections for 3 calls answered with Connection: close, want 3", n)
	}
}

// A body closed before its end leaves the connection mid-answer: it is closed, and
// the next call does not read the rest of the old answer.
func TestBodyClosedEarlyClosesTheConnection(t *testing.T) {
	long := strings.Repeat("a", 100000)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			io.WriteString(w, long)
			return
		}
		io.WriteString(w, "short")
	})
	c := &http.Client{Transport: newTransport()}
	resp, err := c.Post(srv.URL+"/long", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(resp.Body, buf)
	resp.Body.Close()
	if _, body, _ := get(t, c, "POST", srv.URL+"/short", ""); body != "short" {
		t.Fatalf("the next call read %q", body[:min(len(body), 20)])
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// A streamed answer is read as it arrives: the first chunk before the upstream
// sends the second.
func TestStreamedAnswerArrivesChunkByChunk(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
	})
	defer close(release)
	c := &http.Client{Transport: newTransport()}
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}

// Cancelling the call wakes a read blocked on a silent upstream, with the context's
// error, and the connection is not pooled.
func TestCancelWakesABlockedRead(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := &http.Client{Transport: newTransport()}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	resp.Body.Close()
	if _, body, _ := get(t, c, "GET", srv.URL+"/ok", ""); body != "ok" {
		t.Fatalf("next call: %q", body)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the cancelled one not reused)", n)
	}
}

// A call cancelled before its answer arrives returns the context's error.
func TestCancelBeforeTheAnswer(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leave
		<-r.Context().Done()
	})
	c := &http.Client{Transport: newTransport()}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("x"))
	_, err := c.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

// rawServer answers each connection with fixed bytes after reading one request.
func rawServer(t *testing.T, answer string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestInterimAnswersAreSkipped(t *testing.T) {
	u := rawServer(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := &http.Client{Transport: newTransport()}
	if code, body, _ := get(t, c, "POST", u, "x"); code != 200 || body != "ok" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestMalformedAnswerIsAnError(t *testing.T) {
	u := rawServer(t, "SMTP ready\r\n\r\n")
	c := &http.Client{Transport: newTransport()}
	req, _ := http.NewRequest("POST", u, strings.NewReader("x"))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a malformed answer was accepted")
	}
}

// A body the transport could not send is closed, as http.RoundTripper requires.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestDialFailureClosesTheRequestBody(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", "http://"+addr, body)
	if _, err := newTransport().RoundTrip(req); err == nil {
		t.Fatal("dialling a closed port succeeded")
	}
	if !body.closed.Load() {
		t.Fatal("the request body was not closed")
	}
}

func TestHTTPSGoesToTheFallback(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	defer srv.Close()
	tr := newTransport()
	tr.Fallback = srv.Client().Transport.(*http.Transport)
	if _, body, _ := get(t, &http.Client{Transport: tr}, "GET", srv.URL, ""); body != "HTTP/1.1" {
		t.Fatalf("got %q", body)
	}
}

func TestProxiedRequestsGoToTheFallback(t *testing.T) {
	var proxied sync.Map
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.URL.String(), true) // a proxy sees the absolute URL
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	tr := newTransport()
	pu, _ := url.Parse(proxy.URL)
	tr.Fallback.Proxy = http.ProxyURL(pu)
	if _, body, _ := get(t, &http.Client{Transport: tr}, "GET", "http://upstream.example/v1/x", ""); body != "via proxy" {
		t.Fatalf("got %q", body)
	}
	if _, ok := proxied.Load("http://upstream.example/v1/x"); !ok {
		t.Fatal("the proxy did not see the request")
	}
}

func TestIdleConnectionsExpireAndThePoolIsBounded(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // keeps the calls below concurrent
		io.WriteString(w, "ok")
	})
	tr := newTransport()
	tr.MaxIdlePerHost = 2
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, c, "POST", srv.URL, "x") }()
	}
	wg.Wait()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tr.mu.Lock()
	pooled := len(tr.idle[addr])
	tr.mu.Unlock()
	if conns.Load() != 4 || pooled != 2 {
		t.Fatalf("%d connections, %d pooled; want 4 and 2", conns.Load(), pooled)
	}
	tr.IdleTimeout = time.Nanosecond
	get(t, c, "POST", srv.URL, "x")
	if n := conns.Load(); n != 5 {
		t.Fatalf("%d connections; an expired idle connection was reused", n)
	}
	tr.CloseIdleConnections()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.idle) != 0 {
		t.Fatalf("idle connections left after CloseIdleConnections: %v", tr.idle)
	}
}

// BenchmarkRoundTrip compares a small JSON call over a kept-alive connection through
// Transport and through net/http's Transport.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","usage":{"prompt_tokens":9,"completion_tokens":12}}`)
	}))
	defer srv.Close()
	body := strings.Repeat("x", 1500)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"h1", newTransport()}, {"net-http", &http.Transport{MaxIdleConnsPerHost: 4}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: tc.rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Post(srv.URL, "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

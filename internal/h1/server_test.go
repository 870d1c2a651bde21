package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/netwatch"
)

// start serves h on a loopback port as tollgate serve does, and returns its URL.
func start(t *testing.T, h http.Handler, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Serves: servesV1, Fallback: &http.Server{Handler: h}, WatchHangUp: watchHangUp,
		BaseContext:       context.Background(),
		ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, WriteTimeout: time.Minute,
		ErrorLog: log.New(io.Discard, "", 0)}
	for _, o := range opts {
		o(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// watchHangUp is the gateway's hang-up watch (router.WatchHangUp).
func watchHangUp(c net.Conn, onHangUp func()) (func(), bool) {
	w, ok := netwatch.OnHangUpPolled(c, onHangUp)
	return func() { w.Stop() }, ok
}

// byNetHTTP reports whether net/http's server is serving r (its context carries
// the server; this server's does not).
func byNetHTTP(r *http.Request) bool { return r.Context().Value(http.ServerContextKey) != nil }

// answer is what a client sees of a response, minus Date.
type answer struct {
	Status           int
	Header, Trailer  http.Header
	Body             string
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	Reused           bool // the request went on a connection kept from before
}

func fetch(t *testing.T, c *http.Client, method, url, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body == "" {
		req.Body = nil
	}
	reused := false
	req = req.WithContext(httptrace.WithClientTrace(req.Context(),
		&httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Del("Date")
	return answer{resp.StatusCode, resp.Header, resp.Trailer, string(b), resp.ContentLength, resp.TransferEncoding, resp.Close, reused}
}

// TestAnswersAsNetHTTP serves the same handlers here and on net/http and expects
// the same answers: framing, sniffed types, trailers, bodiless statuses.
func TestAnswersAsNetHTTP(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1000)
	handlers := map[string]http.HandlerFunc{
		"small JSON": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		},
		"sniffed": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html><body>hi")) },
		"empty":   func(w http.ResponseWriter, r *http.Request) {},
		"status only": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPaymentRequired)
		},
		"no content": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusNoContent)
			_, _ = w.Write([]byte("nope"))
		},
		"not modified": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotModified)
		},
		"large": func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, big) },
		"declared length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			_, _ = io.WriteString(w, big)
		},
		"flushed stream with trailer": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("X-Overhead", "0.1")
			w.Header().Add("Trailer", "X-Overhead")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Overhead", "0.2")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		},
		"header changed after WriteHeader": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-A", "before")
			w.WriteHeader(http.StatusCreated)
			w.Header().Set("X-A", "after")
			w.Header().Set("X-B", "after")
			_, _ = io.WriteString(w, "body")
		},
		"odd header values": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Bad Name"] = []string{"dropped"}
			w.Header().Set("X-Newline", "a\r\nb")
			w.Header().Set("X-Spaces", "  padded  ")
			w.WriteHeader(599)
		},
		"connection close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		},
		"echo": func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s %q %q %d", r.Method, r.URL, r.Host, r.Header.Get("X-In"), b, r.ContentLength)
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			lean := false
			_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				lean = !byNetHTTP(r)
				h(w, r)
			}))
			ref := httptest.NewServer(h)
			defer ref.Close()
			// One client per server, so the second request shows whether the
			// connection was kept.
			leanClient := &http.Client{Transport: &http.Transport{}}
			refClient := &http.Client{Transport: &http.Transport{}}
			for _, method := range []string{"GET", "POST"} {
				body := ""
				if method == "POST" {
					body = `{"in":1}`
				}
				got := fetch(t, leanClient, method, url+"/v1/x?q=1", body)
				want := fetch(t, refClient, method, ref.URL+"/v1/x?q=1", body)
				if !lean {
					t.Fatal("served by net/http")
				}
				if name == "echo" { // the hosts differ by port
					got.Body = strings.Replace(got.Body, strings.TrimPrefix(url, "http://"), "H", 1)
					want.Body = strings.Replace(want.Body, strings.TrimPrefix(ref.URL, "http://"), "H", 1)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s\n got %+v\nwant %+v", method, got, want)
				}
			}
		})
	}
}

// TestOddRequestsGoToNetHTTP: whatever the fast path does not read is served by
// net/http, on the same connection, with the bytes already read.
func TestOddRequestsGoToNetHTTP(t *testing.T) {
	var lean atomic.Bool
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lean.Store(!byNetHTTP(r))
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	addr := strings.TrimPrefix(url, "http://")
	for _, tc := range []struct{ name, raw, status, body string }{
		{"chunked upload", "POST /v1/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "200", "POST /v1/x {}"},
		{"HTTP/1.0", "GET /v1/x HTTP/1.0\r\n\r\n", "200", "GET /v1/x "},
		{"dashboard", "GET /admin/ HTTP/1.1\r\nHost: h\r\n\r\n", "200", "GET /admin/ "},
		{"malformed", "GET /v1/x HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", "400", ""},
		{"no Host", "GET /v1/x HTTP/1.1\r\n\r\n", "400", ""},
		{"large head", "GET /v1/x HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 3*headBufferSize) + "\r\n\r\n", "200", "GET /v1/x "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lean.Store(true)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if fmt.Sprint(resp.StatusCode) != tc.status || (tc.body != "" && string(b) != tc.body) {
				t.Fatalf("%d %q, want %s %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if tc.status == "200" && lean.Load() {
				t.Fatal("served by the fast path")
			}
		})
	}
}

// exchange sends raw on a new connection to url and reads one answer per body in
// wants, in order, each expected to carry that body. It returns the reader, for
// what follows.
func exchange(t *testing.T, url, raw string, wants ...string) *bufio.Reader {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, want := range wants {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, b, want)
		}
	}
	return br
}

// TestKeepAliveAndPipelining: requests sent together are answered in order on one
// connection, with their bodies apart.
func TestKeepAliveAndPipelining(t *testing.T) {
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%s", r.URL.Path, b)
	}))
	br := exchange(t, url, "POST /v1/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nonePOST /v1/b HTTP/1.1\r\nHost: h\r\n"+
		"Content-Length: 3\r\n\r\ntwoGET /v1/c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "/v1/a:one", "/v1/b:two", "/v1/c:")
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close the server should close; read %v", err)
	}
}

// TestHangUpCancelsALongCall: the request's context ends when the client leaves in
// the middle of a call that runs past watchAfter, as with net/http.
func TestHangUpCancelsALongCall(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		select {
		case <-r.Context().Done():
			cancelled <- time.Since(t0)
		case <-time.After(10 * time.Second):
			cancelled <- -1
		}
	}))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /v1/slow HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(500 * time.Millisecond) // past watchAfter: under the watch
	hungUp := time.Now()
	_ = c.Close()
	if d := <-cancelled; d < 0 {
		t.Fatal("the call ran on after its client left")
	}
	if d := time.Since(hungUp); d > 2*time.Second {
		t.Fatalf("cancelled %v after the hang-up", d)
	}
}

// TestHangUpEarlyIsNoticedOnceWatched: a client that leaves before the watch
// begins is noticed when it begins.
func TestHangUpEarlyIsNoticedOnceWatched(t *testing.T) {
	cancelled := make(chan bool, 1)
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(5 * time.Second):
			cancelled <- false
		}
	}))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /v1/slow HTTP/1.1\r\nHost: h\r\n\r\n")
	_ = c.Close()
	if !<-cancelled {
		t.Fatal("the call ran on after its client left")
	}
}

// TestPipelinedRequestDoesNotCancel: a request sent early, while the one before it
// runs under the hang-up watch, is not taken for a hang-up.
func TestPipelinedRequestDoesNotCancel(t *testing.T) {
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			select {
			case <-r.Context().Done():
				http.Error(w, "cancelled", http.StatusInternalServerError)
				return
			case <-time.After(3 * watchAfter):
			}
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	exchange(t, url, "GET /v1/slow HTTP/1.1\r\nHost: h\r\n\r\nGET /v1/next HTTP/1.1\r\nHost: h\r\n\r\n", "/v1/slow", "/v1/next")
}

// TestHijackAndReturn: a handler takes the connection over, answers, and hands it
// back; the client's next request is served on it.
func TestHijackAndReturn(t *testing.T) {
	var s *Server
	s, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/hijack" {
			_, _ = io.WriteString(w, "served again")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first part,")
		w.(http.Flusher).Flush()
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if brw.Reader.Buffered() != 0 {
			t.Error("the next request was not sent yet")
		}
		go func() {
			_, _ = io.WriteString(nc, "c\r\n second part\r\n0\r\n\r\n")
			s.Return(nc)
		}()
	}))
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	if a := fetch(t, c, "GET", url+"/v1/hijack", ""); a.Body != "first part, second part" {
		t.Fatalf("%+v", a)
	}
	if a := fetch(t, c, "GET", url+"/v1/next", ""); a.Body != "served again" {
		t.Fatalf("%+v", a)
	}
}

// hijackThenReturn answers /v1/hijack by taking the connection over, writing the
// answer itself and handing the connection back (*s) with what it read of the
// client's next request, as a parked stream does; other paths answer "then
// <path>". seen, if set, sees every request.
func hijackThenReturn(t *testing.T, s **Server, seen func(*http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		if r.URL.Path != "/v1/hijack" {
			_, _ = io.WriteString(w, "then "+r.URL.Path)
			return
		}
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		early := make([]byte, brw.Reader.Buffered())
		_, _ = io.ReadFull(brw.Reader, early)
		_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
		(*s).Return(WithPrefix(nc, early))
	}
}

// TestReturnWithTheNextRequest: a hijacker that read the client's next request
// along with the connection returns both, and the request is served.
func TestReturnWithTheNextRequest(t *testing.T) {
	var s *Server
	s, url := start(t, hijackThenReturn(t, &s, nil))
	exchange(t, url, "GET /v1/hijack HTTP/1.1\r\nHost: h\r\n\r\nGET /v1/second HTTP/1.1\r\nHost: h\r\n\r\n", "first", "then /v1/second")
}

// TestRefusedUploadKeepsItsAnswer: a handler that answers without reading a large
// body gets its answer to the client, and the connection then closes.
func TestRefusedUploadKeepsItsAnswer(t *testing.T) {
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	a := fetch(t, &http.Client{}, "POST", url+"/v1/upload", strings.Repeat("x", 4<<20))
	if a.Status != http.StatusRequestEntityTooLarge || !a.Close {
		t.Fatalf("%+v", a)
	}
	// A small body left unread is read past, and the connection kept.
	a = fetch(t, &http.Client{}, "POST", url+"/v1/upload", "small")
	if a.Status != http.StatusRequestEntityTooLarge || a.Close {
		t.Fatalf("%+v", a)
	}
}

// TestPanicClosesTheConnection: a panic that escapes the handler ends its
// connection only; net/http's ErrAbortHandler is silent.
func TestPanicClosesTheConnection(t *testing.T) {
	logged := &lockedBuffer{}
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/abort":
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/v1/panic":
			panic("bug")
		}
		_, _ = io.WriteString(w, "fine")
	}), func(s *Server) { s.ErrorLog = log.New(logged, "", 0) })
	for _, path := range []string{"/v1/abort", "/v1/panic"} {
		resp, err := http.Get(url + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("%s: the answer looked whole", path)
		}
	}
	if a := fetch(t, &http.Client{}, "GET", url+"/v1/ok", ""); a.Body != "fine" {
		t.Fatalf("%+v", a)
	}
	if out := logged.String(); !strings.Contains(out, "panic serving") || !strings.Contains(out, "bug") ||
		strings.Count(out, "panic serving") != 1 {
		t.Fatalf("log: %q (one panic logged, the abort silent)", out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestShutdownWaitsForCalls: Shutdown closes idle connections at once, lets a call
// in flight finish (its answer says Connection: close), and stops accepting.
func TestShutdownWaitsForCalls(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	}))
	// A kept-alive connection, idle after one request, is closed at once.
	idle, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(idle, "GET /v1/first HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	idleReader := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleReader, nil); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(resp.Body); string(b) != "done" {
		t.Fatalf("%q", b)
	}
	answered := make(chan answer, 1)
	go func() { answered <- fetch(t, &http.Client{}, "GET", url+"/v1/slow", "") }()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if _, err := idleReader.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed: %v", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a call in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if a := <-answered; a.Body != "done" || !a.Close {
		t.Fatalf("%+v", a)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
		t.Fatal("still accepting")
	}
}

// TestShutdownServesANewConnectionsRequest: a client that connected just before
// Shutdown and sends its request a moment later is answered, not cut off (as
// net/http does); a new connection that stays silent is closed after
// newConnGrace.
func TestShutdownServesANewConnectionsRequest(t *testing.T) {
	grace := newConnGrace
	newConnGrace = 300 * time.Millisecond
	t.Cleanup(func() { newConnGrace = grace })
	s, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "served "+r.URL.Path)
	}))
	dial := func() net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	late, silent := dial(), dial()
	// Both are accepted and waiting for their first request before Shutdown begins.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections accepted, want 2", n)
		}
	}
	began := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	if _, err := io.WriteString(late, "GET /v1/late HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatalf("the request sent after Shutdown began got no answer: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "served /v1/late" || !resp.Close {
		t.Fatalf("%q, close %v", b, resp.Close)
	}
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the silent connection was not closed: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < newConnGrace {
		t.Fatalf("Shutdown returned after %v, before the silent connection's grace of %v", waited, newConnGrace)
	}
}

// TestWithoutAWatchNetHTTPServesAll: with no hang-up watch (no epoll, or the
// gateway's --lean-http=false) every request is net/http's, a connection a handler
// hijacked and returned included.
func TestWithoutAWatchNetHTTPServesAll(t *testing.T) {
	var leanSeen atomic.Bool
	var s *Server
	s, url := start(t, hijackThenReturn(t, &s, func(r *http.Request) {
		if !byNetHTTP(r) {
			leanSeen.Store(true)
		}
	}), func(s *Server) { s.WatchHangUp = nil })
	exchange(t, url, "GET /v1/hijack HTTP/1.1\r\nHost: h\r\n\r\nGET /v1/second HTTP/1.1\r\nHost: h\r\n\r\n", "first", "then /v1/second")
	if leanSeen.Load() {
		t.Fatal("a request was read by the lean server")
	}
}

// TestSlowBodyOutlivesTheHeadDeadline: the head's deadline does not bound the body;
// ReadTimeout does, and without one a body may take its time (net/http's rules).
func TestSlowBodyOutlivesTheHeadDeadline(t *testing.T) {
	_, url := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(b)
	}), func(s *Server) { s.ReadHeaderTimeout, s.ReadTimeout = 200*time.Millisecond, 0 })
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "POST /v1/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
	time.Sleep(600 * time.Millisecond)
	_, _ = io.WriteString(c, "world")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "helloworld" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

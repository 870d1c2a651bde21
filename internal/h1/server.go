// The server side (Server) serves the gateway's API calls over HTTP/1.1 on each
// connection's own goroutine, and hands every connection it is unsure of to
// net/http. net/http's server pays, on every request, for a background read that
// watches the client leave (a goroutine wake-up, a read and two deadline changes),
// a fresh context pair, a header clone and buffered writers; on a call that is
// otherwise a few dozen microseconds of work that is a tenth of the gateway's CPU.
//
// Only simple requests are read here (parseRequest): HTTP/1.1 GET or POST to a path
// the caller chooses (the /v1 API), framed by Content-Length. The first request of
// any other kind — HTTP/1.0, HEAD, chunked or Expect: 100-continue uploads,
// upgrades, heads larger than the read buffer, malformed ones — sends its connection,
// with the bytes already read, to a net/http server (Fallback) for good, so odd
// requests meet net/http's rules and answers. A client that hangs up during a call
// is noticed as net/http notices it — the request's context is cancelled — but only
// for calls still running after watchAfter: a poller (WatchHangUp; the gateway's is
// package netwatch) watches their connections, and quick calls pay nothing.

package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server is an HTTP/1.1 server for simple requests in front of a net/http server.
type Server struct {
	Handler http.Handler
	// Serves reports whether this server reads requests of this method and path
	// itself; the rest go to Fallback.
	Serves func(method, path string) bool
	// Fallback serves the connections handed to it; Serve starts it. Its Handler is
	// normally the same as Handler.
	Fallback *http.Server
	// WatchHangUp calls onHangUp when the peer of c leaves, until stop, without
	// reading from c; ok false means it cannot watch c. Without it, every
	// connection goes to Fallback, which watches by reading.
	WatchHangUp func(c net.Conn, onHangUp func()) (stop func(), ok bool)

	ReadHeaderTimeout time.Duration // a request's head, from its first byte
	ReadTimeout       time.Duration // a request's body
	WriteTimeout      time.Duration // the answer, from the end of the request's head
	IdleTimeout       time.Duration // between requests on a connection
	BaseContext       context.Context
	ErrorLog          *log.Logger

	mu       sync.Mutex
	ln       net.Listener
	handover *handoverListener
	conns    map[*serverConn]struct{}
	closing  atomic.Bool
	calls    inflight
}

// Serve accepts connections on ln until Shutdown or Close, and serves them.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.ln = ln
	if s.BaseContext == nil {
		s.BaseContext = context.Background()
	}
	s.handover = newHandoverListener(ln.Addr())
	s.conns = make(map[*serverConn]struct{})
	s.mu.Unlock()
	fallbackDone := make(chan error, 1)
	go func() { fallbackDone <- s.Fallback.Serve(s.handover) }()
	lean := s.WatchHangUp != nil
	s.calls.watch = s.WatchHangUp
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				<-fallbackDone
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // out of descriptors: let some close
				continue
			}
			return err
		}
		if !lean {
			s.handOver(nc, nil)
			continue
		}
		s.start(nc, true)
	}
}

// Return takes back a connection a handler hijacked (a detached stream) once its
// answer is complete, and serves the client's next request on it. It reports false,
// and closes the connection, once the server is shutting down.
func (s *Server) Return(nc net.Conn) bool {
	if s.WatchHangUp == nil {
		if s.closing.Load() {
			_ = nc.Close()
			return false
		}
		s.handOver(nc, nil) // hijacked from Fallback: back to it
		return true
	}
	return s.start(nc, false)
}

// start serves nc on a goroutine of its own; fresh is a connection just accepted,
// whose first request Shutdown waits for a moment (newConnGrace).
func (s *Server) start(nc net.Conn, fresh bool) bool {
	c := &serverConn{srv: s, nc: nc}
	if fresh {
		c.state.Store(stateNew)
		c.accepted = time.Now()
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = nc.Close()
		return false
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
	return true
}

func (s *Server) shuttingDown() bool { return s.closing.Load() }

// headerTimeout and idleTimeout fall back to ReadTimeout when unset, as net/http's
// do.
func (s *Server) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

// handOver gives a connection to Fallback, the bytes in prefix first.
func (s *Server) handOver(nc net.Conn, prefix []byte) {
	if !s.handover.give(WithPrefix(nc, prefix)) {
		_ = nc.Close()
	}
}

// Shutdown stops accepting, closes idle connections, waits for the requests being
// served (and Fallback's) to end, or for ctx. Hijacked connections are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), s.Fallback.Shutdown(ctx))
		case <-tick.C:
		}
	}
	return s.Fallback.Shutdown(ctx)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	return s.Fallback.Close()
}

func (s *Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) || s.ln == nil {
		return
	}
	_ = s.ln.Close()
}

// closeIdle closes the connections waiting for a request, but for those accepted
// less than newConnGrace ago, and returns how many are left: busy, or new.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) ||
			time.Since(c.accepted) > newConnGrace && c.state.CompareAndSwap(stateNew, stateClosed) {
			_ = c.nc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns)
}

func (s *Server) forget(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Connection states, for Shutdown: only an idle connection may be closed under a
// client, and a connection it closed serves nothing more. A new one, accepted but
// with no request read yet, may be closed once it has been silent for
// newConnGrace: its client has just connected, and its request may be on the way
// (net/http's Shutdown gives new connections the same 5 s).
const (
	stateIdle int32 = iota
	stateNew
	stateActive
	stateClosed
)

var newConnGrace = 5 * time.Second // a variable for the tests

// serverConn is one client connection served here.
type serverConn struct {
	srv        *Server
	nc         net.Conn
	br         *bufio.Reader
	remoteAddr string
	state      atomic.Int32
	accepted   time.Time // when a fresh connection was accepted (start); zero for a returned one
	gone       bool      // hijacked or handed over: no longer this server's

	// the call in flight, for the hang-up watch (inflight)
	cancel      context.CancelFunc
	since       uint32
	watch       func() // stops the hang-up watch
	prev, next  *serverConn
	watchedOnce bool
}

const headBufferSize = 4096

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headBufferSize) }}

func (c *serverConn) serve() {
	c.remoteAddr = c.nc.RemoteAddr().String()
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	defer func() {
		if c.br != nil {
			c.br.Reset(nil)
			readers.Put(c.br)
		}
	}()
	first := true
	for {
		if !c.next1(first) {
			return
		}
		first = false
	}
}

// next1 waits for the connection's next request and serves it; false ends the
// connection (closed, hijacked or handed over).
func (c *serverConn) next1(first bool) bool {
	wait := c.srv.idleTimeout()
	if first {
		wait = c.srv.headerTimeout()
	}
	c.setReadDeadline(wait)
	if _, err := c.br.Peek(1); err != nil || !c.state.CompareAndSwap(stateIdle, stateActive) && !c.state.CompareAndSwap(stateNew, stateActive) {
		c.close()
		return false
	}
	if buf, _ := c.br.Peek(c.br.Buffered()); !first && !bytes.Contains(buf, []byte("\r\n\r\n")) {
		c.setReadDeadline(c.srv.headerTimeout()) // the rest of the head, after an idle wait
	}
	end, whole, err := headEnd(c.br)
	if err != nil {
		c.close()
		return false
	}
	var req *http.Request
	if whole {
		req = parseRequest(c.br, end, c.srv.Serves)
	}
	if req == nil {
		c.handOver()
		return false
	}
	return c.serveRequest(req)
}

func (c *serverConn) serveRequest(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(c.srv.BaseContext)
	req = req.WithContext(ctx)
	req.RemoteAddr = c.remoteAddr
	w := &response{c: c, req: req, header: make(http.Header, 4)}
	if req.ContentLength > 0 {
		w.rb = &lengthBody{br: c.br, left: req.ContentLength}
		req.Body = w.rb
		if int64(c.br.Buffered()) < req.ContentLength {
			c.setReadDeadline(c.srv.ReadTimeout)
		}
	}
	if c.srv.WriteTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.WriteTimeout))
	}
	c.cancel = cancel
	c.srv.calls.add(c)
	defer func() {
		c.endCall()
		cancel()
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logf("http: panic serving %v: %v\n%s", c.remoteAddr, p, buf)
			}
			w.release()
			if !c.gone {
				c.close()
			}
			keep = false
		}
	}()
	c.srv.Handler.ServeHTTP(w, req)
	if c.gone {
		return false // hijacked
	}
	w.finish()
	if w.err == nil && w.rb != nil && w.rb.left > 0 {
		c.closeUnread()
		return false
	}
	if w.err != nil || w.closeAfter || c.srv.shuttingDown() || !c.state.CompareAndSwap(stateActive, stateIdle) {
		c.close()
		return false
	}
	return true
}

// closeUnread closes a connection whose client may still be sending a body the
// handler refused (413): closing with unread bytes would reset the connection, and
// the client could lose the answer already sent. So the server stops sending, reads
// and drops what comes for a moment (net/http waits the same 500 ms), then closes.
func (c *serverConn) closeUnread() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.br, 64<<20))
	}
	c.close()
}

// endCall takes the call out of the hang-up watch.
func (c *serverConn) endCall() {
	if stop := c.srv.calls.remove(c); stop != nil {
		stop()
	}
	c.cancel = nil
}

// hijacked is the response's Hijack: the connection leaves this server.
func (c *serverConn) hijacked() {
	c.endCall()
	c.gone = true
	c.srv.forget(c)
	_ = c.nc.SetReadDeadline(time.Time{})
	c.br = nil // the hijacker reads what it holds: not pooled
}

// handOver gives the connection, with what was read of its next request, to
// Fallback.
func (c *serverConn) handOver() {
	c.gone = true
	c.srv.forget(c)
	_ = c.nc.SetReadDeadline(time.Time{})
	buffered, _ := c.br.Peek(c.br.Buffered())
	c.srv.handOver(c.nc, append([]byte(nil), buffered...))
}

func (c *serverConn) close() {
	c.state.Store(stateClosed)
	c.srv.forget(c)
	_ = c.nc.Close()
}

// setReadDeadline bounds the reads from now on by d; 0 lifts the bound, so none set
// for an earlier phase (a body's, a head's) lingers.
func (c *serverConn) setReadDeadline(d time.Duration) {
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	_ = c.nc.SetReadDeadline(t)
}

// handoverListener is the listener Fallback serves: it returns the connections
// handed to it.
type handoverListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoverListener(addr net.Addr) *handoverListener {
	return &handoverListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoverListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoverListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoverListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoverListener) Addr() net.Addr { return l.addr }

// Replay is a connection whose first reads return bytes already read from it (the
// start of the client's next request), then go on reading the connection.
type Replay struct {
	net.Conn
	pending []byte
}

// WithPrefix returns c, preceded by pending when there is any: how a hijacker
// returns (Return) a connection along with what it read of the next request.
func WithPrefix(c net.Conn, pending []byte) net.Conn {
	if len(pending) == 0 {
		return c
	}
	return &Replay{Conn: c, pending: pending}
}

func (r *Replay) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

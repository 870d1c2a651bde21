// Package h1 is HTTP/1.1 on the caller's goroutine, both ways, for what the gateway
// does many of. Transport is its client for plain-HTTP upstreams (a local vLLM,
// Ollama, an in-house host, the test fakes): it runs each exchange over pooled
// keep-alive connections, where net/http's Transport keeps two goroutines and two
// 4 KiB buffers per connection and hands every request and answer between them,
// which costs CPU on every call and memory on every open stream. Everything else —
// HTTPS (HTTP/2), proxies, CONNECT — goes to a *http.Transport. Server (server.go)
// reads the API's calls, and leaves every other request to net/http's server.
package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// readBufferSize holds a typical answer's header and a small JSON body in one read;
// a larger body is read in more.
const readBufferSize = 2048

// Transport is an http.RoundTripper. Its zero value is not usable: set Dial and
// Fallback.
type Transport struct {
	// Dial opens a connection to a host:port.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Fallback serves what Transport does not: every URL but http://, and requests
	// its Proxy sends through a proxy.
	Fallback *http.Transport
	// MaxIdlePerHost is the number of idle connections kept per host:port.
	MaxIdlePerHost int
	// IdleTimeout is how long an idle connection is kept.
	IdleTimeout time.Duration
	// WatchReadable, when set, lets an answer's reader park (body.Park): it
	// arranges one call of wake, from another goroutine, when nc has bytes to
	// read, and returns stop, which reports false when wake was or is being
	// called. ok false means it cannot watch nc.
	WatchReadable func(nc net.Conn, wake func()) (stop func() bool, ok bool)

	mu   sync.Mutex
	idle map[string][]*conn // per host:port, the most recently used last
}

// conn is one pooled connection and its read buffer.
type conn struct {
	nc     net.Conn
	br     *bufio.Reader // reads src; emptied while parked (shed)
	src    source
	shed   bool
	idleAt time.Time
}

// source is what a connection's buffer reads: bytes a parked connection's buffer
// held, then the connection.
type source struct {
	nc      net.Conn
	pending []byte
}

func (s *source) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	return s.nc.Read(p)
}

// shedBuffer gives up the read buffer of a connection whose reader parks, keeping
// the few bytes it held; regrow brings it back before the next read.
func (c *conn) shedBuffer() {
	if n := c.br.Buffered(); n > 0 {
		held, _ := c.br.Peek(n)
		c.src.pending = append(c.src.pending[:0:0], held...)
	}
	*c.br = bufio.Reader{}
	c.shed = true
}

func (c *conn) regrow() {
	if c.shed {
		*c.br = *bufio.NewReaderSize(&c.src, readBufferSize)
		c.shed = false
	}
}

// requestBuffers hold a request while it is written in one write.
var requestBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// RoundTrip sends req and returns the answer, whose body is read straight off the
// connection by the caller. The connection goes back to the pool when the body has
// been read to its end; a body closed before then closes the connection.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Method == http.MethodConnect || t.proxied(req) {
		return t.Fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	c, err := t.get(ctx, addr)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrip always closes it
		}
		return nil, err
	}
	return t.exchange(ctx, addr, c, req)
}

// proxied reports whether the fallback's proxy settings send req through a proxy.
func (t *Transport) proxied(req *http.Request) bool {
	if t.Fallback.Proxy == nil {
		return false
	}
	u, err := t.Fallback.Proxy(req)
	return err != nil || u != nil // the fallback reports a broken proxy setting
}

// aLongTimeAgo is a deadline that has passed: setting it wakes a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on c and reads the answer's header. A request is never sent
// twice: a pooled connection is checked before it is used (alive), and a failure
// after the write is the caller's to handle (the gateway fails over).
func (t *Transport) exchange(ctx context.Context, addr string, c *conn, req *http.Request) (*http.Response, error) {
	// A cancelled call wakes whatever waits on the connection, which is then closed.
	b := &body{ctx: ctx, t: t, addr: addr, c: c}
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetDeadline(aLongTimeAgo)
		b.unpark()
	})
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.nc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	buf := requestBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	err := req.Write(buf) // closes req.Body
	if err == nil {
		_, err = c.nc.Write(buf.Bytes())
	}
	if buf.Cap() <= 64<<10 {
		requestBuffers.Put(buf)
	}
	if err != nil {
		return fail(err)
	}
	c.regrow()
	for {
		resp, err := readResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // an interim answer (100 Continue, 103 Early Hints) has no body
		}
		b.rc, b.stop = resp.Body, stop
		b.chunked = len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		b.reusable = !resp.Close && !req.Close && resp.ProtoAtLeast(1, 1) && resp.StatusCode != http.StatusSwitchingProtocols
		resp.Body = b
		return resp, nil
	}
}

// body is an answer's body. It returns its connection to the pool at its end.
type body struct {
	rc       io.ReadCloser
	ctx      context.Context
	stop     func() bool
	t        *Transport
	addr     string
	c        *conn
	reusable bool
	eof      bool // read to its end: later reads return io.EOF again
	chunked  bool
	done     atomic.Bool

	parkMu sync.Mutex
	parked func() bool // stops the watch of a reader parked without a goroutine (Park)
	wake   func()
}

var errClosedBody = errors.New("h1: read on a closed answer body")

func (b *body) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.done.Load() {
		return 0, errClosedBody
	}
	b.c.regrow()
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.eof = true
		b.finish(true)
	case err != nil:
		b.finish(false)
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
	}
	return n, err
}

// Close ends the exchange. A body not read to its end leaves the connection in the
// middle of an answer, so the connection is closed.
func (b *body) Close() error {
	b.finish(false)
	return nil
}

func (b *body) finish(atEnd bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	b.unpark() // before the descriptor closes
	// stop is false when the context fired: its deadline is on the connection.
	if b.stop() && atEnd && b.reusable && b.c.br.Buffered() == 0 && !b.c.shed {
		b.t.put(b.addr, b.c)
		return
	}
	_ = b.c.nc.Close()
}

// get returns an idle connection to addr that is still open, or dials one.
func (t *Transport) get(ctx context.Context, addr string) (*conn, error) {
	for {
		c := t.pop(addr)
		if c == nil {
			break
		}
		if alive(c.nc) {
			return c, nil
		}
		_ = c.nc.Close()
	}
	nc, err := t.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, src: source{nc: nc}}
	c.br = bufio.NewReaderSize(&c.src, readBufferSize)
	return c, nil
}

// pop takes the most recently used idle connection to addr, closing those idle for
// longer than IdleTimeout.
func (t *Transport) pop(addr string) *conn {
	t.mu.Lock()
	cs, ok := t.idle[addr]
	if !ok {
		t.mu.Unlock()
		return nil
	}
	var expired []*conn
	for len(cs) > 0 && t.IdleTimeout > 0 && time.Since(cs[0].idleAt) > t.IdleTimeout {
		expired = append(expired, cs[0])
		cs = cs[1:]
	}
	var c *conn
	if n := len(cs); n > 0 {
		c, cs = cs[n-1], cs[:n-1]
	}
	t.idle[addr] = cs
	t.mu.Unlock()
	for _, e := range expired {
		_ = e.nc.Close()
	}
	return c
}

// put returns a connection to the pool, or closes it if the pool is full.
func (t *Transport) put(addr string, c *conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	if cs := t.idle[addr]; len(cs) < t.MaxIdlePerHost {
		t.idle[addr] = append(cs, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.nc.Close() // the pool is full
}

// CloseIdleConnections closes the idle connections of both transports.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			_ = c.nc.Close()
		}
	}
	t.Fallback.CloseIdleConnections()
}

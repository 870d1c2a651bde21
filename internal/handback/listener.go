// Package handback lets a handler that took a connection over from net/http's server
// (Hijack) give it back once its answer is complete, so the client's next request
// on that keep-alive connection is served like any other.
package handback

import (
	"errors"
	"net"
	"sync"
)

// Listener wraps a listener; the server's Accept returns the connections it accepts
// and the ones handed back through Return, in the order they came.
type Listener struct {
	net.Listener
	back     chan net.Conn
	accepted chan accepted
	done     chan struct{}
	start    sync.Once
	stop     sync.Once
}

type accepted struct {
	conn net.Conn
	err  error
}

// New wraps ln.
func New(ln net.Listener) *Listener {
	return &Listener{Listener: ln, back: make(chan net.Conn, 64), accepted: make(chan accepted), done: make(chan struct{})}
}

// Accept waits for a new connection or one handed back.
func (l *Listener) Accept() (net.Conn, error) {
	// Accepting runs on its own goroutine so that a connection handed back does not
	// wait for the next new one.
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.back:
		return c, nil
	case a := <-l.accepted:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// Return hands a connection back to be served again. It reports false, and closes
// the connection, once the listener is closed.
func (l *Listener) Return(c net.Conn) bool {
	select {
	case <-l.done:
		_ = c.Close()
		return false
	default:
	}
	select {
	case l.back <- c:
		return true
	case <-l.done:
		_ = c.Close()
		return false
	}
}

// Close stops accepting; connections handed back afterwards are closed.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.stop.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// Replay is a connection whose first reads return bytes already read from it (a
// request the client sent early), then continue on the connection.
type Replay struct {
	net.Conn
	pending []byte
}

// WithPrefix returns c, preceded by pending when there is any.
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

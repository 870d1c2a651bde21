// Package netwatch calls a function when a connection needs attention, without a
// goroutine blocked on it: when the client of a stream hangs up (OnHangUp), or when
// an upstream connection has bytes to read (OnReadable). On Linux one goroutine
// watches every such connection through an epoll instance of its own; elsewhere a
// hang-up watch is a goroutine and OnReadable is unavailable.
package netwatch

import (
	"net"
	"time"
)

// Watching is one connection being watched.
type Watching struct {
	conn net.Conn
	f    func()
	fd   int32 // the descriptor registered with the poller
	once bool  // OnReadable: one call of f, then the watch ends

	fired bool // f was called or is about to be; guarded by the poller's lock
	ended bool // out of the poller

	// the portable hang-up watch (watchRead)
	done   chan struct{}
	peeked []byte
	gone   bool
}

// OnHangUp calls onHangUp (once, from another goroutine) if the peer of c closes
// the connection or it fails, until Stop. Bytes the peer sends instead (its next
// request, early) are left for the next reader of c, or returned by Stop.
func OnHangUp(c net.Conn, onHangUp func()) *Watching {
	w := &Watching{conn: c, f: onHangUp}
	if !watchPoll(w) {
		w.done = make(chan struct{})
		go w.watchRead()
	}
	return w
}

// OnHangUpPolled is OnHangUp without the portable fallback: it reports false, and
// watches nothing, when the connection cannot be polled (not Linux, not a socket).
// Such a watch never reads from c, so the caller's buffered reader keeps every byte.
func OnHangUpPolled(c net.Conn, onHangUp func()) (*Watching, bool) {
	w := &Watching{conn: c, f: onHangUp}
	return w, watchPoll(w)
}

// Polled reports whether this platform watches connections with a poller (Linux);
// elsewhere OnHangUpPolled and OnReadable always report false.
func Polled() bool { return pollerWorks() }

// OnReadable calls f once, from another goroutine, when c has bytes to read, was
// closed by its peer, or failed — unless Stop comes first. It reports false when it
// cannot watch c (not Linux, not a socket); the caller then waits by reading.
func OnReadable(c net.Conn, f func()) (*Watching, bool) {
	w := &Watching{conn: c, f: f, once: true}
	return w, watchPoll(w)
}

// Stop ends the watch. It returns any byte a portable hang-up watch read (the
// start of the peer's next request, to be read before the rest), and false when
// the watch already fired (or the connection failed): f was, or is about to be,
// called.
func (w *Watching) Stop() (early []byte, waiting bool) {
	if w.done == nil {
		return nil, stopPoll(w)
	}
	_ = w.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the read
	<-w.done
	if w.gone || w.conn.SetReadDeadline(time.Time{}) != nil {
		return nil, false
	}
	return w.peeked, true
}

// watchRead is the portable hang-up watch: a one-byte read that returns when the
// peer sends or leaves, or when Stop sets a past deadline.
func (w *Watching) watchRead() {
	defer close(w.done)
	var b [1]byte
	n, err := w.conn.Read(b[:])
	switch {
	case n == 1:
		w.peeked = []byte{b[0]}
	case isTimeout(err):
		// Stop woke the read
	case err != nil:
		w.gone = true
		w.f()
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

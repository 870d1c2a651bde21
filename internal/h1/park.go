package h1

import (
	"errors"
	"os"
	"time"
)

// Quiet and Park are for a stream relay that would rather not keep a goroutine
// waiting on a quiet upstream (providers.Parker). Quiet waits up to linger, on the
// caller's goroutine, for more of the answer, and reports true when none came (and
// the body can park). What came is left in the connection's buffer for the next
// Read, so the wait costs no system call a plain Read would not make.
func (b *body) Quiet(linger time.Duration) bool {
	if b.t.WatchReadable == nil || b.eof || b.done.Load() || b.buffered() || b.ctx.Err() != nil {
		return false
	}
	b.c.regrow()
	if err := b.c.nc.SetReadDeadline(time.Now().Add(linger)); err != nil {
		return false
	}
	if b.ctx.Err() != nil {
		// The call ended before the line above, which overrode its cancel's
		// deadline: restore it, or this Peek would read on for a cancelled call.
		_ = b.c.nc.SetDeadline(aLongTimeAgo)
		return false
	}
	// One byte more than the buffer holds: it may hold a chunk's closing CRLF.
	// bufio keeps no error, so a deadline that passes costs the next Read nothing.
	_, err := b.c.br.Peek(b.c.br.Buffered() + 1)
	derr := b.c.nc.SetReadDeadline(time.Time{})
	if b.ctx.Err() != nil {
		// A cancel sets its deadline after ctx ends: if that came before the line
		// above, restore it.
		_ = b.c.nc.SetDeadline(aLongTimeAgo)
		return false
	}
	return derr == nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// Park arranges for wake to be called once, from another goroutine, when a Read
// would find bytes, the upstream closed, the body was closed, or the call was
// cancelled, and reports true; until then the caller's goroutine may end. It
// reports false when it cannot: the caller reads now.
func (b *body) Park(wake func()) bool {
	b.parkMu.Lock()
	defer b.parkMu.Unlock()
	if b.eof || b.done.Load() || b.ctx.Err() != nil || b.buffered() {
		return false // unpark has run, or will find nothing: read now
	}
	b.c.shedBuffer() // before the watch: once it is set, a read may start at any time
	// Bytes that came after Quiet fire the watch at once.
	stop, ok := b.t.WatchReadable(b.c.nc, wake)
	if !ok {
		return false // the next read regrows the buffer
	}
	b.parked, b.wake = stop, wake
	return true
}

// unpark wakes a parked reader now, when the body is closed or the call cancelled.
func (b *body) unpark() {
	b.parkMu.Lock()
	stop, wake := b.parked, b.wake
	b.parked, b.wake = nil, nil
	b.parkMu.Unlock()
	if stop != nil && stop() {
		wake()
	}
}

// buffered reports whether the connection's buffer holds more of the answer. The
// line break that closes a chunk is not more: net/http's chunked reader leaves it
// buffered until the next read, which then needs the next chunk from the socket.
func (b *body) buffered() bool {
	n := b.c.br.Buffered()
	if n == 2 && b.chunked {
		crlf, _ := b.c.br.Peek(2)
		return string(crlf) != "\r\n"
	}
	return n > 0
}

// Ready reports whether a Read would return bytes at once, from the connection's
// buffer, without waiting for the upstream. A relay that flushes its client before
// each wait (providers/sse) skips the flush before a read that will not wait, so
// what it holds leaves with the next flush, in one write instead of two. It may
// answer false where a Read would not wait; it never answers true where one would.
func (b *body) Ready() bool {
	if b.eof || b.done.Load() || b.c.shed || b.c.br.Buffered() == 0 {
		return false
	}
	switch rc := b.rc.(type) {
	case *lengthBody:
		return rc.left > 0
	case *chunkedBody:
		return !rc.done && rc.cr.ready()
	}
	return false
}

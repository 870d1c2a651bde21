package h1

import "time"

// Quiet and Park are for a stream relay that would rather not keep a goroutine
// waiting on a quiet upstream (providers.Parker). Quiet waits up to linger, on the
// caller's goroutine, for bytes to read, and reports true when none came (and the
// body can park). It reads nothing.
func (b *body) Quiet(linger time.Duration) bool {
	if b.t.WatchReadable == nil || b.eof || b.done.Load() || b.buffered() {
		return false
	}
	readable, err := waitReadable(b.c.nc, time.Now().Add(linger))
	if b.ctx.Err() != nil {
		_ = b.c.nc.SetDeadline(aLongTimeAgo) // the wait may have cleared the cancel's deadline
		return false
	}
	return !readable && err == nil
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

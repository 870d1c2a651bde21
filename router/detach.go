package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/internal/h1"
	"github.com/tollgate-gw/tollgate/internal/netwatch"
)

// Detached streams. A streamed answer can wait minutes on its upstream, and most of
// that time nothing moves. Inside net/http's handler each such stream keeps the
// server's connection goroutine (with the deep stack of the handler chain), its
// background reader, and 10 KiB of buffers. So a stream whose upstream has been
// quiet for a while (parkLinger) detaches: it takes the client's connection over
// (Hijack), goes on writing the chunked answer itself, and parks — no goroutine at
// all until the upstream sends more (providers.Parker); package netwatch notices
// the client leave meanwhile. When the answer is complete the connection goes back
// to the server (HandBackTo) for the client's next request. Busy streams never
// detach, and pay nothing for it.

// loosen gives a stream that may detach a context of its own. It follows the
// request's until the stream detaches; after that the client's hang-up, the
// gateway's shutdown (CutStreams) or the end of the call cancel it.
func (cl *call) loosen() {
	r := cl.c.Request
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.TLS != nil {
		return
	}
	if _, teed := cl.c.Writer.(*teeWriter); teed { // the idempotency record needs the handler's writer
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(cl.ctx))
	cl.unfollow = context.AfterFunc(cl.ctx, cancel)
	cl.ctx, cl.cancel = ctx, cancel
	cl.cleanups = append(cl.cleanups, cancel)
}

// detach takes the client's connection over from net/http in the middle of a
// stream whose output so far is flushed. It returns the writer for the rest of the
// answer and the function that ends the call once the stream is done; from then on
// the handler must return as soon as it can and leave the call to the relay. It
// reports false, and changes nothing, when the stream cannot detach.
func (cl *call) detach() (*detachedConn, func(), bool) {
	if cl.unfollow == nil || !cl.unfollow() {
		return nil, nil, false // not loosened, or the client has already left
	}
	// gin refuses a hijack once the body has begun; net/http's writer allows it
	// and flushes what its chunk writer holds.
	var rw http.ResponseWriter = cl.c.Writer
	if u, ok := rw.(interface{ Unwrap() http.ResponseWriter }); ok {
		rw = u.Unwrap()
	}
	conn, brw, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		cl.unfollow = context.AfterFunc(cl.c.Request.Context(), cl.cancel) // follow again
		return nil, nil, false
	}
	early := make([]byte, brw.Reader.Buffered()) // the client's next request, sent early
	_, _ = io.ReadFull(brw.Reader, early)
	d := &detachedConn{conn: conn, early: early, closeAfter: cl.c.Request.Close || cl.g.handBack == nil, handBack: cl.g.handBack}
	// A client that stops reading cannot hold the call past the server's own bound.
	_ = conn.SetWriteDeadline(time.Now().Add(cl.g.cfg.UpstreamTimeout + time.Minute))
	cl.g.track(cl)
	d.watch = netwatch.OnHangUp(conn, cl.cancel)
	sent := int64(cl.c.Writer.Size())
	path := cl.c.Request.URL.Path
	cl.c.Set(ctxDetached, true)
	cl.detached, cl.c = true, nil // gin reuses its context once the handler returns
	return d, func() {
		cl.g.untrack(cl)
		// Its stream slots go back before the client sees the end, so a stream it
		// starts next is not refused for this one.
		cl.releaseStreams()
		d.end(cl.overhead())
		cl.end(http.StatusOK)
		if cl.g.cfg.AccessLog {
			cl.g.log.Info("request", "request_id", cl.rec.RequestID, "method", http.MethodPost, "path", path,
				"status", http.StatusOK, "duration_ms", time.Since(cl.start).Milliseconds(), "bytes", sent+d.sent)
		}
	}, true
}

// ctxDetached marks a request whose stream detached: its access log line comes
// from the gateway when the stream ends (Config.AccessLog), not from the handler's
// return.
const ctxDetached = "tollgate.detached"

// Detached reports whether the request's stream detached from its handler.
func Detached(c *gin.Context) bool { return c.GetBool(ctxDetached) }

// CutStreams cancels every detached stream still running, and any that detaches
// later: shutdown, after its grace. They settle what was produced, as a stream cut
// by the server would.
func (g *Gateway) CutStreams() {
	g.detachedMu.Lock()
	g.cut = true
	calls := make([]*call, 0, len(g.detachedCalls))
	for cl := range g.detachedCalls {
		calls = append(calls, cl)
	}
	g.detachedMu.Unlock()
	for _, cl := range calls {
		cl.cancel()
	}
}

// track and untrack keep the set of detached calls, for CutStreams.
func (g *Gateway) track(cl *call) {
	g.detachedMu.Lock()
	cut := g.cut
	if g.detachedCalls == nil {
		g.detachedCalls = make(map[*call]struct{})
	}
	g.detachedCalls[cl] = struct{}{}
	g.detachedMu.Unlock()
	if cut {
		cl.cancel()
	}
}

func (g *Gateway) untrack(cl *call) {
	g.detachedMu.Lock()
	delete(g.detachedCalls, cl)
	g.detachedMu.Unlock()
}

// WatchHangUp is h1.Server.WatchHangUp on this platform: package netwatch's
// poller, or nil where there is none (every connection then goes to net/http).
func WatchHangUp() func(c net.Conn, onHangUp func()) (stop func(), ok bool) {
	if !netwatch.Polled() {
		return nil
	}
	return func(c net.Conn, onHangUp func()) (func(), bool) {
		w, ok := netwatch.OnHangUpPolled(c, onHangUp)
		return func() { w.Stop() }, ok
	}
}

// HandBackTo sets where a detached stream's connection goes when its answer is
// complete (h1.Server.Return); without it such connections are closed once
// the answer is complete. Call it before serving.
func (g *Gateway) HandBackTo(f func(net.Conn) bool) { g.handBack = f }

// detachedConn writes a detached stream's answer as HTTP/1.1 chunks: Write gathers,
// Flush sends what was gathered as one chunk in one write. Between flushes it holds
// no buffer, so an idle stream costs little.
type detachedConn struct {
	conn       net.Conn
	early      []byte // read from the client before the hijack: its next request
	pending    *[]byte
	closeAfter bool
	handBack   func(net.Conn) bool
	failed     bool  // a write failed: the connection is done
	sent       int64 // bytes written, framing included

	watch *netwatch.Watching // cancels the call when the client leaves
}

// chunkRoom is kept free at the start of the pending buffer for the chunk's size line.
const chunkRoom = 10

var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (d *detachedConn) Write(p []byte) (int, error) {
	if d.failed {
		return 0, net.ErrClosed
	}
	if d.pending == nil {
		d.pending = chunkBuffers.Get().(*[]byte)
		*d.pending = append((*d.pending)[:0], make([]byte, chunkRoom)...)
	}
	*d.pending = append(*d.pending, p...)
	return len(p), nil
}

// Flush sends the gathered bytes as one chunk.
func (d *detachedConn) Flush() error {
	return d.send(nil)
}

// send writes the pending chunk, then tail, in one write.
func (d *detachedConn) send(tail []byte) error {
	if d.failed {
		return net.ErrClosed
	}
	var out []byte
	if d.pending != nil && len(*d.pending) > chunkRoom {
		b := *d.pending
		size := strconv.AppendInt(make([]byte, 0, chunkRoom), int64(len(b)-chunkRoom), 16)
		start := chunkRoom - len(size) - 2
		copy(b[start:], size)
		copy(b[chunkRoom-2:], "\r\n")
		out = append(append(b[start:], "\r\n"...), tail...)
	} else {
		out = tail
	}
	var err error
	if len(out) > 0 {
		var n int
		n, err = d.conn.Write(out)
		d.sent += int64(n)
	}
	if d.pending != nil {
		*d.pending = (*d.pending)[:0]
		chunkBuffers.Put(d.pending)
		d.pending = nil
	}
	if err != nil {
		d.failed = true
	}
	return err
}

// end sends the last chunk and the trailer, then hands the connection back to the
// server when the answer was whole, or closes it.
func (d *detachedConn) end(overhead string) {
	tail := make([]byte, 0, 64)
	tail = append(tail, "0\r\n"+OverheadHeader+": "...)
	tail = append(tail, overhead...)
	tail = append(tail, "\r\n\r\n"...)
	err := d.send(tail)
	early, open := d.watch.Stop()
	if err != nil || !open || d.closeAfter || d.conn.SetDeadline(time.Time{}) != nil {
		_ = d.conn.Close()
		return
	}
	d.handBack(h1.WithPrefix(d.conn, append(d.early, early...)))
}

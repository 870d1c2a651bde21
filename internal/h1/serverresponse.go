package h1

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// response is the http.ResponseWriter of a request the server reads itself. It
// follows net/http's rules for what goes on the wire — the header as it was at
// WriteHeader, Content-Length when the whole body is known at the end, chunks
// otherwise, sniffed Content-Type, Date, trailers — but keeps the answer in one
// buffer and sends it, head and body, in one write when the handler returns.
type response struct {
	c   *serverConn
	req *http.Request
	rb  *lengthBody // the request's body, nil without one

	header      http.Header
	status      int
	wroteHeader bool
	head        []byte // status line and the handler's header, rendered at WriteHeader
	noSniff     bool   // the handler set Content-Type or Content-Encoding
	hasDate     bool
	declared    int64 // the handler's Content-Length, or -1
	identity    bool  // the handler asked for no chunking (Transfer-Encoding: identity)
	hasTE       bool  // the handler set a Transfer-Encoding
	connection  []string
	trailers    []string

	headSent bool
	chunked  bool
	written  int64  // body bytes the handler wrote
	out      []byte // body bytes not sent yet
	err      error  // a write to the connection failed: the connection is done

	closeAfter bool
	hijacked   bool
}

// bufferSize is how much of an answer the writer gathers before it sends; an answer
// that fits is sent with its head in one write, framed by Content-Length.
const bufferSize = 4096

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, bufferSize); return &b }}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return // net/http logs a superfluous call; the first one stands
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.wroteHeader, w.status, w.declared = true, code, -1
	w.noSniff, w.hasDate, w.identity, w.hasTE, w.trailers = false, false, false, false, nil
	if cl := w.header.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.declared = v
		} else {
			w.header.Del("Content-Length")
		}
	}
	w.connection = w.header["Connection"]
	w.head = w.render((*buffers.Get().(*[]byte))[:0], code)
}

// informational sends a 1xx answer (103 Early Hints) at once, as net/http does.
func (w *response) informational(code int) {
	if w.err != nil {
		return
	}
	b := w.render(nil, code)
	_, w.err = w.c.nc.Write(append(b, "\r\n"...))
}

// render appends the status line and the handler's header as they are now, minus
// what the server decides itself (framing, Connection).
func (w *response) render(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(code); text != "" {
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ' ')
		b = append(b, text...)
	} else {
		b = fmt.Appendf(b, "%03d status code %d", code, code)
	}
	b = append(b, "\r\n"...)
	var keys [24]string
	sorted := keys[:0]
	for k := range w.header {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	te := w.header.Get("Transfer-Encoding")
	for _, k := range sorted {
		switch {
		case k == "Transfer-Encoding":
			w.hasTE = te != ""
			w.identity = te == "identity" && code >= 200
			continue // the server frames the answer
		case k == "Content-Length" && (te != "" || !bodyAllowed(code)),
			k == "Content-Type" && code == http.StatusNotModified,
			k == "Connection" && code >= 200:
			continue
		case k == "Content-Type":
			w.noSniff = true
		case k == "Content-Encoding":
			w.noSniff = w.noSniff || w.header.Get(k) != ""
		case k == "Date":
			w.hasDate = true
		case k == "Trailer" && code >= 200:
			for _, v := range w.header[k] {
				for t := range strings.SplitSeq(v, ",") {
					if t = textproto.TrimString(t); t != "" {
						t = http.CanonicalHeaderKey(t)
						if httpguts.ValidTrailerHeader(t) {
							w.trailers = append(w.trailers, t)
						}
					}
				}
			}
		}
		b = appendField(b, k, w.header[k])
	}
	if te != "" {
		w.declared = -1 // as net/http: Content-Length goes with no other encoding
	}
	if code >= 200 && hasToken(w.header["Connection"], "close") {
		w.closeAfter = true
	}
	return b
}

// appendField appends one header field, each value on its own line, dropping what
// cannot be sent as net/http's writer does.
func appendField(b []byte, key string, values []string) []byte {
	if !httpguts.ValidHeaderFieldName(key) {
		return b // also the "Trailer:" keys of http.TrailerPrefix
	}
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		}
		b = append(b, key...)
		b = append(b, ": "...)
		b = append(b, textproto.TrimString(v)...)
		b = append(b, "\r\n"...)
	}
	return b
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *response) Write(p []byte) (int, error) {
	if err := w.beforeWrite(len(p)); err != nil || len(p) == 0 {
		return 0, err
	}
	w.out = append(w.out, p...)
	return len(p), w.sendIfFull()
}

func (w *response) WriteString(s string) (int, error) {
	if err := w.beforeWrite(len(s)); err != nil || len(s) == 0 {
		return 0, err
	}
	w.out = append(w.out, s...)
	return len(s), w.sendIfFull()
}

func (w *response) beforeWrite(n int) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return nil
	}
	if !bodyAllowed(w.status) {
		return http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.declared >= 0 && w.written > w.declared {
		return http.ErrContentLength
	}
	if w.out == nil {
		w.out = (*buffers.Get().(*[]byte))[:0]
	}
	return w.err
}

func (w *response) sendIfFull() error {
	if len(w.out) < bufferSize {
		return nil
	}
	return w.send(false)
}

// Flush sends what the handler wrote so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController, which reports its error.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(false)
}

// SetWriteDeadline and SetReadDeadline serve http.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }

// send writes the head if it has not gone yet, then the gathered body; final adds
// the end of a chunked answer. It is one write to the connection. Once the head
// has gone, its buffer assembles the chunks.
func (w *response) send(final bool) error {
	if w.err != nil {
		return w.err
	}
	wire := w.head[:0]
	if !w.headSent {
		wire = w.finishHead(final)
	}
	switch {
	case len(w.out) == 0:
	case w.chunked:
		wire = strconv.AppendInt(wire, int64(len(w.out)), 16)
		wire = append(wire, "\r\n"...)
		wire = append(append(wire, w.out...), "\r\n"...)
	case len(wire) == 0:
		wire = w.out // the head went before: no copy
	default:
		wire = append(wire, w.out...)
	}
	if final && w.chunked {
		wire = append(wire, "0\r\n"...)
		wire = w.appendTrailers(wire)
		wire = append(wire, "\r\n"...)
	}
	if len(wire) > 0 {
		_, w.err = w.c.nc.Write(wire)
	}
	w.out = w.out[:0]
	return w.err
}

// finishHead completes the head: the framing the server chose, the sniffed
// Content-Type, Date and Connection. It first reads past a request body the handler
// left (as net/http does, for clients that send it all before reading).
func (w *response) finishHead(final bool) []byte {
	w.headSent = true
	if w.rb != nil && !w.closeAfter && !w.rb.discard() {
		w.closeAfter = true
	}
	if w.c.srv.shuttingDown() || w.req.Close {
		w.closeAfter = true
	}
	b := w.head
	allowed := bodyAllowed(w.status)
	switch {
	case !allowed:
	case w.declared >= 0:
	case final && len(w.trailers) == 0 && !w.hasTE:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.out)), 10)
		b = append(b, "\r\n"...)
	case w.identity:
		w.closeAfter = true // the end of the body is the end of the connection
	default:
		w.chunked = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if allowed && !w.noSniff && len(w.out) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.out)...)
		b = append(b, "\r\n"...)
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = append(b, httpDate()...)
		b = append(b, "\r\n"...)
	}
	if w.connection != nil && !w.closeAfter {
		b = appendField(b, "Connection", w.connection)
	} else if w.closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendTrailers appends the declared trailers' final values and any set under
// http.TrailerPrefix.
func (w *response) appendTrailers(b []byte) []byte {
	for _, k := range w.trailers {
		b = appendField(b, k, w.header[k])
	}
	for k, v := range w.header {
		if t, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			b = appendField(b, t, v)
		}
	}
	return b
}

// finish ends the answer once the handler has returned.
func (w *response) finish() {
	if w.hijacked {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.send(true)
	if w.declared >= 0 && bodyAllowed(w.status) && w.written < w.declared {
		w.closeAfter = true // the client waits for bytes that will not come
	}
	if w.rb != nil && w.rb.left > 0 {
		w.closeAfter = true // a handler that flushed before reading the body
	}
	w.release()
}

func (w *response) release() {
	for _, b := range [...][]byte{w.out, w.head} {
		if b != nil && cap(b) <= 4*bufferSize {
			b = b[:0]
			buffers.Put(&b)
		}
	}
	w.out, w.head = nil, nil
}

// Hijack hands the connection to the handler, after sending what it wrote so far
// (the detached streams of package router go on writing chunks themselves). The
// returned reader holds what the client sent after this request.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		if err := w.send(false); err != nil {
			return nil, nil, err
		}
	}
	w.hijacked = true
	w.release()
	br := w.c.br
	w.c.hijacked()
	return w.c.nc, bufio.NewReadWriter(br, bufio.NewWriter(w.c.nc)), nil
}

// httpDate is the Date header's value, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := lastDate.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &date{sec: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}

type date struct {
	sec  int64
	text string
}

var lastDate atomic.Pointer[date]

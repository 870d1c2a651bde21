package sse

import (
	"errors"
	"io"
	"net/http"
	"strings"
)

// ErrInvalidName is returned for an event name that contains a line break, which
// would end the field early and corrupt the stream.
var ErrInvalidName = errors.New("sse: event name contains a line break")

// Writer frames events and flushes each one at once, so a client sees every chunk as
// soon as the upstream produced it. It is not safe for concurrent use.
type Writer struct {
	w        io.Writer
	flush    func() error // after each write
	flushNow func() error // the real flush, once Buffer turned the other off
	buf      []byte
}

// NewWriter returns a Writer on w. An http.ResponseWriter is flushed through
// http.ResponseController (so wrapped writers work too); any other writer is flushed
// if it has a Flush method, and otherwise written to as is.
func NewWriter(w io.Writer) *Writer {
	sw := &Writer{w: w, buf: make([]byte, 0, 512)}
	switch f := w.(type) {
	case http.ResponseWriter:
		rc := http.NewResponseController(f)
		sw.flush = func() error {
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
			return nil
		}
	case interface{ Flush() error }:
		sw.flush = f.Flush
	case http.Flusher:
		sw.flush = func() error { f.Flush(); return nil }
	default:
		sw.flush = skipFlush
	}
	return sw
}

// SetHeaders sets the response headers an event stream needs: the content type,
// no caching, and no buffering by nginx-style proxies. It sets no Connection header:
// HTTP/1.1 keeps connections alive by default and HTTP/2 and HTTP/3 forbid the field.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
}

// WriteEvent writes one event with the given type (none when name is "") and data,
// splitting data at line breaks into several data fields as the format requires,
// then flushes.
func (w *Writer) WriteEvent(name string, data []byte) error {
	if strings.ContainsAny(name, "\r\n") {
		return ErrInvalidName
	}
	b := w.buf[:0]
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	for {
		i := indexEOL(data)
		if i < 0 {
			break
		}
		b = appendField(b, "data", data[:i])
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b = appendField(b, "data", data)
	b = append(b, '\n')
	w.buf = b
	return w.write(b)
}

// WriteData writes an event of the default type carrying data, then flushes; this is
// the framing of every OpenAI stream chunk.
func (w *Writer) WriteData(data []byte) error {
	return w.WriteEvent("", data)
}

// Buffer turns off the flush after each write: the caller flushes (Flush) before it
// next waits — Reader.BeforeRead tells it when — and the end of the response sends
// the rest, so events that arrived together leave in one write.
func (w *Writer) Buffer() {
	if w.flushNow == nil {
		w.flushNow, w.flush = w.flush, skipFlush
	}
}

// Release gives up the writer's scratch buffer (a relay that parks a quiet
// stream); the next write allocates one again.
func (w *Writer) Release() { w.buf = nil }

// Flush sends what was written so far to the client.
func (w *Writer) Flush() error {
	if w.flushNow != nil {
		return w.flushNow()
	}
	return w.flush()
}

func skipFlush() error { return nil }

// WriteDone writes OpenAI's end-of-stream marker "data: [DONE]", then flushes.
func (w *Writer) WriteDone() error {
	return w.write(doneEvent)
}

// WriteComment writes a comment line, which clients ignore; it keeps idle
// connections open through proxies that drop silent ones.
func (w *Writer) WriteComment(text string) error {
	b := append(w.buf[:0], ':')
	if text != "" {
		b = append(b, ' ')
		b = append(b, lineBreaks.Replace(text)...)
	}
	b = append(b, '\n', '\n')
	w.buf = b
	return w.write(b)
}

var (
	doneEvent  = []byte("data: [DONE]\n\n")
	lineBreaks = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")
)

func (w *Writer) write(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	return w.flush()
}

func appendField(b []byte, name string, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ':')
	if len(value) > 0 {
		b = append(b, ' ')
		b = append(b, value...)
	}
	return append(b, '\n')
}

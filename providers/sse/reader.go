// Package sse reads and writes server-sent event streams as the WHATWG HTML
// specification defines them. Every adapter, the relay and the fake upstreams share
// it, so the gateway parses and frames events one way only.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// DefaultMaxEventSize bounds one event (name, data and id together) so a broken or
// hostile upstream cannot make the gateway buffer without limit.
const DefaultMaxEventSize = 8 << 20

// ErrEventTooLarge is returned when an event, or a single line of one, exceeds the
// reader's maximum size; the reader stays failed afterwards.
var ErrEventTooLarge = errors.New("sse: event exceeds the maximum size")

// Event is one dispatched server-sent event.
type Event struct {
	// Name is the event type from the "event" field; "" means the default type
	// "message".
	Name string
	// Data holds the event's data lines joined with "\n". It aliases the reader's
	// buffer and is valid only until the next call to Next: copy it to keep it.
	Data []byte
	// ID is the stream's last event ID, which per the specification persists from
	// event to event until an "id" field changes it.
	ID string
}

const (
	// initialBufSize fits a typical chunk; it is small because a gateway may hold
	// thousands of idle streams. Each read that fills the buffer doubles it, up to
	// busyBufSize, so on a busy stream events that arrived together are read (and
	// relayed) together, while a stream that went quiet after its first chunks
	// keeps a small one.
	initialBufSize = 512
	busyBufSize    = 4 << 10
	// lineSlack lets a line hold a whole maximum-size value plus its field name.
	lineSlack     = len("event: ")
	maxEmptyReads = 100
	nameCacheSize = 8
)

// Reader parses events from a byte stream with a single growable buffer, so that
// steady-state parsing does not allocate.
//
// Lines may end in "\n", "\r\n" or "\r". A leading UTF-8 byte order mark is skipped,
// comment lines and unknown fields are ignored, and "retry" is ignored because the
// gateway never reconnects on its own.
//
// At the end of the input the reader is deliberately more lenient than the
// specification, which discards an event not followed by a blank line: an event whose
// last line did end in a newline is still returned (some hosts omit the final blank
// line after "data: [DONE]"). Bytes after the last newline may be a truncated line
// and are discarded. Next then returns io.EOF if the input ended on a line boundary,
// and io.ErrUnexpectedEOF if it ended in the middle of a line.
type Reader struct {
	rd      io.Reader
	max     int // largest event handed out
	maxLine int // largest line buffered

	buf        []byte
	released   int   // the size of the buffer Release gave up
	start, end int   // unread bytes are buf[start:end]
	scanned    int   // bytes after start known to hold no line terminator
	readErr    error // error from rd, reported once buf is drained
	skipLF     bool  // the last line ended in '\r': a '\n' next belongs to it
	sawFirst   bool  // the first line (which may start with a BOM) was read
	pendingErr error // error to return once the pending event has been handed out
	failed     error // sticky error returned by every later Next

	data  []byte // data buffer: each data line plus '\n'
	name  string // event type buffer
	id    string // last event ID
	names [nameCacheSize]string
	nextN int

	beforeRead func() // called before each read of the input that may block
	busy       bool   // the last read filled the buffer: more may be waiting
}

// BeforeRead sets f to be called before every read of the input that may wait for
// more: every read, unless the input has a Ready method that says it will not wait.
// A relay flushes its client there, so it can write the events already read without
// a flush each and still never hold one back while it waits.
func (r *Reader) BeforeRead(f func()) { r.beforeRead = f }

// inputReady reports whether the input says its next Read returns at once (the
// gateway's HTTP/1.1 answer bodies can): no wait, so nothing to flush before it.
func (r *Reader) inputReady() bool {
	rd, ok := r.rd.(interface{ Ready() bool })
	return ok && rd.Ready()
}

// Pending reports whether Next can make progress without reading the input: bytes
// are buffered, or an error is waiting to be returned.
func (r *Reader) Pending() bool {
	return r.end > r.start || r.failed != nil || r.pendingErr != nil || r.readErr != nil
}

// Release gives up the reader's buffers while nothing is pending (a relay that
// parks a quiet stream); the next read allocates them again. It does nothing when
// bytes are pending.
func (r *Reader) Release() {
	if r.end > r.start || r.buf == nil {
		return
	}
	r.released = len(r.buf)
	r.buf, r.start, r.end, r.scanned = nil, 0, 0, 0
	r.data = nil
}

// NewReader returns a Reader of r with DefaultMaxEventSize.
func NewReader(r io.Reader) *Reader {
	return NewReaderLimit(r, DefaultMaxEventSize)
}

// NewReaderLimit returns a Reader of r that fails with ErrEventTooLarge rather than
// return an event (or buffer a line) larger than maxEventSize bytes; a value below 1
// means DefaultMaxEventSize.
func NewReaderLimit(r io.Reader, maxEventSize int) *Reader {
	if maxEventSize < 1 {
		maxEventSize = DefaultMaxEventSize
	}
	maxLine := maxEventSize + lineSlack
	size := min(initialBufSize, maxLine+1)
	return &Reader{rd: r, max: maxEventSize, maxLine: maxLine, buf: make([]byte, size)}
}

// Next returns the next event. It returns io.EOF after the last event, and
// io.ErrUnexpectedEOF instead when the input ended in the middle of a line; any other
// read error is returned as is. After an error every later call returns it again.
func (r *Reader) Next() (Event, error) {
	if r.failed != nil {
		return Event{}, r.failed
	}
	if r.pendingErr != nil {
		r.failed = r.pendingErr
		return Event{}, r.failed
	}
	// Data from the previous event is no longer the caller's.
	r.data = r.data[:0]
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if ev, ok := r.dispatch(); ok {
					if r.failed == nil {
						r.pendingErr = err
					}
					return ev, nil
				}
			}
			if r.failed == nil {
				r.failed = err
			}
			return Event{}, r.failed
		}
		if len(line) == 0 {
			if ev, ok := r.dispatch(); ok {
				return ev, nil
			}
			if r.failed != nil {
				return Event{}, r.failed
			}
			continue
		}
		if err := r.field(line); err != nil {
			r.failed = err
			return Event{}, err
		}
	}
}

// field applies one non-blank line to the event being built.
func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, line[len(line):]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if len(r.data)+len(value) > r.max {
			return ErrEventTooLarge
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "event":
		r.name = r.intern(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != r.id {
			r.id = string(value)
		}
	}
	return nil
}

// dispatch hands out the event built so far, if it has data, and resets the event
// type; like the specification it drops events that have no data field.
func (r *Reader) dispatch() (Event, bool) {
	name := r.name
	r.name = ""
	if len(r.data) == 0 {
		return Event{}, false
	}
	data := r.data[:len(r.data)-1]
	if len(name)+len(data)+len(r.id) > r.max {
		r.failed = ErrEventTooLarge
		return Event{}, false
	}
	return Event{Name: name, Data: data, ID: r.id}, true
}

// intern returns b as a string, reusing one of the last few event names so streams
// that repeat a handful of names do not allocate per event.
func (r *Reader) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range r.names {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	r.names[r.nextN] = s
	r.nextN = (r.nextN + 1) % nameCacheSize
	return s
}

// readLine returns the next line without its terminator; the slice is valid until
// the next call. A line too long to hold a maximum-size field is ErrEventTooLarge.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if r.skipLF && r.start < r.end {
			if r.buf[r.start] == '\n' {
				r.start++
			}
			r.skipLF = false
		}
		b := r.buf[r.start:r.end]
		if i := indexEOL(b[r.scanned:]); i >= 0 {
			i += r.scanned
			line := b[:i]
			r.start += i + 1
			r.scanned = 0
			if b[i] == '\r' {
				if i+1 < len(b) {
					if b[i+1] == '\n' {
						r.start++
					}
				} else {
					r.skipLF = true
				}
			}
			if !r.sawFirst {
				r.sawFirst = true
				line = bytes.TrimPrefix(line, bom)
			}
			return line, nil
		}
		r.scanned = len(b)
		if len(b) > r.maxLine {
			return nil, ErrEventTooLarge
		}
		if r.readErr != nil {
			err := r.readErr
			if len(b) > 0 {
				r.start, r.scanned = r.end, 0
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
			}
			return nil, err
		}
		r.fill()
	}
}

var bom = []byte("\xEF\xBB\xBF")

// fill reads more input, first moving unread bytes to the front of the buffer and
// doubling it when a single line fills it, or (up to busyBufSize) when the last
// read filled it.
func (r *Reader) fill() {
	if r.buf == nil {
		r.buf = make([]byte, r.released)
	}
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) || (r.busy && len(r.buf) < busyBufSize) {
		size := min(2*len(r.buf), r.maxLine+1)
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for range maxEmptyReads {
		if r.beforeRead != nil && !r.inputReady() {
			r.beforeRead()
		}
		n, err := r.rd.Read(r.buf[r.end:])
		r.busy = r.end+n == len(r.buf)
		r.end += n
		if err != nil {
			r.readErr = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.readErr = io.ErrNoProgress
}

// indexEOL returns the index of the first '\n' or '\r' in b, or -1.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	limit := b
	if i >= 0 {
		limit = b[:i]
	}
	if j := bytes.IndexByte(limit, '\r'); j >= 0 {
		return j
	}
	return i
}

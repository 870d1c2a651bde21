package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// event is one streamed Messages event, of any type; each type sets only its own
// members. The text members stay JSON-encoded (see rawString).
type event struct {
	Type         string          `json:"type"`
	Index        int             `json:"index"`
	Message      *message        `json:"message"`
	ContentBlock *contentBlock   `json:"content_block"`
	Delta        eventDelta      `json:"delta"`
	Usage        *usageJSON      `json:"usage"`
	Error        json.RawMessage `json:"error"`
}

// eventDelta is the delta of a content_block_delta or of a message_delta.
type eventDelta struct {
	Type        string    `json:"type"`
	Text        rawString `json:"text"`
	PartialJSON rawString `json:"partial_json"`
	Thinking    rawString `json:"thinking"`
	StopReason  string    `json:"stop_reason"`
}

// reset empties ev for the next event. Its text members may alias the previous
// event's data, so they are dropped rather than reused.
func (ev *event) reset() { *ev = event{} }

// errEventInvalid marks event data that is not a JSON object.
var errEventInvalid = errors.New("event data is not a JSON object")

// parseEvent fills ev from one event's data, naming the event after its "type"
// member or, when that is missing, after the SSE event name. The common
// content_block_delta is scanned by hand without allocating; anything else, or
// anything the scanner is unsure of, goes through encoding/json.
func parseEvent(name string, data []byte, ev *event) error {
	if !scanDelta(data, ev) {
		ev.reset()
		if len(data) == 0 || firstNonSpace(data) != '{' {
			return errEventInvalid
		}
		if err := json.Unmarshal(data, ev); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return errEventInvalid
			}
			// A member of an unexpected type is left empty; the event still counts.
		}
	}
	if ev.Type == "" {
		ev.Type = name
	}
	return nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// eventSource reads the events of one upstream stream, with the idle timeout and a
// Close that may be called from another goroutine while a read is blocked.
type eventSource struct {
	c      *Client
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader

	idle      *time.Timer
	idleFired atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
}

func (c *Client) newEventSource(ctx context.Context, resp *http.Response) *eventSource {
	s := &eventSource{c: c, ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body)}
	if c.idleTimeout > 0 {
		s.idle = time.AfterFunc(c.idleTimeout, func() {
			s.idleFired.Store(true)
			_ = resp.Body.Close() // unblocks Recv, which reports the idle timeout
		})
	}
	return s
}

// next returns the next event; its Data is valid until the following call.
func (s *eventSource) next() (sse.Event, error) {
	ev, err := s.events.Next()
	if err != nil {
		return ev, s.readError(err)
	}
	if s.idle != nil {
		s.idle.Reset(s.c.idleTimeout)
	}
	return ev, nil
}

// errStreamClosed is what Recv returns after Close.
var errStreamClosed = errors.New("anthropic: stream is closed")

// readError explains why reading the stream stopped before message_stop.
func (s *eventSource) readError(err error) error {
	switch {
	case s.idleFired.Load():
		return &providers.UpstreamError{Timeout: true,
			Message: "stream stalled: no event for " + s.c.idleTimeout.String()}
	case s.closed.Load():
		return errStreamClosed
	case s.ctx.Err() != nil:
		return s.c.transportError(s.ctx, "reading the stream", err)
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return truncated()
	case err == sse.ErrEventTooLarge:
		return &providers.UpstreamError{Code: "invalid_response",
			Message: "upstream sent a stream event larger than the event size limit"}
	}
	return s.c.transportError(s.ctx, "reading the stream", err)
}

// truncated is the error of a stream that ended without message_stop: the answer
// may be incomplete, so it is never reported as a normal end.
func truncated() *providers.UpstreamError {
	return &providers.UpstreamError{Code: "stream_truncated",
		Message: "upstream closed the stream before message_stop"}
}

// invalidEvent is the error of an event whose data is not JSON.
func (s *eventSource) invalidEvent(data []byte) *providers.UpstreamError {
	return &providers.UpstreamError{Code: "invalid_chunk",
		Message: "upstream sent a stream event that is not a JSON object: " + s.c.redact(truncate(string(bytes.TrimSpace(data)), 200))}
}

// Close releases the upstream connection; safe to call more than once and from
// another goroutine while Recv is blocked.
func (s *eventSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.idle != nil {
			s.idle.Stop()
		}
		_ = s.body.Close() // a response body being abandoned: its close error tells nothing
	})
	return nil
}

// BeforeWait calls f before each read that may wait for the upstream
// (providers.WaitHooker).
func (s *eventSource) BeforeWait(f func()) { s.events.BeforeRead(f) }

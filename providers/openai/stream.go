package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// ChatStream sends a streaming chat completion. An upstream refusal is returned here,
// before any chunk, so the gateway can still fail over to another channel.
func (c *Client) ChatStream(ctx context.Context, req *providers.ChatRequest) (providers.ChatStream, error) {
	resp, err := c.send(ctx, http.MethodPost, c.endpoint("/chat/completions", req.Model, req.Body), c.chatBody(req.Body), true)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) {
		defer resp.Body.Close()
		return nil, c.errorFromResponse(resp)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// Some hosts answer a streaming request with a JSON error and status 200.
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if hasError(body) {
			return nil, c.errorFromBody(0, body)
		}
		return nil, c.invalidResponse("upstream answered a streaming request with JSON, not an event stream")
	}
	resp.Request = nil // the body keeps the answer (for trailers) while the stream lasts: not the request too
	s := &stream{c: c, ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body)}
	if c.idleTimeout > 0 {
		s.idle = time.AfterFunc(c.idleTimeout, func() {
			s.idleFired.Store(true)
			_ = resp.Body.Close() // unblocks Recv, which reports the idle timeout
		})
	}
	return s, nil
}

// errStreamClosed is what Recv returns after Close.
var errStreamClosed = errors.New("openai: stream is closed")

// stream reads chat.completion.chunk events until "data: [DONE]".
type stream struct {
	c      *Client
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	parser chunkParser
	err    error // sticky: returned by every Recv after the stream ended

	idle      *time.Timer
	idleFired atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once

	beforeWait func() // the relay's hook, also called by Park
}

// Recv returns the next chunk, io.EOF after "data: [DONE]", or an
// *providers.UpstreamError if the upstream sent an error or broke off.
func (s *stream) Recv() (providers.Chunk, error) {
	if s.err != nil {
		return providers.Chunk{}, s.err
	}
	ch, err := s.next()
	if err != nil {
		s.err = err
	}
	return ch, err
}

func (s *stream) next() (providers.Chunk, error) {
	for {
		ev, err := s.events.Next()
		if err != nil {
			return providers.Chunk{}, s.readError(err)
		}
		if s.idle != nil {
			s.idle.Reset(s.c.idleTimeout)
		}
		data := ev.Data
		trimmed := bytes.TrimSpace(data)
		switch {
		case ev.Name == "error":
			return providers.Chunk{}, s.c.errorFromBody(0, data)
		case ev.Name != "" && ev.Name != "message", len(trimmed) == 0:
			continue // not a completion chunk: a host's keep-alive or extension
		case string(trimmed) == "[DONE]":
			return providers.Chunk{}, io.EOF
		}
		switch s.parser.parse(data) {
		case errChunkError:
			return providers.Chunk{}, s.c.errorFromBody(0, data)
		case errChunkInvalid:
			return providers.Chunk{}, &providers.UpstreamError{Code: "invalid_chunk",
				Message: "upstream sent a stream event that is not a JSON chunk: " + s.c.redact(truncate(string(data), 200))}
		}
		ch := providers.Chunk{Data: bytes.Clone(data)}
		if len(s.parser.text) > 0 {
			ch.Text = string(s.parser.text)
		}
		if s.parser.hasUsage {
			ch.Usage = s.parser.usage.toUsage()
			ch.UsageOnly = s.parser.choices == 0
		}
		return ch, nil
	}
}

// readError explains why reading the stream stopped before "data: [DONE]".
func (s *stream) readError(err error) error {
	switch {
	case s.idleFired.Load():
		return &providers.UpstreamError{Timeout: true,
			Message: "stream stalled: no event for " + s.c.idleTimeout.String()}
	case s.closed.Load():
		return errStreamClosed
	case s.ctx.Err() != nil:
		return s.c.transportError(s.ctx, "reading the stream", err)
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return &providers.UpstreamError{Code: "stream_truncated",
			Message: "upstream closed the stream before data: [DONE]"}
	case err == sse.ErrEventTooLarge:
		return &providers.UpstreamError{Code: "invalid_response",
			Message: "upstream sent a stream event larger than the event size limit"}
	}
	return s.c.transportError(s.ctx, "reading the stream", err)
}

// Close releases the upstream connection; safe to call more than once and from
// another goroutine while Recv is blocked.
func (s *stream) Close() error {
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
func (s *stream) BeforeWait(f func()) { s.beforeWait = f; s.events.BeforeRead(f) }

// Quiet and Park let the relay's goroutine end while the upstream is quiet
// (providers.Parker), where the body's transport can.
func (s *stream) Quiet(linger time.Duration) bool {
	p, ok := s.body.(parkingBody)
	if !ok || s.err != nil || s.events.Pending() || p.Ready() {
		return false // more is here: no wait, and no flush before one
	}
	if s.beforeWait != nil {
		s.beforeWait()
	}
	return p.Quiet(linger)
}

func (s *stream) Park(wake func()) bool {
	p, ok := s.body.(parkingBody)
	if !ok || s.err != nil || s.events.Pending() {
		return false
	}
	s.events.Release() // a parked stream keeps no read buffer
	return p.Park(wake)
}

// parkingBody is a body whose reader can wait without a goroutine (internal/h1).
type parkingBody interface {
	Quiet(linger time.Duration) bool
	Park(wake func()) bool
	Ready() bool
}

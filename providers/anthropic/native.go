package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/tollgate-gw/tollgate/providers"
)

// MessagesRequest is an Anthropic-format call from the gateway's /v1/messages
// ingress, to be forwarded to an Anthropic channel without translation.
type MessagesRequest struct {
	// Body is the client's Messages JSON, already rewritten by the gateway (model
	// mapped, max_tokens checked). It is sent byte for byte, so no member a client
	// sends is ever dropped; its "stream" member must agree with Stream.
	Body []byte
	// Model is the upstream model name, for the gateway's records; the body's
	// model member is what Anthropic reads.
	Model string
	// Stream says the body asks for an event stream.
	Stream bool
}

// MessagesResponse is Anthropic's complete answer, verbatim, with its usage.
type MessagesResponse struct {
	Body  []byte           // the message JSON as the client will receive it
	Usage *providers.Usage // nil when the upstream reported none
}

// NativeStream yields the events of a streaming Messages answer as they arrive,
// verbatim, so the gateway can relay them to an Anthropic-format client unchanged.
type NativeStream interface {
	// Recv returns the next event, including ping and event types this adapter does
	// not know; io.EOF after message_stop. An error event, or a stream that ends
	// before message_stop, is an *providers.UpstreamError, and the event itself is
	// not returned: the relay writes its own error event (see ErrorJSON).
	Recv() (NativeEvent, error)
	// Close releases the upstream connection; safe to call more than once and from
	// another goroutine while Recv is blocked.
	Close() error
}

// NativeEvent is one upstream event with what billing needs read out of it.
type NativeEvent struct {
	// Name is the SSE event name (the data's type when the upstream sent none).
	Name string
	// Data is the event's JSON, owned by the caller.
	Data []byte
	// Text is the generated text the event carries (text, thinking and tool input
	// deltas), so the gateway can estimate usage if the stream breaks.
	Text string
	// Usage is the running usage, set on the events that change it: message_start
	// (input and cache counts exact; output a token or two) and message_delta
	// (output cumulative). OutputTokens is final only once message_delta arrived: a
	// stream that breaks before should bill these input counts and estimate the
	// output from Text.
	Usage *providers.Usage
}

// Messages forwards a non-streaming Messages call and returns Anthropic's answer
// verbatim with the usage it reported.
func (c *Client) Messages(ctx context.Context, req *MessagesRequest) (*MessagesResponse, error) {
	data, err := c.call(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	var m struct {
		Type  string          `json:"type"`
		Error json.RawMessage `json:"error"`
		Usage json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, c.invalidResponse("answer is not valid JSON")
		}
	}
	if m.Type == "error" || (len(m.Error) > 0 && string(m.Error) != "null") {
		return nil, c.errorFromBody(0, data)
	}
	resp := &MessagesResponse{Body: data}
	if len(m.Usage) > 0 && m.Usage[0] == '{' {
		var u usageJSON
		_ = json.Unmarshal(m.Usage, &u) // a member of the wrong type stays zero
		var t tally
		t.merge(&u)
		resp.Usage = t.usage()
	}
	return resp, nil
}

// MessagesStream forwards a streaming Messages call. An upstream refusal is
// returned here, before any event, so the gateway can still fail over.
func (c *Client) MessagesStream(ctx context.Context, req *MessagesRequest) (NativeStream, error) {
	resp, err := c.openStream(ctx, req.Body)
	if err != nil {
		return nil, err
	}
	return &nativeStream{eventSource: c.newEventSource(ctx, resp)}, nil
}

// nativeStream reads events and hands them on unchanged.
type nativeStream struct {
	*eventSource
	ev    event
	tally tally
	err   error // sticky
}

// Recv implements NativeStream.
func (s *nativeStream) Recv() (NativeEvent, error) {
	if s.err != nil {
		return NativeEvent{}, s.err
	}
	raw, err := s.next()
	if err != nil {
		s.err = err
		return NativeEvent{}, err
	}
	ev := &s.ev
	if err := parseEvent(raw.Name, raw.Data, ev); err != nil {
		s.err = s.invalidEvent(raw.Data)
		return NativeEvent{}, s.err
	}
	out := NativeEvent{Name: raw.Name, Data: bytes.Clone(raw.Data)}
	if out.Name == "" {
		out.Name = ev.Type
	}
	switch ev.Type {
	case "error":
		s.err = s.c.errorFromBody(0, raw.Data)
		return NativeEvent{}, s.err
	case "message_start":
		if ev.Message != nil {
			s.tally.merge(ev.Message.Usage)
			out.Usage = s.tally.usage()
		}
	case "content_block_start":
		if cb := ev.ContentBlock; cb != nil {
			out.Text = cb.Text + cb.Thinking
		}
	case "content_block_delta":
		d := &ev.Delta
		switch d.Type {
		case "text_delta":
			out.Text = d.Text.text()
		case "thinking_delta":
			out.Text = d.Thinking.text()
		case "input_json_delta":
			out.Text = d.PartialJSON.text()
		}
	case "message_delta":
		s.tally.merge(ev.Usage)
		out.Usage = s.tally.usage()
	case "message_stop":
		s.err = io.EOF
	}
	return out, nil
}

package anthropic

import (
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// PartialUsager is implemented by this package's chat streams. A stream that breaks
// after message_start has still told exactly how many input and cache tokens the
// call used; the router can bill those and estimate only the output.
type PartialUsager interface {
	// PartialUsage returns the usage reported so far, or nil before message_start.
	// Its OutputTokens is a lower bound until the stream ended normally: Anthropic
	// reports the output count at message_start (a token or two) and again, final,
	// in message_delta.
	PartialUsage() *providers.Usage
}

// ChatStream translates an OpenAI chat completion into a streaming Messages call.
// An upstream refusal is returned here, before any chunk, so the gateway can still
// fail over to another channel.
func (c *Client) ChatStream(ctx context.Context, req *providers.ChatRequest) (providers.ChatStream, error) {
	body, err := translateRequest(req.Body, req.Model, true)
	if err != nil {
		return nil, err
	}
	resp, err := c.openStream(ctx, body)
	if err != nil {
		return nil, err
	}
	return &chatStream{eventSource: c.newEventSource(ctx, resp), model: req.Model}, nil
}

var _ PartialUsager = (*chatStream)(nil)

// Kinds of content block, by what their deltas become in OpenAI's format.
const (
	blockOther    uint8 = iota // server tools, redacted thinking, future types: dropped
	blockText                  // content
	blockThinking              // reasoning_content
	blockTool                  // tool_calls
)

// maxBlocks bounds the content block index the stream keeps state for, so a
// broken upstream cannot make it allocate without limit.
const maxBlocks = 4096

type blockState struct {
	kind    uint8
	tool    int  // the block's index among the answer's tool calls
	hasArgs bool // some argument text was sent
}

// chatStream turns Messages events into chat.completion.chunk events one by one,
// as they arrive: each Recv reads events until one produces a chunk.
type chatStream struct {
	*eventSource
	model string // fallback when message_start names none

	ev       event
	started  bool // message_start was seen: later events belong to the answer
	head     []byte
	blocks   []blockState
	tools    int // tool calls so far
	tally    tally
	finished bool // the finish_reason chunk was sent
	pending  []providers.Chunk
	sent     int   // chunks of pending already returned
	err      error // sticky; returned once pending is drained
	usage    atomic.Pointer[providers.Usage]
}

// Recv returns the next chunk: the role chunk (at message_start), content,
// reasoning and tool call chunks, the finish chunk (at message_delta), and at
// message_stop a usage-only chunk carrying Usage; then io.EOF. An error event, or a
// stream that ends before message_stop, is an *providers.UpstreamError.
func (s *chatStream) Recv() (providers.Chunk, error) {
	for s.sent == len(s.pending) {
		s.pending, s.sent = s.pending[:0], 0
		if s.err != nil {
			return providers.Chunk{}, s.err
		}
		if err := s.step(); err != nil {
			s.err = err
		}
	}
	ch := s.pending[s.sent]
	s.pending[s.sent] = providers.Chunk{}
	s.sent++
	return ch, nil
}

// PartialUsage implements PartialUsager.
func (s *chatStream) PartialUsage() *providers.Usage {
	if u := s.usage.Load(); u != nil {
		c := *u
		return &c
	}
	return nil
}

// step reads one event and queues the chunks it translates to, if any.
func (s *chatStream) step() error {
	raw, err := s.next()
	if err != nil {
		return err
	}
	ev := &s.ev
	if err := parseEvent(raw.Name, raw.Data, ev); err != nil {
		return s.invalidEvent(raw.Data)
	}
	switch ev.Type {
	case "error":
		return s.c.errorFromBody(0, raw.Data)
	case "message_start":
		if s.started || ev.Message == nil {
			return nil
		}
		s.start(ev.Message)
		return nil
	}
	if !s.started {
		return nil // out of order: nothing of the answer can be placed before message_start
	}
	switch ev.Type {
	case "content_block_start":
		s.blockStart(ev)
	case "content_block_delta":
		s.blockDelta(ev)
	case "content_block_stop":
		if b := s.block(ev.Index); b != nil && b.kind == blockTool && !b.hasArgs {
			// A tool without input streams no argument text; OpenAI clients parse the
			// arguments, so send the empty object explicitly.
			b.hasArgs = true
			s.pushDelta(appendToolArgs(s.begin(0), b.tool, []byte(`"{}"`)), "")
		}
	case "message_delta":
		s.tally.merge(ev.Usage)
		s.usage.Store(s.tally.usage())
		if ev.Delta.StopReason != "" && !s.finished {
			s.finish(finishReason(ev.Delta.StopReason))
		}
	case "message_stop":
		if !s.finished {
			s.finish("stop")
		}
		u := s.tally.usage()
		b := append(make([]byte, 0, len(s.head)+160), s.head...)
		b = append(b, `,"choices":[],"usage":`...)
		b = appendOpenAIUsage(b, u)
		b = append(b, '}')
		s.pending = append(s.pending, providers.Chunk{Data: b, Usage: u, UsageOnly: true})
		return io.EOF
	}
	// ping, and event types added after this adapter was written, carry nothing.
	return nil
}

// start handles message_start: it fixes the chunk head and sends the role chunk.
func (s *chatStream) start(m *message) {
	s.started = true
	model := m.Model
	if model == "" {
		model = s.model
	}
	s.head = chunkHead(m.ID, model, time.Now().Unix())
	s.tally.merge(m.Usage)
	s.usage.Store(s.tally.usage())
	b := append(s.begin(0), `{"role":"assistant","content":""}`...)
	s.pushDelta(b, "")
}

// block returns the state of content block i, growing the table as needed; nil for
// an index out of range.
func (s *chatStream) block(i int) *blockState {
	if i < 0 || i >= maxBlocks {
		return nil
	}
	for len(s.blocks) <= i {
		s.blocks = append(s.blocks, blockState{})
	}
	return &s.blocks[i]
}

func (s *chatStream) blockStart(ev *event) {
	b := s.block(ev.Index)
	cb := ev.ContentBlock
	if b == nil || cb == nil {
		return
	}
	*b = blockState{}
	switch cb.Type {
	case "text":
		b.kind = blockText
		if cb.Text != "" {
			s.pushDelta(appendContent(s.begin(len(cb.Text)+8), "content", appendString(nil, cb.Text)), cb.Text)
		}
	case "thinking":
		b.kind = blockThinking
		if cb.Thinking != "" {
			s.pushDelta(appendContent(s.begin(len(cb.Thinking)+8), "reasoning_content", appendString(nil, cb.Thinking)), cb.Thinking)
		}
	case "tool_use":
		b.kind, b.tool = blockTool, s.tools
		s.tools++
		d := append(s.begin(len(cb.ID)+len(cb.Name)), `{"tool_calls":[{"index":`...)
		d = strconv.AppendInt(d, int64(b.tool), 10)
		d = append(d, `,"id":`...)
		d = appendString(d, cb.ID)
		d = append(d, `,"type":"function","function":{"name":`...)
		d = appendString(d, cb.Name)
		d = append(d, `,"arguments":""}}]}`...)
		s.pushDelta(d, "")
	}
}

func (s *chatStream) blockDelta(ev *event) {
	d := &ev.Delta
	switch d.Type {
	case "text_delta":
		if !d.Text.empty() {
			s.pushDelta(appendContent(s.begin(len(d.Text)), "content", d.Text), d.Text.text())
		}
	case "thinking_delta":
		if !d.Thinking.empty() {
			s.pushDelta(appendContent(s.begin(len(d.Thinking)), "reasoning_content", d.Thinking), d.Thinking.text())
		}
	case "input_json_delta":
		b := s.block(ev.Index)
		if b == nil || b.kind != blockTool || d.PartialJSON.empty() {
			return // no tool_use block to attach it to, or nothing to send
		}
		b.hasArgs = true
		s.pushDelta(appendToolArgs(s.begin(len(d.PartialJSON)), b.tool, d.PartialJSON), d.PartialJSON.text())
	}
	// signature_delta and citations_delta have no OpenAI counterpart.
}

// finish queues the chunk carrying finish_reason.
func (s *chatStream) finish(reason string) {
	s.finished = true
	b := append(s.begin(0), `{},"logprobs":null,"finish_reason":`...)
	b = appendString(b, reason)
	b = append(b, `}]}`...)
	s.pending = append(s.pending, providers.Chunk{Data: b})
}

// begin starts a chunk with one choice, up to its delta; n is the size of the text
// the delta will carry, so the chunk is allocated once.
func (s *chatStream) begin(n int) []byte {
	const extra = len(`,"choices":[{"index":0,"delta":`) + len(`,"logprobs":null,"finish_reason":null}]}`) + 96
	b := make([]byte, 0, len(s.head)+extra+n)
	b = append(b, s.head...)
	return append(b, `,"choices":[{"index":0,"delta":`...)
}

// pushDelta ends a chunk begun with begin and a delta appended, and queues it.
func (s *chatStream) pushDelta(b []byte, text string) {
	b = append(b, `,"logprobs":null,"finish_reason":null}]}`...)
	s.pending = append(s.pending, providers.Chunk{Data: b, Text: text})
}

// appendContent appends the delta {"<member>":<str>}, str being an encoded JSON string.
func appendContent(b []byte, member string, str []byte) []byte {
	b = append(b, `{"`...)
	b = append(b, member...)
	b = append(b, `":`...)
	b = append(b, str...)
	return append(b, '}')
}

// appendToolArgs appends a delta carrying argument text (an encoded JSON string)
// for tool call index.
func appendToolArgs(b []byte, index int, args []byte) []byte {
	b = append(b, `{"tool_calls":[{"index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"function":{"arguments":`...)
	b = append(b, args...)
	return append(b, `}}]}`...)
}

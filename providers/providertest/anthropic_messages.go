package providertest

import (
	"net/http"
	"strconv"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

// anthropicSignature stands in for the opaque signature of a thinking block.
const anthropicSignature = "EqQBCkgIARABGAIiQFakeSignatureForTestsOnly0123456789abcdefghijklmnopqrstuvwxyz"

// anthropicPlan is an AnthropicBehavior with its content events built once, so
// serving a call only adds the parts that depend on the request.
type anthropicPlan struct {
	AnthropicBehavior
	stop   string
	tool   AnthropicToolUse
	events []anthropicPlanEvent // content block events, in stream order
	deltas int                  // how many of events are content deltas
}

// anthropicPlanEvent is one prepared stream event; content marks a content delta, before
// which delays and faults apply.
type anthropicPlanEvent struct {
	name    string
	data    []byte
	content bool
}

func newAnthropicPlan(b *AnthropicBehavior) *anthropicPlan {
	p := &anthropicPlan{AnthropicBehavior: *b}
	if p.Text == "" && p.ToolUse == nil {
		p.Text = DefaultText
	}
	if p.ToolUse != nil {
		p.tool = *p.ToolUse
		if p.tool.ID == "" {
			p.tool.ID = "toolu_fake01"
		}
		if p.tool.Input == "" {
			p.tool.Input = "{}"
		}
		if p.tool.Pieces <= 0 {
			p.tool.Pieces = 3
		}
	}
	p.stop = p.StopReason
	if p.stop == "" {
		p.stop = "end_turn"
		if p.ToolUse != nil {
			p.stop = "tool_use"
		}
	}
	p.build()
	return p
}

// build prepares the content events as Anthropic streams them: each block's
// content_block_start, its deltas and its content_block_stop, with a ping after the
// first block starts.
func (p *anthropicPlan) build() {
	index := 0
	add := func(name string, data []byte, content bool) {
		p.events = append(p.events, anthropicPlanEvent{name: name, data: data, content: content})
		if content {
			p.deltas++
		}
	}
	start := func(block string) {
		b := append([]byte(`{"type":"content_block_start","index":`), strconv.Itoa(index)...)
		add("content_block_start", append(append(append(b, `,"content_block":`...), block...), '}'), false)
		if index == 0 {
			add("ping", []byte(`{"type": "ping"}`), false)
		}
	}
	delta := func(typ, member, value string, content bool) {
		b := append([]byte(`{"type":"content_block_delta","index":`), strconv.Itoa(index)...)
		b = append(b, `,"delta":{"type":"`+typ+`","`+member+`":`...)
		b = appendString(b, value)
		add("content_block_delta", append(b, "}}"...), content)
	}
	stop := func() {
		add("content_block_stop", append(append([]byte(`{"type":"content_block_stop","index":`), strconv.Itoa(index)...), '}'), false)
		index++
	}
	if p.Thinking != "" {
		start(`{"type":"thinking","thinking":"","signature":""}`)
		for _, piece := range split(p.Thinking, p.Chunks) {
			delta("thinking_delta", "thinking", piece, true)
		}
		delta("signature_delta", "signature", anthropicSignature, false)
		stop()
	}
	if p.Text != "" {
		start(`{"type":"text","text":""}`)
		for _, piece := range split(p.Text, p.Chunks) {
			delta("text_delta", "text", piece, true)
		}
		stop()
	}
	if p.ToolUse != nil {
		block := append([]byte(`{"type":"tool_use","id":`), appendString(nil, p.tool.ID)...)
		block = append(append(append(block, `,"name":`...), appendString(nil, p.tool.Name)...), `,"input":{}}`...)
		start(string(block))
		delta("input_json_delta", "partial_json", "", false)
		for _, piece := range split(p.tool.Input, p.tool.Pieces) {
			delta("input_json_delta", "partial_json", piece, true)
		}
		stop()
	}
}

// anthropicCall is one request being answered.
type anthropicCall struct {
	h       *AnthropicHandler
	w       http.ResponseWriter
	r       *http.Request
	p       *anthropicPlan
	req     *anthropicRequest
	bodyLen int
	n       int64
}

// usage returns the counts to report: see AnthropicBehavior.InputTokens and
// OutputTokens.
func (c *anthropicCall) usage() (input, output int) {
	input = c.p.InputTokens
	if input == 0 {
		input = (c.bodyLen + 3) / 4
	}
	output = c.p.OutputTokens
	if output == 0 {
		output = max(1, c.p.deltas)
	}
	return input, output
}

// appendUsage appends the usage object of a complete message (and of
// message_start, with the output so far).
func (c *anthropicCall) appendUsage(b []byte, output int) []byte {
	input, _ := c.usage()
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, int64(c.p.CacheCreationTokens), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(c.p.CacheReadTokens), 10)
	b = append(b, `,"cache_creation":{"ephemeral_5m_input_tokens":`...)
	b = strconv.AppendInt(b, int64(c.p.CacheCreationTokens), 10)
	b = append(b, `,"ephemeral_1h_input_tokens":0},"output_tokens":`...)
	b = strconv.AppendInt(b, int64(output), 10)
	return append(b, `,"service_tier":"standard"}`...)
}

// appendMessageHead appends a message up to its content.
func (c *anthropicCall) appendMessageHead(b []byte) []byte {
	b = append(b, `{"id":"msg_fake`...)
	b = strconv.AppendInt(b, c.n, 10)
	b = append(b, `","type":"message","role":"assistant","model":`...)
	return appendString(b, c.req.Model)
}

// complete answers a non-streaming Messages call.
func (c *anthropicCall) complete() {
	if c.p.RawBody != "" {
		c.writeJSON([]byte(c.p.RawBody))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := c.appendMessageHead(*buf)
	b = append(b, `,"content":[`...)
	sep := ""
	if c.p.Thinking != "" {
		b = append(b, `{"type":"thinking","thinking":`...)
		b = appendString(b, c.p.Thinking)
		b = append(b, `,"signature":"`+anthropicSignature+`"}`...)
		sep = ","
	}
	if c.p.Text != "" {
		b = append(b, sep+`{"type":"text","text":`...)
		b = appendString(b, c.p.Text)
		b = append(b, '}')
		sep = ","
	}
	if c.p.ToolUse != nil {
		b = append(b, sep+`{"type":"tool_use","id":`...)
		b = appendString(b, c.p.tool.ID)
		b = append(b, `,"name":`...)
		b = appendString(b, c.p.tool.Name)
		b = append(b, `,"input":`...)
		b = append(b, c.p.tool.Input...)
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":`...)
	b = appendString(b, c.p.stop)
	b = append(b, `,"stop_sequence":null,"usage":`...)
	_, output := c.usage()
	b = c.appendUsage(b, output)
	b = append(b, '}')
	*buf = b
	c.writeJSON(b)
}

// writeJSON sends a complete JSON answer, applying the plan's fault to it.
func (c *anthropicCall) writeJSON(body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", anthropicRequestID(c.n))
	switch c.p.Fault {
	case FaultStall:
		anthropicStall(c.r, c.h.done)
		return
	case FaultMalformed:
		body = body[:len(body)/2]
	case FaultErrorEvent:
		body = appendAnthropicError(nil, AnthropicOverloadedError(), c.n)
	case FaultCut:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		c.w.WriteHeader(http.StatusOK)
		c.w.Write(body[:len(body)/2])
		http.NewResponseController(c.w).Flush()
		panic(http.ErrAbortHandler) // the server drops the connection
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(body)
}

// countTokens answers POST /v1/messages/count_tokens.
func (c *anthropicCall) countTokens() {
	input, _ := c.usage()
	c.writeJSON(append(strconv.AppendInt([]byte(`{"input_tokens":`), int64(input+c.p.CacheCreationTokens+c.p.CacheReadTokens), 10), '}'))
}

// anthropicUnknownEvent is an event type Anthropic's versioning policy allows it to add.
const anthropicUnknownEvent = `{"type":"message_annotation","annotation":{"kind":"test","note":"an event type clients do not know yet"}}`

// stream answers a streaming Messages call with Anthropic's event sequence:
// message_start, the content blocks (with a ping after the first starts),
// message_delta with the cumulative usage, message_stop.
func (c *anthropicCall) stream() {
	h := c.w.Header()
	sse.SetHeaders(h)
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Request-Id", anthropicRequestID(c.n))
	c.w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(c.w)

	if c.p.RawEvents != nil {
		for i, e := range c.p.RawEvents {
			if !c.beforeDelta(sw, i) || sw.WriteEvent(e.Name, []byte(e.Data)) != nil {
				return
			}
		}
		c.faultAt(len(c.p.RawEvents), sw)
		return
	}

	buf := getBuf()
	defer putBuf(buf)
	b := append((*buf)[:0], `{"type":"message_start","message":`...)
	b = c.appendMessageHead(b)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	b = c.appendUsage(b, 1)
	b = append(b, `}}`...)
	*buf = b
	if sw.WriteEvent("message_start", b) != nil {
		return
	}
	if c.p.UnknownEvents && sw.WriteEvent("message_annotation", []byte(anthropicUnknownEvent)) != nil {
		return
	}
	delta := 0
	for _, e := range c.p.events {
		if e.content {
			if !c.beforeDelta(sw, delta) {
				return
			}
			delta++
		}
		if sw.WriteEvent(e.name, e.data) != nil {
			return
		}
	}
	if !c.faultAt(delta, sw) {
		return
	}
	if c.p.UnknownEvents && sw.WriteEvent("message_annotation", []byte(anthropicUnknownEvent)) != nil {
		return
	}
	input, output := c.usage()
	b = append((*buf)[:0], `{"type":"message_delta","delta":{"stop_reason":`...)
	b = appendString(b, c.p.stop)
	b = append(b, `,"stop_sequence":null},"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, int64(c.p.CacheCreationTokens), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(c.p.CacheReadTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(output), 10)
	b = append(b, `}}`...)
	*buf = b
	if sw.WriteEvent("message_delta", b) != nil || c.p.NoMessageStop {
		return
	}
	sw.WriteEvent("message_stop", []byte(`{"type":"message_stop"}`))
}

// beforeDelta strikes the fault due before content delta i, then waits the chunk
// delay; false means the stream is over.
func (c *anthropicCall) beforeDelta(sw *sse.Writer, i int) bool {
	return c.faultAt(i, sw) && anthropicWait(c.r, c.h.done, c.p.ChunkDelay)
}

// faultAt strikes the plan's fault if it is due after i content deltas (a
// FaultAfter beyond the last strikes after the last), and reports whether the
// stream carries on.
func (c *anthropicCall) faultAt(i int, sw *sse.Writer) bool {
	last := c.p.deltas
	if c.p.RawEvents != nil {
		last = len(c.p.RawEvents)
	}
	if c.p.Fault == FaultNone || i != min(c.p.FaultAfter, last) {
		return true
	}
	switch c.p.Fault {
	case FaultCut:
		panic(http.ErrAbortHandler) // everything before was flushed; now drop the connection
	case FaultStall:
		anthropicStall(c.r, c.h.done)
		return false
	case FaultMalformed:
		return sw.WriteEvent("content_block_delta", []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut`)) == nil
	case FaultErrorEvent:
		sw.WriteEvent("error", appendAnthropicError(nil, AnthropicOverloadedError(), c.n))
		return false
	}
	return true
}

// stallUntil holds the call until the client leaves or done closes.
func anthropicStall(r *http.Request, done <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-done:
	}
}

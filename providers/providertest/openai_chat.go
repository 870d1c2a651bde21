package providertest

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

// systemFingerprint stands in for the backend configuration OpenAI reports.
const systemFingerprint = "fp_7a1c0ffee0"

// call is one request being answered.
type call struct {
	h       *OpenAIHandler
	w       http.ResponseWriter
	r       *http.Request
	p       *plan
	req     *request
	bodyLen int
}

// bufPool holds the buffers answers are built in.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { *b = (*b)[:0]; bufPool.Put(b) }

// choices is the number of choices the request asked for.
func (c *call) choices() int { return max(1, c.req.N) }

// tokens returns the usage to report: see Behavior.PromptTokens and CompletionTokens.
func (c *call) tokens() (prompt, completion int) {
	prompt = c.p.PromptTokens
	if prompt == 0 {
		prompt = (c.bodyLen + 3) / 4
	}
	completion = c.p.CompletionTokens
	if completion == 0 {
		completion = c.req.maxTokens()
	}
	if completion == 0 {
		completion = len(c.p.pieces)
	}
	return prompt, completion * c.choices()
}

// appendHead appends the members every chat answer starts with.
func (c *call) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":"chatcmpl-fake`...)
	b = strconv.AppendInt(b, c.h.count.Load(), 10)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	b = append(b, `,"model":`...)
	return appendString(b, c.req.Model)
}

// complete answers a non-streaming chat completion.
func (c *call) complete() {
	if c.p.RawBody != "" {
		c.writeJSON([]byte(c.p.RawBody))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := c.appendHead(*buf, "chat.completion")
	b = append(b, `,"choices":[`...)
	for i := range c.choices() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		b = appendString(b, c.p.Text)
		b = append(b, `,"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":`...)
		b = appendString(b, c.p.FinishReason)
		b = append(b, '}')
	}
	b = append(b, ']')
	if !c.p.NoUsage {
		prompt, completion := c.tokens()
		b = append(b, `,"usage":`...)
		b = appendUsage(b, prompt, completion, c.p.CachedTokens, c.p.ReasoningTokens)
	}
	b = append(b, `,"service_tier":"default","system_fingerprint":"`+systemFingerprint+`"}`...)
	*buf = b
	c.writeJSON(b)
}

// writeJSON sends a complete JSON answer, applying the plan's fault to it.
func (c *call) writeJSON(body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", "req_fake"+strconv.FormatInt(c.h.count.Load(), 10))
	switch c.p.Fault {
	case FaultStall:
		c.h.stall(c.r)
		return
	case FaultMalformed:
		body = body[:len(body)/2]
	case FaultErrorEvent:
		body = appendError(nil, ServerError())
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

// writeError sends an OpenAI error answer.
func writeError(w http.ResponseWriter, e *APIError) {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendError(*buf, e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	w.WriteHeader(e.Status)
	w.Write(*buf)
}

// stream answers a streaming chat completion as OpenAI does: a chunk with the role,
// one chunk per piece of text, a chunk with the finish reason, then (if the request
// set stream_options.include_usage) a chunk with usage and no choices, then
// "data: [DONE]". With n > 1 each of those chunks is sent once per choice.
func (c *call) stream() {
	h := c.w.Header()
	sse.SetHeaders(h)
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Request-Id", "req_fake"+strconv.FormatInt(c.h.count.Load(), 10))
	c.w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(c.w)

	if c.p.RawEvents != nil {
		for i, e := range c.p.RawEvents {
			if !c.beforeChunk(sw, i) {
				return
			}
			if sw.WriteData([]byte(e)) != nil {
				return
			}
		}
		if c.faultAt(len(c.p.RawEvents)) && !c.fault(sw) {
			return
		}
		sw.WriteDone()
		return
	}

	buf := getBuf()
	defer putBuf(buf)
	head := c.appendHead(nil, "chat.completion.chunk")
	head = append(head, `,"service_tier":"default","system_fingerprint":"`+systemFingerprint+`","choices":[`...)
	tail := "}"
	if c.req.includeUsage() {
		tail = `,"usage":null}` // OpenAI sends usage null on every chunk but the last
	}
	send := func(delta, finish string, content *string) bool {
		for i := range c.choices() {
			b := append((*buf)[:0], head...)
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `,"delta":`...)
			b = append(b, delta...)
			if content != nil {
				b = appendString(b, *content)
				b = append(b, '}')
			}
			b = append(b, `,"logprobs":null,"finish_reason":`...)
			b = append(b, finish...)
			b = append(b, ']')
			b = append(b, tail...)
			*buf = b
			if sw.WriteData(b) != nil {
				return false
			}
		}
		return true
	}

	if !send(`{"role":"assistant","content":"","refusal":null}`, "null}", nil) {
		return
	}
	for i := range c.p.pieces {
		if !c.beforeChunk(sw, i) || !send(`{"content":`, "null}", &c.p.pieces[i]) {
			return
		}
	}
	if c.faultAt(len(c.p.pieces)) && !c.fault(sw) {
		return
	}
	finish := string(appendString(nil, c.p.FinishReason)) + "}"
	if !send(`{}`, finish, nil) {
		return
	}
	if c.req.includeUsage() && !c.p.NoUsage {
		prompt, completion := c.tokens()
		b := append((*buf)[:0], head[:len(head)-len(`,"choices":[`)]...)
		b = append(b, `,"choices":[],"usage":`...)
		b = appendUsage(b, prompt, completion, c.p.CachedTokens, c.p.ReasoningTokens)
		b = append(b, '}')
		*buf = b
		if sw.WriteData(b) != nil {
			return
		}
	}
	sw.WriteDone()
}

// beforeChunk waits the chunk delay and strikes the fault due before chunk i; false
// means the stream is over.
func (c *call) beforeChunk(sw *sse.Writer, i int) bool {
	if c.faultAt(i) && !c.fault(sw) {
		return false
	}
	return c.h.wait(c.r, c.p.ChunkDelay)
}

// faultAt reports whether the plan's fault strikes after i content chunks; a
// FaultAfter beyond the last chunk strikes after the last one.
func (c *call) faultAt(i int) bool {
	if c.p.Fault == FaultNone {
		return false
	}
	last := len(c.p.pieces)
	if c.p.RawEvents != nil {
		last = len(c.p.RawEvents)
	}
	return i == min(c.p.FaultAfter, last)
}

// fault breaks the stream; it reports whether the stream carries on afterwards.
func (c *call) fault(sw *sse.Writer) bool {
	switch c.p.Fault {
	case FaultCut:
		panic(http.ErrAbortHandler) // everything before was flushed; now drop the connection
	case FaultStall:
		c.h.stall(c.r)
		return false
	case FaultMalformed:
		return sw.WriteData([]byte(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"cut`)) == nil
	case FaultErrorEvent:
		sw.WriteData(appendError(nil, ServerError()))
		return false
	}
	return true
}

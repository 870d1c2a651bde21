package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// geminiCall is one request to the fake Gemini API being answered.
type geminiCall struct {
	h       *GeminiHandler
	w       http.ResponseWriter
	r       *http.Request
	p       *geminiPlan
	req     *geminiRequest
	model   string
	bodyLen int
}

// geminiUsage is the token report of one answer.
type geminiUsage struct {
	prompt, candidates, cached, thoughts int
}

// candidateCount is the number of candidates the request asked for.
func (c *geminiCall) candidateCount() int {
	if g := c.req.GenerationConfig; g != nil && g.CandidateCount > 1 {
		return int(g.CandidateCount)
	}
	return 1
}

// usage returns the counts to report: see GeminiBehavior.PromptTokens and
// CandidatesTokens.
func (c *geminiCall) usage() geminiUsage {
	u := geminiUsage{prompt: c.p.PromptTokens, candidates: c.p.CandidatesTokens, cached: c.p.CachedTokens, thoughts: c.p.ThoughtsTokens}
	if u.prompt == 0 {
		u.prompt = (c.bodyLen + 3) / 4
	}
	if u.candidates == 0 && c.req.GenerationConfig != nil {
		u.candidates = int(c.req.GenerationConfig.MaxOutputTokens)
	}
	if u.candidates == 0 {
		u.candidates = len(c.p.pieces) + len(c.p.FunctionCalls)
	}
	u.candidates *= c.candidateCount()
	if u.thoughts == 0 {
		u.thoughts = len(c.p.thoughts)
	}
	return u
}

// appendGeminiUsage appends usageMetadata in Gemini's member order, leaving out
// zero counts as Gemini does.
func appendGeminiUsage(b []byte, u geminiUsage) []byte {
	b = append(b, `{"promptTokenCount": `...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	if u.candidates > 0 {
		b = append(b, `,"candidatesTokenCount": `...)
		b = strconv.AppendInt(b, int64(u.candidates), 10)
	}
	b = append(b, `,"totalTokenCount": `...)
	b = strconv.AppendInt(b, int64(u.prompt+u.candidates+u.thoughts), 10)
	if u.cached > 0 {
		b = append(b, `,"cachedContentTokenCount": `...)
		b = strconv.AppendInt(b, int64(u.cached), 10)
	}
	b = append(b, `,"promptTokensDetails": [{"modality": "TEXT","tokenCount": `...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	b = append(b, "}]"...)
	if u.cached > 0 {
		b = append(b, `,"cacheTokensDetails": [{"modality": "TEXT","tokenCount": `...)
		b = strconv.AppendInt(b, int64(u.cached), 10)
		b = append(b, "}]"...)
	}
	if u.thoughts > 0 {
		b = append(b, `,"thoughtsTokenCount": `...)
		b = strconv.AppendInt(b, int64(u.thoughts), 10)
	}
	return append(b, '}')
}

// responseID stands in for the id Gemini gives each answer.
func (c *geminiCall) responseID() string {
	return "fakeGeminiResp" + strconv.FormatInt(c.h.count.Load(), 10)
}

func (c *geminiCall) modelVersion() string {
	if c.p.ModelVersion != "" {
		return c.p.ModelVersion
	}
	return c.model
}

// appendTail appends the members every answer and event ends with.
func (c *geminiCall) appendTail(b []byte) []byte {
	b = append(b, `,"modelVersion": `...)
	b = appendString(b, c.modelVersion())
	b = append(b, `,"responseId": `...)
	b = appendString(b, c.responseID())
	return append(b, '}')
}

// appendTextPart appends {"text": …} (with "thought": true for a thought summary).
func appendTextPart(b []byte, text string, thought bool, signature string) []byte {
	b = append(b, `{"text": `...)
	b = appendGeminiString(b, text)
	if thought {
		b = append(b, `,"thought": true`...)
	}
	if signature != "" {
		b = append(b, `,"thoughtSignature": `...)
		b = appendString(b, signature)
	}
	return append(b, '}')
}

// appendCallParts appends the plan's function calls as functionCall parts.
func (c *geminiCall) appendCallParts(b []byte) []byte {
	for i, fc := range c.p.FunctionCalls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"functionCall": {`...)
		if fc.ID != "" {
			b = append(b, `"id": `...)
			b = appendString(b, fc.ID)
			b = append(b, ',')
		}
		b = append(b, `"name": `...)
		b = appendString(b, fc.Name)
		b = append(b, `,"args": `...)
		if fc.Args == "" {
			b = append(b, "{}"...)
		} else {
			b = append(b, fc.Args...)
		}
		b = append(b, '}')
		if i == 0 && c.p.ThoughtSignature != "" {
			b = append(b, `,"thoughtSignature": `...)
			b = appendString(b, c.p.ThoughtSignature)
		}
		b = append(b, '}')
	}
	return b
}

// appendCandidates appends the candidates member holding parts (built by parts)
// once per candidate, each with finish when it is not "".
func (c *geminiCall) appendCandidates(b []byte, parts func([]byte) []byte, finish bool) []byte {
	b = append(b, `{"candidates": [`...)
	for i := range c.candidateCount() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"content": {"parts": [`...)
		b = parts(b)
		b = append(b, `],"role": "model"}`...)
		if finish {
			b = append(b, `,"finishReason": `...)
			b = appendString(b, c.p.FinishReason)
		}
		b = append(b, `,"index": `...)
		b = strconv.AppendInt(b, int64(i), 10)
		if finish && c.p.FinishMessage != "" {
			b = append(b, `,"finishMessage": `...)
			b = appendString(b, c.p.FinishMessage)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendBlocked appends the answer to a prompt Gemini blocked: no candidates.
func (c *geminiCall) appendBlocked(b []byte) []byte {
	b = append(b, `{"promptFeedback": {"blockReason": `...)
	b = appendString(b, c.p.BlockReason)
	b = append(b, `}`...)
	if !c.p.NoUsage {
		u := c.usage()
		b = append(b, `,"usageMetadata": `...)
		b = appendGeminiUsage(b, geminiUsage{prompt: u.prompt, cached: u.cached})
	}
	return c.appendTail(b)
}

// complete answers generateContent: every part in one candidate (per candidate
// asked for), with the finish reason and the usage.
func (c *geminiCall) complete() {
	if c.p.RawBody != "" {
		c.writeJSON([]byte(c.p.RawBody))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	var b []byte
	if c.p.BlockReason != "" {
		b = c.appendBlocked((*buf)[:0])
	} else {
		b = c.appendCandidates((*buf)[:0], func(b []byte) []byte {
			n := 0
			if c.p.Thoughts != "" {
				b = appendTextPart(b, c.p.Thoughts, true, "")
				n++
			}
			if c.p.Text != "" {
				if n > 0 {
					b = append(b, ',')
				}
				sig := ""
				if len(c.p.FunctionCalls) == 0 {
					sig = c.p.ThoughtSignature
				}
				b = appendTextPart(b, c.p.Text, false, sig)
				n++
			}
			if len(c.p.FunctionCalls) > 0 {
				if n > 0 {
					b = append(b, ',')
				}
				b = c.appendCallParts(b)
			}
			return b
		}, true)
		if !c.p.NoUsage {
			b = append(b, `,"usageMetadata": `...)
			b = appendGeminiUsage(b, c.usage())
		}
		b = c.appendTail(b)
	}
	*buf = b
	c.writeJSON(b)
}

// writeJSON sends a complete JSON answer indented as Google sends it, applying the
// plan's fault to it.
func (c *geminiCall) writeJSON(body []byte) {
	var out bytes.Buffer
	if json.Indent(&out, body, "", "  ") == nil {
		out.WriteByte('\n')
		body = out.Bytes()
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	switch c.p.Fault {
	case FaultStall:
		c.h.stall(c.r)
		return
	case FaultMalformed:
		body = body[:len(body)/2]
	case FaultErrorEvent:
		body = appendGeminiError(nil, GeminiServerError())
	case FaultCut:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		c.w.WriteHeader(http.StatusOK)
		c.w.Write(body[:len(body)/2])
		http.NewResponseController(c.w).Flush()
		panic(http.ErrAbortHandler)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(body)
}

// geminiEvent is one event of a stream: a thought piece, a text piece, or the
// function calls.
type geminiEvent struct {
	text    string
	thought bool
	calls   bool
}

// events lists the events of a streamed answer: thought pieces, text pieces, then
// the function calls in one event. The last one carries the finish reason.
func (c *geminiCall) events() []geminiEvent {
	evs := make([]geminiEvent, 0, len(c.p.thoughts)+len(c.p.pieces)+1)
	for _, t := range c.p.thoughts {
		evs = append(evs, geminiEvent{text: t, thought: true})
	}
	for _, t := range c.p.pieces {
		evs = append(evs, geminiEvent{text: t})
	}
	if len(c.p.FunctionCalls) > 0 {
		evs = append(evs, geminiEvent{calls: true})
	}
	return evs
}

// appendEvent appends event i of evs as a GenerateContentResponse. Usage on every
// event is cumulative, as Gemini reports it: the prompt from the start, thoughts and
// candidates as far as they have come, the full counts on the last event.
func (c *geminiCall) appendEvent(b []byte, evs []geminiEvent, i int) []byte {
	ev := evs[i]
	last := i == len(evs)-1
	b = c.appendCandidates(b, func(b []byte) []byte {
		if ev.calls {
			return c.appendCallParts(b)
		}
		sig := ""
		if last && !ev.thought {
			sig = c.p.ThoughtSignature
		}
		return appendTextPart(b, ev.text, ev.thought, sig)
	}, last)
	if !c.p.NoUsage {
		u := c.usage()
		if !last {
			thoughtEvents, textEvents := len(c.p.thoughts), len(c.p.pieces)
			if i < thoughtEvents {
				u.thoughts = u.thoughts * (i + 1) / thoughtEvents
				u.candidates = 0
			} else if textEvents > 0 {
				u.candidates = u.candidates * (i - thoughtEvents + 1) / (textEvents + len(c.p.FunctionCalls))
			}
		}
		b = append(b, `,"usageMetadata": `...)
		b = appendGeminiUsage(b, u)
	}
	return c.appendTail(b)
}

// stream answers streamGenerateContent?alt=sse: one server-sent event per
// GenerateContentResponse, framed with CRLF line ends as Google's front end sends
// them, and no end marker: the stream ends after the event with the finish reason.
func (c *geminiCall) stream() {
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Content-Disposition", "attachment")
	h.Set("Cache-Control", "no-cache")
	c.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(c.w)
	rc.Flush() // headers go out at once, before the first event is ready
	send := func(data []byte) bool {
		buf := getBuf()
		defer putBuf(buf)
		b := append((*buf)[:0], "data: "...)
		b = append(b, data...)
		b = append(b, "\r\n\r\n"...)
		*buf = b
		if _, err := c.w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	if c.p.RawEvents != nil {
		for i, e := range c.p.RawEvents {
			if !c.beforeEvent(send, i, len(c.p.RawEvents)) || !send([]byte(e)) {
				return
			}
		}
		if c.faultAt(len(c.p.RawEvents), len(c.p.RawEvents)) {
			c.fault(send)
		}
		return
	}
	if c.p.BlockReason != "" {
		send(c.appendBlocked(nil))
		return
	}
	evs := c.events()
	scratch := getBuf()
	defer putBuf(scratch)
	for i := range evs {
		if !c.beforeEvent(send, i, len(evs)) {
			return
		}
		*scratch = c.appendEvent((*scratch)[:0], evs, i)
		if !send(*scratch) {
			return
		}
	}
	if c.faultAt(len(evs), len(evs)) {
		c.fault(send)
	}
}

// streamArray answers streamGenerateContent without alt=sse: the same responses as
// one JSON array, each element written as it is ready.
func (c *geminiCall) streamArray() {
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	c.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(c.w)
	evs := c.events()
	c.w.Write([]byte("["))
	for i := range evs {
		if !c.h.wait(c.r, c.p.ChunkDelay) {
			return
		}
		b := c.appendEvent(nil, evs, i)
		if i < len(evs)-1 {
			b = append(b, ",\r\n"...)
		}
		c.w.Write(b)
		rc.Flush()
	}
	c.w.Write([]byte("]"))
}

// beforeEvent strikes the fault due before event i and waits the chunk delay;
// false means the stream is over.
func (c *geminiCall) beforeEvent(send func([]byte) bool, i, total int) bool {
	if c.faultAt(i, total) && !c.fault(send) {
		return false
	}
	return c.h.wait(c.r, c.p.ChunkDelay)
}

// faultAt reports whether the fault strikes after i events; a FaultAfter beyond
// the last event strikes after the last one.
func (c *geminiCall) faultAt(i, total int) bool {
	return c.p.Fault != FaultNone && i == min(c.p.FaultAfter, total)
}

// fault breaks the stream; it reports whether the stream carries on afterwards.
func (c *geminiCall) fault(send func([]byte) bool) bool {
	switch c.p.Fault {
	case FaultCut:
		panic(http.ErrAbortHandler)
	case FaultStall:
		c.h.stall(c.r)
		return false
	case FaultMalformed:
		return send([]byte(`{"candidates": [{"content": {"parts": [{"text": "cut`))
	case FaultErrorEvent:
		send(appendGeminiError(nil, GeminiServerError()))
		return false
	}
	return true
}

package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// maxCandidates bounds the candidate index a stream event may name (Gemini allows
// up to 8 candidates), so a broken upstream cannot make the stream grow its state.
const maxCandidates = 64

// ChatStream translates an OpenAI chat completion into streamGenerateContent with
// alt=sse. An upstream refusal is returned here, before any chunk, so the gateway
// can still fail over to another channel.
func (c *Client) ChatStream(ctx context.Context, req *providers.ChatRequest) (providers.ChatStream, error) {
	path, err := modelPath(req.Model)
	if err != nil {
		return nil, err
	}
	body, err := translateChat(req.Body)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodPost, path+":streamGenerateContent?alt=sse", body, true)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) {
		defer resp.Body.Close()
		return nil, c.errorFromResponse(resp)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if bytes.Contains(data, []byte(`"error"`)) {
			return nil, c.errorFromBody(0, data)
		}
		return nil, c.invalidResponse("upstream answered a streaming request with JSON, not an event stream")
	}
	s := &stream{c: c, ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body), model: req.Model}
	if c.idleTimeout > 0 {
		s.idle = time.AfterFunc(c.idleTimeout, func() {
			s.idleFired.Store(true)
			_ = resp.Body.Close() // unblocks Recv, which reports the idle timeout
		})
	}
	return s, nil
}

// errStreamClosed is what Recv returns after Close.
var errStreamClosed = errors.New("gemini: stream is closed")

// stream translates Gemini's events, each a GenerateContentResponse, into
// chat.completion.chunk JSON one by one as they arrive. Gemini's usageMetadata is
// cumulative on every event; the last one seen is reported in a usage-only chunk
// after the final event, then io.EOF.
type stream struct {
	c      *Client
	ctx    context.Context
	body   io.ReadCloser
	events *sse.Reader
	model  string // upstream model name, until an event names its version
	err    error  // sticky: returned by every Recv after the stream ended

	head      []byte         // chunk prefix up to and including `"choices":[`
	cands     []candidateRun // per candidate index
	toolCalls int            // tool calls so far, numbering ids across candidates
	blocked   bool           // the prompt was blocked: the stream is complete
	usage     usageMetadata
	hasUsage  bool
	ended     bool // the usage chunk (or the end) was handed out

	ev   streamEvent // decode target, reused
	out  []byte      // scratch for the chunk being built
	text []byte      // scratch for the chunk's text

	idle      *time.Timer
	idleFired atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
}

// streamEvent is the part of a stream event the translation reads. It leaves out
// what does not change from event to event (model version, response id, role), and
// its candidates slice is reused, so decoding an event allocates little.
type streamEvent struct {
	Candidates     []streamCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *usageMetadata  `json:"usageMetadata"`
	Error         json.RawMessage `json:"error"`
}

type streamCandidate struct {
	Content struct {
		Parts []part `json:"parts"`
	} `json:"content"`
	FinishReason string `json:"finishReason"`
	Index        int    `json:"index"` // absent means 0, as proto3 JSON leaves zeros out
}

// reset empties the event for the next decode, keeping the candidates' storage;
// encoding/json does not zero a reused element's members before filling it.
func (e *streamEvent) reset() {
	cands := e.Candidates[:cap(e.Candidates)]
	clear(cands)
	*e = streamEvent{Candidates: cands[:0]}
}

// candidateRun is what the stream remembers of one candidate.
type candidateRun struct {
	seen, finished, calledTools bool
}

// Recv returns the next chunk, io.EOF after the last one, or an
// *providers.UpstreamError if the upstream sent an error or broke off before a
// final event (one with a finish reason for every candidate).
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
		if s.ended {
			return providers.Chunk{}, io.EOF
		}
		ev, err := s.events.Next()
		if err != nil {
			if (err == io.EOF || err == io.ErrUnexpectedEOF) && s.complete() {
				s.ended = true
				if s.hasUsage {
					return s.usageChunk(), nil
				}
				return providers.Chunk{}, io.EOF
			}
			return providers.Chunk{}, s.readError(err)
		}
		if s.idle != nil {
			s.idle.Reset(s.c.idleTimeout)
		}
		data := bytes.TrimSpace(ev.Data)
		if (ev.Name != "" && ev.Name != "message") || len(data) == 0 {
			continue // not a response event: a keep-alive or an extension
		}
		s.ev.reset()
		if err := json.Unmarshal(data, &s.ev); (err != nil && !isTypeError(err)) || data[0] != '{' {
			return providers.Chunk{}, &providers.UpstreamError{Code: "invalid_chunk",
				Message: "upstream sent a stream event that is not a JSON response: " + s.c.redact(truncate(string(data), 200))}
		}
		if isError(s.ev.Error) {
			return providers.Chunk{}, s.c.errorFromBody(0, data)
		}
		if u := s.ev.UsageMetadata; u != nil {
			s.usage, s.hasUsage = *u, true
		}
		ch, ok, err := s.translate(data)
		if err != nil {
			return providers.Chunk{}, err
		}
		if ok {
			return ch, nil
		}
	}
}

// complete reports whether the upstream sent its final event: every candidate seen
// has a finish reason, or the prompt was blocked.
func (s *stream) complete() bool {
	if s.blocked {
		return true
	}
	seen := false
	for _, c := range s.cands {
		if c.seen && !c.finished {
			return false
		}
		seen = seen || c.seen
	}
	return seen
}

// translate renders the current event as a chunk; false when the event carries
// nothing for the client (only usage, or empty parts).
func (s *stream) translate(data []byte) (providers.Chunk, bool, error) {
	r := &s.ev
	if s.head == nil {
		var names struct {
			ModelVersion string `json:"modelVersion"`
			ResponseID   string `json:"responseId"`
		}
		_ = json.Unmarshal(data, &names) // once per stream: the event decoded without them
		s.head = appendHead(nil, completionID(names.ResponseID), cmpOr(names.ModelVersion, s.model))
	}
	b := append(s.out[:0], s.head...)
	text := s.text[:0]
	choices := 0
	for i := range r.Candidates {
		cand := &r.Candidates[i]
		idx := cand.Index
		if idx < 0 || idx >= maxCandidates {
			return providers.Chunk{}, false, &providers.UpstreamError{Code: "invalid_chunk",
				Message: "upstream sent a stream event for candidate " + strconv.Itoa(idx)}
		}
		for len(s.cands) <= idx {
			s.cands = append(s.cands, candidateRun{})
		}
		mark := len(b)
		if choices > 0 {
			b = append(b, ',')
		}
		var said bool
		b, text, said = s.appendChoice(b, text, idx, cand)
		if said {
			choices++
		} else {
			b = b[:mark]
		}
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" && !s.blocked {
		s.blocked = true
		b = append(b, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"content_filter"}`...)
		choices++
	}
	s.out, s.text = b, text
	if choices == 0 {
		return providers.Chunk{}, false, nil
	}
	b = append(b, "]}"...)
	s.out = b
	ch := providers.Chunk{Data: bytes.Clone(b)}
	if len(text) > 0 {
		ch.Text = string(text)
	}
	return ch, true, nil
}

// appendChoice appends one choice of a chunk: the role on the candidate's first
// chunk, its text, thoughts (as reasoning_content), function calls (as whole tool
// calls: Gemini sends a call complete in one event) and finish reason. said is false
// when the candidate had nothing to say.
func (s *stream) appendChoice(b, text []byte, idx int, cand *streamCandidate) ([]byte, []byte, bool) {
	run := &s.cands[idx]
	parts := cand.Content.Parts
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(idx), 10)
	b = append(b, `,"delta":{`...)
	said := false
	sep := func() {
		if said {
			b = append(b, ',')
		}
		said = true
	}
	if !run.seen {
		run.seen = true
		sep()
		b = append(b, `"role":"assistant"`...)
	}
	for _, thought := range [2]bool{false, true} {
		open := false
		for i := range parts {
			p := &parts[i]
			if p.FunctionCall != nil || p.Thought != thought || p.Text == "" {
				continue
			}
			if !open {
				sep()
				if thought {
					b = append(b, `"reasoning_content":"`...)
				} else {
					b = append(b, `"content":"`...)
				}
				open = true
			}
			b = appendEscaped(b, p.Text)
			text = append(text, p.Text...)
		}
		if open {
			b = append(b, '"')
		}
	}
	calls := 0
	for i := range parts {
		p := &parts[i]
		if p.FunctionCall == nil {
			continue
		}
		if calls == 0 {
			sep()
			b = append(b, `"tool_calls":[`...)
		} else {
			b = append(b, ',')
		}
		calls++
		run.calledTools = true
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(s.toolCalls), 10)
		tc := toolCall(p, &s.toolCalls)
		b = append(b, `,"id":`...)
		b = appendQuoted(b, tc.ID)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = appendQuoted(b, tc.Function.Name)
		b = append(b, `,"arguments":`...)
		b = appendQuoted(b, tc.Function.Arguments)
		b = append(b, '}')
		if tc.ExtraContent != nil {
			b = append(b, `,"extra_content":{"google":{"thought_signature":`...)
			b = appendQuoted(b, tc.ExtraContent.Google.ThoughtSignature)
			b = append(b, "}}"...)
		}
		b = append(b, '}')
		text = append(text, tc.Function.Arguments...)
	}
	if calls > 0 {
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...)
	if cand.FinishReason != "" && !run.finished {
		run.finished = true
		said = true
		b = append(b, '"')
		b = append(b, finishReason(cand.FinishReason, run.calledTools)...)
		b = append(b, `"}`...)
	} else {
		b = append(b, "null}"...)
	}
	return b, text, said
}

// usageChunk is the chunk OpenAI sends last when asked for usage: no choices, the
// usage of the whole answer.
func (s *stream) usageChunk() providers.Chunk {
	u := s.usage.toUsage()
	head := s.head
	if head == nil {
		head = appendHead(nil, completionID(""), s.model)
	}
	b := append([]byte(nil), head[:len(head)-len(`[`)]...)
	b = append(b, `[],"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, u.OutputTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens+u.OutputTokens, 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, u.CachedInputTokens, 10)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, u.ReasoningTokens, 10)
	b = append(b, "}}}"...)
	return providers.Chunk{Data: b, Usage: u, UsageOnly: true}
}

// appendHead appends the members every chunk of an answer starts with.
func appendHead(b []byte, id, model string) []byte {
	b = append(b, `{"id":`...)
	b = appendQuoted(b, id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	b = append(b, `,"model":`...)
	b = appendQuoted(b, model)
	return append(b, `,"choices":[`...)
}

// readError explains why reading the stream stopped before the final event.
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
			Message: "upstream closed the stream before its final event (one with a finish reason)"}
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
func (s *stream) BeforeWait(f func()) { s.events.BeforeRead(f) }

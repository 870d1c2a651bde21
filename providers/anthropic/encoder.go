package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/tollgate-gw/tollgate/providers"
)

// The OpenAI answer the ingress translation reads: a chat.completion or a
// chat.completion.chunk.
type (
	oaAnswer struct {
		ID      string     `json:"id"`
		Model   string     `json:"model"`
		Choices []oaChoice `json:"choices"`
		Usage   *oaUsage   `json:"usage"`
		Error   json.RawMessage
	}
	oaChoice struct {
		Index        int       `json:"index"`
		Message      *oaOutput `json:"message"`
		Delta        *oaOutput `json:"delta"`
		FinishReason *string   `json:"finish_reason"`
	}
	oaOutput struct {
		Content   rawString     `json:"content"`
		Refusal   rawString     `json:"refusal"`
		ToolCalls []oaToolDelta `json:"tool_calls"`
	}
	oaToolDelta struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string    `json:"name"`
			Arguments rawString `json:"arguments"`
		} `json:"function"`
	}
	oaUsage struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"` // DeepSeek
	}
)

// usage converts OpenAI's usage to the gateway's terms.
func (u *oaUsage) usage() *providers.Usage {
	out := &providers.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CachedInputTokens: u.PromptCacheHitTokens}
	if d := u.PromptTokensDetails; d != nil && d.CachedTokens > 0 {
		out.CachedInputTokens = d.CachedTokens
	}
	return out
}

// stopReasons maps OpenAI's finish_reason to Anthropic's stop_reason.
var stopReasons = map[string]string{
	"stop":           "end_turn",
	"length":         "max_tokens",
	"tool_calls":     "tool_use",
	"function_call":  "tool_use",
	"content_filter": "refusal",
}

func stopReason(finish string) string {
	if r, ok := stopReasons[finish]; ok {
		return r
	}
	return "end_turn"
}

// parseAnswer decodes an OpenAI answer, refusing bodies that are not JSON objects
// or that carry an error.
func parseAnswer(body []byte, a *oaAnswer) error {
	if firstNonSpace(body) != '{' {
		return errors.New("anthropic: the OpenAI answer is not a JSON object")
	}
	if err := json.Unmarshal(body, a); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return errors.New("anthropic: the OpenAI answer is not valid JSON")
		}
	}
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return errors.New("anthropic: the OpenAI answer is an error: " + truncate(string(a.Error), maxMessageBytes))
	}
	return nil
}

// messageID makes an Anthropic-looking message id from the OpenAI answer's id.
func messageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	return "msg_" + strings.TrimPrefix(id, "chatcmpl-")
}

// ResponseFromOpenAI translates a chat.completion into an Anthropic message, for an
// Anthropic-format call served by another vendor's channel: text and tool calls
// become content blocks, finish_reason a stop_reason, and the usage Anthropic's
// (input without the cached part, which is reported as cache reads). model is the
// name the client asked for; "" keeps the upstream's. Reasoning text is left out:
// a thinking block without Anthropic's signature would be refused if the client
// sent it back to an Anthropic channel.
func ResponseFromOpenAI(openAIBody []byte, model string) ([]byte, error) {
	var a oaAnswer
	if err := parseAnswer(openAIBody, &a); err != nil {
		return nil, err
	}
	if model == "" {
		model = a.Model
	}
	b := make([]byte, 0, len(openAIBody)+128)
	b = append(b, `{"id":`...)
	b = appendString(b, messageID(a.ID))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendString(b, model)
	b = append(b, `,"content":[`...)
	finish := "stop"
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	for _, c := range a.Choices {
		if c.Index != 0 || c.Message == nil {
			continue // Anthropic has one answer per call
		}
		if c.FinishReason != nil {
			finish = *c.FinishReason
		}
		text := c.Message.Content
		if text.empty() {
			text = c.Message.Refusal
		}
		if !text.empty() {
			sep()
			b = append(b, `{"type":"text","text":`...)
			b = append(b, text...)
			b = append(b, '}')
		}
		for _, tc := range c.Message.ToolCalls {
			sep()
			b = append(b, `{"type":"tool_use","id":`...)
			b = appendString(b, toolUseID(tc.ID, n))
			b = append(b, `,"name":`...)
			b = appendString(b, tc.Function.Name)
			b = append(b, `,"input":`...)
			b = append(b, toolInputOrEmpty(tc.Function.Arguments.text())...)
			b = append(b, '}')
		}
		break
	}
	b = append(b, `],"stop_reason":`...)
	b = appendString(b, stopReason(finish))
	b = append(b, `,"stop_sequence":null,"usage":`...)
	u := &providers.Usage{}
	if a.Usage != nil {
		u = a.Usage.usage()
	}
	b = appendAnthropicUsage(b, u)
	return append(b, '}'), nil
}

// toolUseID is the id of a tool_use block: the tool call's own, or a made-up one
// when the upstream sent none.
func toolUseID(id string, n int) string {
	if id != "" {
		return id
	}
	return "toolu_" + strconv.Itoa(n)
}

// toolInputOrEmpty parses tool call arguments into the object Anthropic wants as
// input; arguments that are not a JSON object (a model's broken output) become {}.
func toolInputOrEmpty(args string) []byte {
	in, err := toolInput(args)
	if err != nil {
		return []byte("{}")
	}
	return in
}

// Event is one server-sent event of Anthropic's stream format.
type Event struct {
	Name string // the SSE event name, equal to the data's type
	Data []byte // the event's JSON
}

// EventEncoder turns an OpenAI chunk stream into Anthropic's event stream, for an
// Anthropic-format streaming call served by another vendor's channel. It is not safe
// for concurrent use. Reasoning deltas are left out, for the reason given at
// ResponseFromOpenAI.
type EventEncoder struct {
	model string
	input int64

	started bool
	open    int   // index of the open content block; -1 when none
	kind    uint8 // kind of the open block
	blocks  int   // content blocks started so far
	tools   []int // OpenAI tool call index → content block index
	stop    string
	usage   *providers.Usage // from the upstream's usage chunk
	done    bool

	chunk  oaAnswer
	fast   chunkScratch
	noFast bool // tests: always use encoding/json
	buf    []byte
	ends   []int
	events []Event
}

// NewEventEncoder returns an encoder whose message_start names model (the name the
// client asked for) and reports inputTokens, the gateway's count of the prompt:
// Anthropic reports input usage before the first token, OpenAI only at the end.
func NewEventEncoder(model string, inputTokens int64) *EventEncoder {
	return &EventEncoder{model: model, input: inputTokens, open: -1}
}

// Encode translates one chat.completion.chunk (the JSON of one data event; "[DONE]"
// is ignored) into the Anthropic events it stands for, in stream order: message_start
// before the first, then content_block_start, content_block_delta and
// content_block_stop for text and tool calls, and message_delta and message_stop once
// the finish reason and the usage chunk (with stream_options.include_usage) arrived.
// The events and their data are valid until the next call of Encode or Finish.
func (e *EventEncoder) Encode(openAIChunk []byte) ([]Event, error) {
	e.reset()
	if e.done || string(bytes.TrimSpace(openAIChunk)) == "[DONE]" {
		return nil, nil
	}
	c := &e.chunk
	if e.noFast || !e.fast.scan(openAIChunk, c, !e.started) {
		*c = oaAnswer{}
		if err := parseAnswer(openAIChunk, c); err != nil {
			return nil, err
		}
	}
	e.start(c.ID)
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		if d := ch.Delta; d != nil {
			e.delta(d)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" && e.stop == "" {
			e.closeBlock()
			e.stop = stopReason(*ch.FinishReason)
		}
	}
	if c.Usage != nil {
		e.usage = c.Usage.usage()
	}
	if e.stop != "" && e.usage != nil {
		e.end(e.usage) // both arrived, in one chunk or in two
	}
	return e.flush(), nil
}

// Finish returns the closing events a stream still lacks: the open block's
// content_block_stop, message_delta with u (the upstream's usage, or the gateway's
// estimate; nil uses the usage chunk's, if one came), and message_stop. After the
// upstream failed, write an error event (ErrorJSON) instead: Finish would report a
// normal end. The events are valid until the next call.
func (e *EventEncoder) Finish(u *providers.Usage) []Event {
	e.reset()
	if e.done {
		return nil
	}
	e.start("")
	e.closeBlock()
	if u == nil {
		u = e.usage
	}
	e.end(u)
	return e.flush()
}

func (e *EventEncoder) reset() {
	e.buf, e.ends, e.events = e.buf[:0], e.ends[:0], e.events[:0]
}

// emit appends one event; name is also its type.
func (e *EventEncoder) emit(name string) {
	e.events = append(e.events, Event{Name: name})
	e.ends = append(e.ends, len(e.buf))
}

// flush points each event at its data, once the buffer no longer moves.
func (e *EventEncoder) flush() []Event {
	start := 0
	for i, end := range e.ends {
		e.events[i].Data = e.buf[start:end:end]
		start = end
	}
	return e.events
}

// start emits message_start before anything else.
func (e *EventEncoder) start(id string) {
	if e.started {
		return
	}
	e.started = true
	if id == "" {
		id = "tollgate"
	}
	b := append(e.buf, `{"type":"message_start","message":{"id":`...)
	b = appendString(b, messageID(id))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendString(b, e.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	b = appendAnthropicUsage(b, &providers.Usage{InputTokens: e.input})
	e.buf = append(b, `}}`...)
	e.emit("message_start")
}

// delta translates one choice's delta: content into a text block, tool calls into
// tool_use blocks.
func (e *EventEncoder) delta(d *oaOutput) {
	text := d.Content
	if text.empty() {
		text = d.Refusal
	}
	if !text.empty() {
		if e.kind != blockText || e.open < 0 {
			e.closeBlock()
			e.endBlockStart(append(e.beginBlock(blockText), `{"type":"text","text":""}`...))
		}
		e.blockDelta(e.open, "text_delta", "text", text)
	}
	for i := range d.ToolCalls {
		tc := &d.ToolCalls[i]
		if tc.Index < 0 || tc.Index >= maxBlocks {
			continue
		}
		for len(e.tools) <= tc.Index {
			e.tools = append(e.tools, -1)
		}
		if e.tools[tc.Index] < 0 || (tc.ID != "" && e.open != e.tools[tc.Index]) {
			e.closeBlock()
			e.tools[tc.Index] = e.blocks
			b := e.beginBlock(blockTool)
			b = append(b, `{"type":"tool_use","id":`...)
			b = appendString(b, toolUseID(tc.ID, e.open))
			b = append(b, `,"name":`...)
			b = appendString(b, tc.Function.Name)
			e.endBlockStart(append(b, `,"input":{}}`...))
		}
		if !tc.Function.Arguments.empty() {
			// Arguments for a tool call whose block is no longer the open one (hosts
			// that interleave parallel calls) still go to that block's index, which
			// Anthropic's SDKs accumulate by index.
			e.blockDelta(e.tools[tc.Index], "input_json_delta", "partial_json", tc.Function.Arguments)
		}
	}
}

// beginBlock opens a new block of kind and starts its content_block_start, up to
// the content block, which the caller appends before calling endBlockStart.
func (e *EventEncoder) beginBlock(kind uint8) []byte {
	e.open, e.kind = e.blocks, kind
	e.blocks++
	b := append(e.buf, `{"type":"content_block_start","index":`...)
	b = strconv.AppendInt(b, int64(e.open), 10)
	return append(b, `,"content_block":`...)
}

func (e *EventEncoder) endBlockStart(b []byte) {
	e.buf = append(b, '}')
	e.emit("content_block_start")
}

// blockDelta emits a content_block_delta whose member holds str, an encoded JSON
// string copied as is.
func (e *EventEncoder) blockDelta(index int, typ, member string, str rawString) {
	b := append(e.buf, `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"delta":{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","`...)
	b = append(b, member...)
	b = append(b, `":`...)
	b = append(b, str...)
	e.buf = append(b, `}}`...)
	e.emit("content_block_delta")
}

// closeBlock emits content_block_stop for the open block, if any.
func (e *EventEncoder) closeBlock() {
	if e.open < 0 {
		return
	}
	b := append(e.buf, `{"type":"content_block_stop","index":`...)
	b = strconv.AppendInt(b, int64(e.open), 10)
	e.buf = append(b, '}')
	e.open = -1
	e.emit("content_block_stop")
}

// end emits message_delta with the stop reason and usage u, then message_stop.
func (e *EventEncoder) end(u *providers.Usage) {
	e.closeBlock()
	if u == nil {
		u = &providers.Usage{InputTokens: e.input}
	}
	stop := e.stop
	if stop == "" {
		stop = "end_turn"
	}
	b := append(e.buf, `{"type":"message_delta","delta":{"stop_reason":`...)
	b = appendString(b, stop)
	b = append(b, `,"stop_sequence":null},"usage":`...)
	b = appendAnthropicUsage(b, u)
	e.buf = append(b, '}')
	e.emit("message_delta")
	e.buf = append(e.buf, `{"type":"message_stop"}`...)
	e.emit("message_stop")
	e.done = true
}

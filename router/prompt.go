package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/internal/jsonobj"
)

// imageTokenAllowance is what one image may add to a prompt in the hold. Providers
// count images differently (a few hundred to ~1,600 tokens for a large image); the
// upstream's reported usage is what is billed, this only sizes the hold.
const imageTokenAllowance = 1600

// defaultOutputCap sizes the hold when a client sends no max_tokens and the price
// book does not know the model's output cap.
const defaultOutputCap = 4096

// maxN bounds the n parameter (as OpenAI does), which multiplies the output hold.
const maxN = 128

// chatRequest holds the fields of a chat completion the gateway must understand;
// every other field stays in the raw body and reaches the upstream untouched.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	N                   *int64          `json:"n"`
	Tools               json.RawMessage `json:"tools"`
	Functions           json.RawMessage `json:"functions"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role      string          `json:"role"`
	Name      string          `json:"name"`
	Content   json.RawMessage `json:"content"`
	ToolCalls json.RawMessage `json:"tool_calls"`
}

type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// parsedChat is a validated chat call: the typed view, the raw object for
// rewriting, and the prompt's cheap token bound.
type parsedChat struct {
	req     chatRequest
	members []jsonobj.Member
	body    []byte
	images  int
}

// readBody reads a bounded request body: a larger one is refused with 413 before it
// is read whole, so a huge upload costs nothing.
func (g *Gateway) readBody(c *gin.Context) ([]byte, error) {
	if c.Request.ContentLength > g.cfg.MaxBodyBytes {
		return nil, tooLarge(g.cfg.MaxBodyBytes)
	}
	body, err := readAll(http.MaxBytesReader(c.Writer, c.Request.Body, g.cfg.MaxBodyBytes), c.Request.ContentLength)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(g.cfg.MaxBodyBytes)
	}
	if err != nil {
		return nil, apiErr(ErrInvalidRequest, "", "Could not read the request body: %v", err)
	}
	return body, nil
}

// readAll reads r to its end into one buffer sized by the declared length, so a
// body is neither copied while it grows nor kept with spare capacity (a parked
// stream keeps its request). Without a length it reads as io.ReadAll does.
func readAll(r io.Reader, length int64) ([]byte, error) {
	if length <= 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, length, length+1)
	if n, err := io.ReadFull(r, buf); err != nil {
		return buf[:n], err
	}
	// Read on to the end: net/http watches for the client leaving only once the
	// body's end was seen, and a body longer than declared is its error to report.
	n, err := r.Read(buf[length : length+1])
	if n == 0 && err == io.EOF {
		return buf, nil
	}
	rest, rerr := io.ReadAll(r)
	if err == nil || err == io.EOF {
		err = rerr
	}
	return append(buf[:length+int64(n)], rest...), err
}

func tooLarge(limit int64) error {
	return apiErr(ErrRequestTooLarge, "", "The request body is larger than this gateway accepts (%d bytes). Send a smaller request.", limit)
}

// decodeObject parses a JSON object body into its top-level members, refusing
// anything that is not exactly one object. A key sent twice counts once, with its
// last value (jsonobj.Members).
func decodeObject(body []byte) ([]jsonobj.Member, error) {
	if !validText(body) {
		return nil, apiErr(ErrInvalidRequest, "", "The request body is not valid UTF-8 text, or it has a lone UTF-16 surrogate escape (\\uD800–\\uDFFF without its pair). Send valid Unicode.")
	}
	members, err := jsonobj.Members(body)
	if err != nil {
		return nil, objectProblem(body)
	}
	return members, nil
}

// objectProblem says why a body jsonobj.Members refused is not one JSON object, in
// the words of encoding/json's decoder that clients have always been given. Only a
// refused body pays for this second parse.
func objectProblem(body []byte) error {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		return apiErr(ErrInvalidRequest, "", "The request body is not valid JSON: %v. Send one JSON object.", jsonProblem(err))
	}
	if fields == nil {
		return apiErr(ErrInvalidRequest, "", "The request body must be a JSON object.")
	}
	return apiErr(ErrInvalidRequest, "", "The request body has data after the JSON object. Send exactly one JSON object.")
}

// field is a member the gateway reads from a request body and where it goes.
type field struct {
	name string
	ptr  any
}

// decodeFields decodes the members that fields name, each with one json.Unmarshal,
// into what a json.Unmarshal of the whole body into a struct of these fields gives:
// keys match names as encoding/json matches them, case-insensitively
// (strings.EqualFold), and of duplicates the last wins (jsonobj.Members).
func decodeFields(members []jsonobj.Member, fields ...field) error {
	for _, m := range members {
		for _, f := range fields {
			if !strings.EqualFold(m.Key, f.name) {
				continue
			}
			if raw, ok := f.ptr.(*json.RawMessage); ok {
				*raw = json.RawMessage(m.Raw) // no need to scan it again: alias the body
			} else if !decodeFast(m.Raw, f.ptr) {
				if err := json.Unmarshal(m.Raw, f.ptr); err != nil {
					return err
				}
			}
			break
		}
	}
	return nil
}

// decodeFast decodes the usual forms of a chat body's members — a plain string, a
// boolean, an integer, an array of plain messages — straight from the validated body,
// and reports false for anything else, which encoding/json then decodes (and words
// the error of). What it decodes, encoding/json would decode the same.
func decodeFast(raw []byte, ptr any) bool {
	switch p := ptr.(type) {
	case *string:
		if !jsonobj.Plain(raw) {
			return false
		}
		*p = string(raw[1 : len(raw)-1])
	case *bool:
		switch string(raw) {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			return false
		}
	case **int64:
		n, ok := plainInt(raw)
		if !ok {
			return false
		}
		*p = &n
	case *[]chatMessage:
		return *p == nil && decodeMessages(raw, p)
	default:
		return false
	}
	return true
}

// plainInt reads an integer written without fraction or exponent.
func plainInt(raw []byte) (int64, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64) // refuses "1.5" and "1e3"
	return n, err == nil
}

// decodeMessages decodes an array of message objects whose role and name are plain
// strings; content and tool_calls alias the body, as json.RawMessage members do.
func decodeMessages(raw []byte, dst *[]chatMessage) bool {
	msgs, bad := make([]chatMessage, 0, 8), false
	isArray := jsonobj.Elements(raw, func(elem []byte) {
		var m chatMessage
		isObject := jsonobj.Each(elem, func(key, v []byte) {
			switch string(key) {
			case `"role"`, `"name"`:
				if !jsonobj.Plain(v) {
					bad = true
				} else if key[1] == 'r' {
					m.Role = string(v[1 : len(v)-1])
				} else {
					m.Name = string(v[1 : len(v)-1])
				}
			case `"content"`:
				m.Content = json.RawMessage(v)
			case `"tool_calls"`:
				m.ToolCalls = json.RawMessage(v)
			default:
				// A key encoding/json would match to a field in other case, or
				// spelled with escapes, is left to it.
				bad = bad || !jsonobj.Plain(key) || foldsToMessageField(key[1:len(key)-1])
			}
		})
		bad = bad || !isObject
		msgs = append(msgs, m)
	})
	if !isArray || bad {
		return false
	}
	*dst = msgs
	return true
}

// foldsToMessageField reports whether a key matches a chatMessage field ignoring case.
func foldsToMessageField(key []byte) bool {
	for _, name := range []string{"role", "name", "content", "tool_calls"} {
		if strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s", te.Type)
	}
	return err.Error()
}

// parseChat validates a chat completion body.
func parseChat(body []byte) (*parsedChat, error) {
	members, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	p := &parsedChat{members: members, body: body}
	r := &p.req
	err = decodeFields(members, field{"model", &r.Model}, field{"messages", &r.Messages}, field{"stream", &r.Stream},
		field{"stream_options", &r.StreamOptions}, field{"max_tokens", &r.MaxTokens},
		field{"max_completion_tokens", &r.MaxCompletionTokens}, field{"n", &r.N},
		field{"tools", &r.Tools}, field{"functions", &r.Functions})
	if err != nil {
		return nil, chatTypeProblem(body, err)
	}
	switch {
	case strings.TrimSpace(r.Model) == "":
		return nil, apiErr(ErrInvalidRequest, "model", "Missing required parameter: 'model'.")
	case len(r.Messages) == 0:
		return nil, apiErr(ErrInvalidRequest, "messages", "'messages' must be a non-empty array of messages.")
	case r.MaxTokens != nil && *r.MaxTokens < 1:
		return nil, apiErr(ErrInvalidRequest, "max_tokens", "'max_tokens' must be at least 1 (got %d).", *r.MaxTokens)
	case r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1:
		return nil, apiErr(ErrInvalidRequest, "max_completion_tokens", "'max_completion_tokens' must be at least 1 (got %d).", *r.MaxCompletionTokens)
	case r.N != nil && (*r.N < 1 || *r.N > maxN):
		return nil, apiErr(ErrInvalidRequest, "n", "'n' must be between 1 and %d (got %d).", maxN, *r.N)
	case r.StreamOptions != nil && !r.Stream:
		return nil, apiErr(ErrInvalidRequest, "stream_options", "'stream_options' is only allowed when 'stream' is true.")
	}
	for i, m := range r.Messages {
		if m.Role == "" {
			return nil, apiErr(ErrInvalidRequest, fmt.Sprintf("messages[%d].role", i), "Missing required parameter: 'messages[%d].role'.", i)
		}
		p.images += bytes.Count(m.Content, []byte(`"image_url"`))
	}
	return p, nil
}

// chatTypeProblem words why a chat body's members do not fit chatRequest. It decodes
// the body again whole, so that the message and param are those a whole-body
// json.Unmarshal has always given (the Field path "messages.0.role", the first
// error in the body): only a refused body pays for the second parse. A member that
// fails alone fails the whole body too; err is kept should it not.
func chatTypeProblem(body []byte, err error) error {
	var whole chatRequest
	if werr := json.Unmarshal(body, &whole); werr != nil {
		err = werr
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return apiErr(ErrInvalidRequest, te.Field, "Invalid type for '%s': expected %s.", te.Field, te.Type)
	}
	return apiErr(ErrInvalidRequest, "", "The request body is not a valid chat completion request: %v.", err)
}

// maxOutput is the client's own output limit, if it set one.
func (p *parsedChat) maxOutput() (int64, bool) {
	switch {
	case p.req.MaxCompletionTokens != nil:
		return *p.req.MaxCompletionTokens, true
	case p.req.MaxTokens != nil:
		return *p.req.MaxTokens, true
	}
	return 0, false
}

func (p *parsedChat) n() int64 {
	if p.req.N == nil {
		return 1
	}
	return *p.req.N
}

// compact drops what only the upstream body needed and trims the messages, for a
// stream that keeps p while it waits.
func (p *parsedChat) compact() {
	p.members = nil
	p.req.Messages = slices.Clone(p.req.Messages)
}

func (p *parsedChat) wantsUsage() bool {
	return p.req.StreamOptions != nil && p.req.StreamOptions.IncludeUsage
}

// promptBound is a cheap upper bound of the prompt's tokens: the body's byte length
// (every tiktoken token covers at least one byte, and JSON never encodes text in
// fewer bytes than it has) plus chat framing and the image allowance.
func (p *parsedChat) promptBound() int64 {
	return int64(len(p.body)) + chatOverhead(len(p.req.Messages)) + int64(p.images)*imageTokenAllowance
}

func chatOverhead(messages int) int64 {
	return int64(messages)*(billing.PerMessageTokens+billing.PerNameTokens) + billing.ReplyPrimingTokens
}

// promptTokens counts the prompt with the model's tokenizer: the exact figure
// (for OpenAI models) used where the bound would decide against the client, and
// the estimate billed when an upstream reports no usage.
func (p *parsedChat) promptTokens(model string) int64 {
	var b strings.Builder
	for _, m := range p.req.Messages {
		b.WriteString(m.Role)
		b.WriteByte('\n')
		if m.Name != "" {
			b.WriteString(m.Name)
			b.WriteByte('\n')
		}
		writeContentText(&b, m.Content)
		if len(m.ToolCalls) > 0 {
			b.Write(m.ToolCalls)
		}
		b.WriteByte('\n')
	}
	b.Write(p.req.Tools)
	b.Write(p.req.Functions)
	return billing.CountTokens(model, b.String()) + chatOverhead(len(p.req.Messages)) + int64(p.images)*imageTokenAllowance
}

// writeContentText appends a message's text: content is a string or an array of
// parts, of which text parts count (images are counted by allowance).
func writeContentText(b *strings.Builder, content json.RawMessage) {
	if len(content) == 0 || content[0] == 'n' {
		return
	}
	if content[0] == '"' {
		var s string
		if json.Unmarshal(content, &s) == nil {
			b.WriteString(s)
		}
		return
	}
	var parts []contentPart
	if json.Unmarshal(content, &parts) == nil {
		for _, part := range parts {
			b.WriteString(part.Text)
		}
		return
	}
	b.Write(content)
}

// upstreamBody renders the body for one attempt: the client's object with the model
// mapped, max tokens injected when the client set none, and usage forced on streams.
// Duplicate keys of the client's JSON collapse to the value the gateway read, so the
// model billed is always the model sent. The error is always nil.
func (p *parsedChat) upstreamBody(model string, injectField string, inject int64) ([]byte, error) {
	set := make([]jsonobj.Member, 1, 3)
	set[0] = jsonobj.Member{Key: "model", Raw: jsonobj.AppendString(nil, model)}
	if injectField != "" {
		set = append(set, jsonobj.Member{Key: injectField, Raw: strconv.AppendInt(nil, inject, 10)})
	}
	if p.req.Stream {
		set = append(set, jsonobj.Member{Key: "stream_options", Raw: p.streamOptions()})
	}
	return rewritten(p.members, set...), nil
}

// streamOptions is the client's stream_options object (parseChat lets through only
// an object or null) with include_usage set, so that the upstream reports the usage
// the gateway bills.
func (p *parsedChat) streamOptions() []byte {
	var options []jsonobj.Member
	raw, _ := jsonobj.Get(p.members, "stream_options")
	if len(raw) > 0 && raw[0] == '{' {
		options, _ = jsonobj.Members(raw)
	}
	return appendObject(make([]byte, 0, len(raw)+24), options, nil, includeUsage)
}

var includeUsage = jsonobj.Member{Key: "include_usage", Raw: []byte("true")}

// rewritten renders a client's JSON object for an upstream: every member it sent, in
// its order, except those the gateway never forwards (strippedFields), with set's
// values in place of the client's or, for keys the client did not send, at the end.
// The client's values are copied byte for byte.
func rewritten(members []jsonobj.Member, set ...jsonobj.Member) []byte {
	size := 2
	for _, m := range members {
		size += len(m.Key) + len(m.Raw) + 4
	}
	for _, m := range set {
		size += len(m.Key) + len(m.Raw) + 4
	}
	return appendObject(make([]byte, 0, size), members, strippedFields, set...)
}

// appendObject appends the object of members to dst, less those whose key is in
// drop, with set's values replacing the members' of the same key and appended for
// keys the members lack.
func appendObject(dst []byte, members []jsonobj.Member, drop []string, set ...jsonobj.Member) []byte {
	dst = append(dst, '{')
	for _, m := range members {
		if slices.Contains(drop, m.Key) {
			continue
		}
		if v, ok := jsonobj.Get(set, m.Key); ok {
			m.Raw = v
		}
		dst = jsonobj.AppendMember(dst, m.Key, m.Raw)
	}
	for _, s := range set {
		if _, sent := jsonobj.Get(members, s.Key); !sent || slices.Contains(drop, s.Key) {
			dst = jsonobj.AppendMember(dst, s.Key, s.Raw)
		}
	}
	return append(dst, '}')
}

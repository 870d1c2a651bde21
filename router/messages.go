package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/internal/jsonobj"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/anthropic"
	"github.com/tollgate-gw/tollgate/providers/openai"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// Anthropic-format ingress: POST /v1/messages lets Anthropic-SDK apps (Claude Code
// and the like) use Tollgate. An Anthropic channel gets the client's body as is; any
// other channel gets it translated to OpenAI chat, and its answer is translated back.
// Billing is the same hold → relay → settle as for chat.

const ctxAnthropicFormat = "tollgate.anthropic_format"

// anthropicFormat marks a route whose errors must be written in Anthropic's shape.
func anthropicFormat(c *gin.Context) {
	c.Set(ctxAnthropicFormat, true)
	c.Next()
}

// anthropicErrorType names Anthropic's error type for a status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusMethodNotAllowed:
		if status == http.StatusNotFound {
			return "not_found_error"
		}
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	return "api_error"
}

// messagesRequest is one parsed Anthropic-format call.
type messagesRequest struct {
	body      []byte           // the client's Anthropic body
	members   []jsonobj.Member // its top-level members, for rewriting the model
	openAI    []jsonobj.Member // the same call in OpenAI chat format, as its members
	model     string
	stream    bool
	maxTokens int64
}

func parseMessages(body []byte) (*messagesRequest, error) {
	members, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	oa, model, stream, maxTokens, err := anthropic.RequestToOpenAI(body)
	var re *anthropic.RequestError
	if errors.As(err, &re) {
		return nil, apiErr(ErrInvalidRequest, re.Param, "%s", re.Message)
	}
	if err != nil {
		return nil, apiErr(ErrInvalidRequest, "", "The request body is not a valid Messages request: %v", err)
	}
	translated, err := jsonobj.Members(oa)
	if err != nil {
		return nil, err // the translation always writes one object
	}
	return &messagesRequest{body: body, members: members, openAI: translated, model: model, stream: stream, maxTokens: maxTokens}, nil
}

// promptTokens counts the prompt: exact for the hold's close calls and the estimate
// billed when the upstream reports no usage.
func (m *messagesRequest) promptTokens() int64 {
	texts, images, _ := anthropic.CountTokensRequest(m.body)
	var n int64
	for _, t := range texts {
		n += billing.CountTokens(m.model, t)
	}
	return n + int64(images)*imageTokenAllowance + chatOverhead(len(texts))
}

// withModel renders a body's members (Anthropic's or the translated one's) with the
// channel's model name and, for OpenAI's own API, its output-limit field name.
func withModel(members []jsonobj.Member, model, provider string, translated bool) []byte {
	set := []jsonobj.Member{{Key: "model", Raw: jsonobj.AppendString(nil, model)}}
	if translated && openai.MaxTokensField(provider) == "max_completion_tokens" {
		if v, ok := jsonobj.Get(members, "max_tokens"); ok {
			renamed := make([]jsonobj.Member, 0, len(members))
			for _, m := range members {
				if m.Key != "max_tokens" {
					renamed = append(renamed, m)
				}
			}
			members = renamed
			set = append(set, jsonobj.Member{Key: "max_completion_tokens", Raw: v})
		}
	}
	return rewritten(members, set...)
}

// messages serves POST /v1/messages.
func (g *Gateway) messages(cl *call) error {
	body, err := g.readBody(cl.c)
	if err != nil {
		return err
	}
	m, err := parseMessages(body)
	if err != nil {
		return err
	}
	cl.rec.Model, cl.rec.Stream = m.model, m.stream
	plan, err := cl.admit(m.model)
	if err != nil {
		return err
	}
	prompt := int64(len(body)) + chatOverhead(1)
	if w := cl.price.ContextWindow; w > 0 && prompt > w {
		if prompt = m.promptTokens(); prompt > w {
			return apiErr(ErrContextLength, "messages", "prompt is too long: about %d tokens > %d maximum", prompt, w)
		}
	}
	if err := cl.rateLimit(prompt+m.maxTokens, m.stream); err != nil {
		return err
	}
	if _, err := cl.reserve(m.model, prompt, m.promptTokens, m.maxTokens, true, 1); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(cl.ctx, g.cfg.UpstreamTimeout)
	defer cancel()
	return cl.failover(ctx, m.model, plan, func(rt route) error {
		upstreamModel := rt.channel.UpstreamModel(m.model)
		native, isNative := rt.provider.(*anthropic.Client)
		src := m.openAI
		if isNative {
			src = m.members
		}
		reqBody := withModel(src, upstreamModel, rt.channel.Provider, !isNative)
		started := time.Now()
		switch {
		case isNative && m.stream:
			return g.nativeStream(ctx, cl, rt, upstreamModel, native, reqBody, m, started)
		case isNative:
			return g.nativeMessage(ctx, cl, rt, upstreamModel, native, reqBody, started)
		case m.stream:
			return g.translatedStream(ctx, cl, rt, upstreamModel, reqBody, m, started)
		}
		return g.translatedMessage(ctx, cl, rt, upstreamModel, reqBody, m, started)
	})
}

func (g *Gateway) nativeMessage(ctx context.Context, cl *call, rt route, upstreamModel string, c *anthropic.Client, body []byte, started time.Time) error {
	resp, err := c.Messages(ctx, &anthropic.MessagesRequest{Body: body, Model: upstreamModel})
	cl.attempt(rt, started, err)
	if err != nil {
		return err
	}
	cl.served(rt, upstreamModel)
	var usage billing.Usage
	if resp.Usage != nil {
		usage = toBillingUsage(resp.Usage)
	} else {
		cl.rec.Estimated = true
		usage = billing.Usage{PromptTokens: billing.CountTokens(cl.rec.Model, string(body)), CompletionTokens: billing.CountTokens(cl.rec.Model, string(resp.Body))}
	}
	cl.answer(usage, resp.Body)
	return nil
}

func (g *Gateway) translatedMessage(ctx context.Context, cl *call, rt route, upstreamModel string, body []byte, m *messagesRequest, started time.Time) error {
	resp, err := rt.provider.Chat(ctx, &providers.ChatRequest{Body: body, Model: upstreamModel})
	cl.attempt(rt, started, err)
	if err != nil {
		return err
	}
	out, err := anthropic.ResponseFromOpenAI(resp.Body, m.model)
	if err != nil {
		return &providers.UpstreamError{Status: 0, Code: "bad_response", Message: err.Error()}
	}
	cl.served(rt, upstreamModel)
	var usage billing.Usage
	if resp.Usage != nil {
		usage = toBillingUsage(resp.Usage)
	} else {
		cl.rec.Estimated = true
		usage = billing.Usage{PromptTokens: m.promptTokens(), CompletionTokens: billing.CountTokens(m.model, string(out))}
	}
	cl.answer(usage, out)
	return nil
}

// eventWriter writes Anthropic's named SSE events, flushing each at once.
type eventWriter struct {
	w       *sse.Writer
	started bool
	c       *gin.Context
	cl      *call
}

func (ew *eventWriter) begin() {
	if !ew.started {
		sse.SetHeaders(ew.c.Writer.Header())
		ew.cl.beginStream()
		ew.c.Status(http.StatusOK)
		ew.w = sse.NewWriter(ew.c.Writer)
		ew.started = true
	}
}

func (ew *eventWriter) write(name string, data []byte) error {
	ew.begin()
	return ew.w.WriteEvent(name, data)
}

// streamEnd settles a stream the way pumpStream does for chat: on the upstream's
// usage, else on the count of what was produced; nothing produced, nothing billed.
func (cl *call) streamEnd(usage *providers.Usage, text []byte, promptTokens func() int64, clientGone bool, streamErr error, ew *eventWriter) {
	switch {
	case clientGone || cl.ctx.Err() != nil:
		cl.rec.ErrorCode, cl.rec.ErrorMessage = "client_disconnected", "the client closed the stream; billed for what was generated until then"
	case streamErr != nil:
		m := classify(streamErr)
		cl.rec.ErrorCode, cl.rec.ErrorMessage = m.code, m.message
		_ = ew.write("error", anthropic.ErrorJSON(anthropicErrorType(m.status), m.message))
	}
	switch {
	case usage == nil && len(text) == 0 && cl.rec.ErrorCode != "":
		cl.finish(nil)
	case usage != nil:
		bu := toBillingUsage(usage)
		cl.finish(&bu)
	default:
		cl.rec.Estimated = true
		bu := billing.Usage{PromptTokens: promptTokens(), CompletionTokens: billing.CountTokens(cl.rec.Model, string(text))}
		cl.finish(&bu)
	}
}

func (g *Gateway) nativeStream(ctx context.Context, cl *call, rt route, upstreamModel string, c *anthropic.Client, body []byte, m *messagesRequest, started time.Time) error {
	stream, err := c.MessagesStream(ctx, &anthropic.MessagesRequest{Body: body, Model: upstreamModel, Stream: true})
	var first anthropic.NativeEvent
	ended := false
	if err == nil {
		first, ended, err = firstOf(cl, stream.Recv, stream.Close)
	}
	cl.attempt(rt, started, err)
	if err != nil {
		return err
	}
	defer stream.Close()
	cl.served(rt, upstreamModel)
	cl.rec.Status = http.StatusOK
	ew := &eventWriter{c: cl.c, cl: cl}
	ew.begin()
	var usage *providers.Usage
	var text bytes.Buffer
	var streamErr error
	clientGone := false
	last := ""
	ev, rerr := first, error(nil)
	if ended {
		rerr = io.EOF
	}
	for ; ; ev, rerr = timed(cl, stream.Recv) {
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			streamErr = rerr
			break
		}
		if ev.Usage != nil {
			usage = ev.Usage
		}
		text.WriteString(ev.Text)
		if ev.Name == "message_stop" {
			// The settlement goes first: a client that saw the end was billed.
			last = "message_stop"
			cl.streamEnd(usage, text.Bytes(), m.promptTokens, false, nil, ew)
			if werr := ew.write(ev.Name, ev.Data); werr != nil {
				return nil
			}
			continue
		}
		if werr := ew.write(ev.Name, ev.Data); werr != nil {
			clientGone = true
			break
		}
	}
	if last != "message_stop" {
		cl.streamEnd(usage, text.Bytes(), m.promptTokens, clientGone, streamErr, ew)
	}
	return nil
}

func (g *Gateway) translatedStream(ctx context.Context, cl *call, rt route, upstreamModel string, body []byte, m *messagesRequest, started time.Time) error {
	stream, err := rt.provider.ChatStream(ctx, &providers.ChatRequest{Body: body, Model: upstreamModel, Stream: true})
	var first providers.Chunk
	ended := false
	if err == nil {
		first, ended, err = firstOf(cl, stream.Recv, stream.Close)
	}
	cl.attempt(rt, started, err)
	if err != nil {
		return err
	}
	defer stream.Close()
	cl.served(rt, upstreamModel)
	cl.rec.Status = http.StatusOK
	ew := &eventWriter{c: cl.c, cl: cl}
	ew.begin()
	enc := anthropic.NewEventEncoder(m.model, 0)
	var usage *providers.Usage
	var text bytes.Buffer
	var streamErr error
	clientGone := false
	chunk, rerr := first, error(nil)
	if ended {
		rerr = io.EOF
	}
	for ; ; chunk, rerr = timed(cl, stream.Recv) {
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			streamErr = rerr
			break
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		text.WriteString(chunk.Text)
		events, eerr := enc.Encode(chunk.Data)
		if eerr != nil {
			streamErr = &providers.UpstreamError{Code: "bad_chunk", Message: eerr.Error()}
			break
		}
		for _, ev := range events {
			if werr := ew.write(ev.Name, ev.Data); werr != nil {
				clientGone = true
				break
			}
		}
		if clientGone {
			break
		}
	}
	if streamErr != nil || clientGone {
		cl.streamEnd(usage, text.Bytes(), m.promptTokens, clientGone, streamErr, ew)
		return nil
	}
	cl.streamEnd(usage, text.Bytes(), m.promptTokens, false, nil, ew)
	for _, ev := range enc.Finish(usage) {
		if ew.write(ev.Name, ev.Data) != nil {
			break
		}
	}
	return nil
}

// countTokens serves POST /v1/messages/count_tokens: the gateway's own count (it is
// not billed and makes no upstream call). For non-OpenAI models it is tiktoken's
// estimate, scaled to stay an upper bound.
func (g *Gateway) countTokens(c *gin.Context) error {
	body, err := g.readBody(c)
	if err != nil {
		return err
	}
	if _, err := decodeObject(body); err != nil {
		return err
	}
	var head struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.Model == "" {
		return apiErr(ErrInvalidRequest, "model", "model: Field required")
	}
	if !keyOf(c).AllowsModel(head.Model) {
		return apiErr(ErrModelNotAllowed, "model", "This API key may not use the model '%s'.", head.Model)
	}
	texts, images, err := anthropic.CountTokensRequest(body)
	var re *anthropic.RequestError
	if errors.As(err, &re) {
		return apiErr(ErrInvalidRequest, re.Param, "%s", re.Message)
	}
	if err != nil {
		return apiErr(ErrInvalidRequest, "", "The request body is not a valid count_tokens request: %v", err)
	}
	var n int64
	for _, t := range texts {
		n += billing.CountTokens(head.Model, t)
	}
	c.JSON(http.StatusOK, gin.H{"input_tokens": n + int64(images)*imageTokenAllowance})
	return nil
}

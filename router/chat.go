package router

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/openai"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// chat serves POST /v1/chat/completions, plain and streaming.
func (g *Gateway) chat(cl *call) error {
	body, err := g.readBody(cl.c)
	if err != nil {
		return err
	}
	p, err := parseChat(body)
	if err != nil {
		return err
	}
	model := p.req.Model
	cl.rec.Model, cl.rec.Stream = model, p.req.Stream
	plan, err := cl.admit(model)
	if err != nil {
		return err
	}

	prompt := p.promptBound()
	exact := func() int64 { return p.promptTokens(model) }
	if w := cl.price.ContextWindow; w > 0 && prompt > w {
		if prompt = exact(); prompt > w {
			return apiErr(ErrContextLength, "messages", "This model's maximum context length is %d tokens, but the messages use about %d. Shorten the messages.", w, prompt)
		}
	}
	clientMax, clientSet := p.maxOutput()
	outputEstimate := clientMax
	if !clientSet {
		outputEstimate = cl.price.MaxOutput
		if outputEstimate <= 0 {
			outputEstimate = defaultOutputCap
		}
	}
	if err := cl.rateLimit(prompt+outputEstimate*p.n(), p.req.Stream); err != nil {
		return err
	}
	inject, err := cl.reserve(model, prompt, exact, clientMax, clientSet, p.n())
	if err != nil {
		return err
	}

	if p.req.Stream {
		cl.loosen()
	}
	ctx, cancel := context.WithTimeout(cl.ctx, g.cfg.UpstreamTimeout)
	cl.cleanups = append(cl.cleanups, cancel) // a detached stream outlives this function
	return cl.failover(ctx, model, plan, func(rt route) error {
		upstreamModel := rt.channel.UpstreamModel(model)
		injectField := ""
		if inject > 0 {
			injectField = openai.MaxTokensField(rt.channel.Provider)
		}
		reqBody, err := p.upstreamBody(upstreamModel, injectField, inject)
		if err != nil {
			return err
		}
		req := &providers.ChatRequest{Body: reqBody, Model: upstreamModel, Stream: p.req.Stream}
		started := time.Now()
		if p.req.Stream {
			stream, err := rt.provider.ChatStream(ctx, req)
			var first providers.Chunk
			ended := false
			if err == nil {
				first, ended, err = firstOf(cl, stream.Recv, stream.Close)
			}
			cl.attempt(rt, started, err)
			if err != nil {
				return err
			}
			cl.served(rt, upstreamModel)
			g.pumpStream(ctx, cl, p, stream, first, ended)
			return nil
		}
		resp, err := rt.provider.Chat(ctx, req)
		cl.attempt(rt, started, err)
		if err != nil {
			return err
		}
		cl.served(rt, upstreamModel)
		usage := g.chatUsage(cl, p, resp)
		cl.answer(usage, resp.Body)
		return nil
	})
}

// admit checks the model against the key and the catalog, and returns the channels
// to try. Every refusal here comes before anything is held.
func (cl *call) admit(model string) ([]route, error) {
	if !cl.key.AllowsModel(model) {
		return nil, apiErr(ErrModelNotAllowed, "model", "This API key may not use the model '%s'. Allowed: %s.", model, strings.Join(cl.key.Models, ", "))
	}
	cat := cl.g.catalog.Load()
	plan := cat.plan(model)
	if len(plan) == 0 {
		return nil, apiErr(ErrModelNotFound, "model", "The model '%s' does not exist or is not served by this gateway. GET /v1/models lists the models you can use.", model)
	}
	price, _, ok := cat.prices.Lookup(model)
	if !ok {
		return nil, apiErr(ErrModelNotPriced, "model", "The model '%s' has no price set, and Tollgate never serves a model it cannot bill. Ask your operator to set one (PUT /admin/api/v1/prices/%s).", model, model)
	}
	if len(plan) > cl.g.cfg.MaxAttempts {
		plan = plan[:cl.g.cfg.MaxAttempts]
	}
	// A call is billed at the price of the model that served it: a channel may map
	// the client's model to another priced model. The hold covers the dearest
	// candidate, so whichever channel answers, the hold bounds the cost.
	cl.prices = make([]channelPrice, 0, len(plan))
	cl.price, cl.admitted = price, true
	for _, rt := range plan {
		served := price
		if p, _, ok := cat.prices.Lookup(rt.channel.UpstreamModel(model)); ok {
			served = p
		}
		cl.prices = append(cl.prices, channelPrice{rt.channel.ID, served})
		cl.price = dearest(cl.price, served)
	}
	return plan, nil
}

// dearest combines two prices into one that is never cheaper than either, with the
// tighter of their limits, for sizing a hold that must cover both.
func dearest(a, b billing.Price) billing.Price {
	out := a
	out.Input, out.Output = max(a.Input, b.Input), max(a.Output, b.Output)
	out.CachedInput, out.CacheWrite = max(a.CachedInput, b.CachedInput), max(a.CacheWrite, b.CacheWrite)
	if b.ContextWindow > 0 && (out.ContextWindow == 0 || b.ContextWindow < out.ContextWindow) {
		out.ContextWindow = b.ContextWindow
	}
	if b.MaxOutput > 0 && (out.MaxOutput == 0 || b.MaxOutput < out.MaxOutput) {
		out.MaxOutput = b.MaxOutput
	}
	return out
}

// chatUsage is what a plain answer is billed for: the upstream's report, or the
// gateway's count of prompt and answer when the upstream sent none.
func (g *Gateway) chatUsage(cl *call, p *parsedChat, resp *providers.ChatResponse) billing.Usage {
	if resp.Usage != nil {
		return toBillingUsage(resp.Usage)
	}
	cl.rec.Estimated = true
	var answer struct {
		Choices []struct {
			Message struct {
				Content          string          `json:"content"`
				ReasoningContent string          `json:"reasoning_content"`
				ToolCalls        json.RawMessage `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(resp.Body, &answer)
	var text strings.Builder
	for _, ch := range answer.Choices {
		text.WriteString(ch.Message.Content)
		text.WriteString(ch.Message.ReasoningContent)
		text.Write(ch.Message.ToolCalls)
	}
	return billing.Usage{PromptTokens: p.promptTokens(p.req.Model), CompletionTokens: billing.CountTokens(p.req.Model, text.String())}
}

// pumpStream relays an upstream stream chunk by chunk, flushed before the gateway
// waits for the next (at once, unless more had arrived with it), then
// settles: on the upstream's usage when it came, else on the gateway's count of the
// text actually produced — also when the client left or the upstream broke mid-way.
// A stream that produced nothing at all costs nothing. A stream whose upstream goes
// quiet may detach and park (detach.go).
func (g *Gateway) pumpStream(ctx context.Context, cl *call, p *parsedChat, stream providers.ChatStream, first providers.Chunk, upstreamEnded bool) {
	sse.SetHeaders(cl.c.Writer.Header())
	cl.beginStream()
	cl.rec.Status = http.StatusOK
	cl.c.Status(http.StatusOK)
	p.compact()
	r := &chatRelay{g: g, ctx: ctx, cl: cl, p: p, stream: stream, chunk: first}
	if upstreamEnded {
		r.err = io.EOF
	}
	if parker, ok := stream.(providers.Parker); ok && cl.unfollow != nil {
		r.parker = parker
	}
	r.begin(cl.c.Writer)
	r.run()
}

// parkLinger is how long a relay waits for its upstream on its goroutine before it
// detaches and parks: longer than the gap between the chunks of a busy stream, so
// only a stream that really went quiet pays for detaching, parking and waking.
const parkLinger = 50 * time.Millisecond

// chatRelay is one stream's relay: its state lives here rather than on a
// goroutine's stack, so the relay can stop while parked and resume on another.
type chatRelay struct {
	g      *Gateway
	ctx    context.Context // the upstream call's
	cl     *call
	p      *parsedChat
	stream providers.ChatStream
	w      *sse.Writer
	parker providers.Parker // nil: the relay never parks
	done   func()           // set once detached: ends the call

	chunk      providers.Chunk // the item to relay next, and its error
	err        error
	usage      *providers.Usage
	text       strings.Builder
	streamErr  error
	clientGone bool
	parkedAt   time.Time
}

// begin writes to out from now on.
func (r *chatRelay) begin(out io.Writer) {
	r.w = sse.NewWriter(out)
	if h, ok := r.stream.(providers.WaitHooker); ok {
		// Chunks that arrived together go out in one flush, made before the next
		// wait; the last ones and [DONE] leave with the end of the response.
		r.w.Buffer()
		h.BeforeWait(func() { _ = r.w.Flush() })
	}
}

// run relays until the stream ends (then settles and ends a detached call) or
// parks.
func (r *chatRelay) run() {
	for r.relayOne() {
		if r.parker != nil {
			t0 := time.Now()
			if r.parker.Quiet(parkLinger) && r.detach() {
				r.parkedAt = t0
				r.w.Release()
				g := r.g
				g.parked(true) // before Park: resume may run before Park returns
				if r.parker.Park(r.resume) {
					g.parkCounted() // r is resume's now
					return
				}
				g.parked(false)
			}
			r.cl.upstream += time.Since(t0)
		}
		r.chunk, r.err = timed(r.cl, r.stream.Recv)
	}
	r.settle()
	_ = r.stream.Close()
	r.end()
}

// end ends a detached call, once.
func (r *chatRelay) end() {
	if done := r.done; done != nil {
		r.done = nil
		done()
	}
}

// parked counts a stream that parks or wakes (or did not park after all) in the
// streams parked now.
func (g *Gateway) parked(parks bool) {
	if parks {
		g.parkedNow.Add(1)
	} else {
		g.parkedNow.Add(-1)
	}
	g.cfg.Metrics.StreamParked(parks)
}

// parkCounted counts a park that happened in the total.
func (g *Gateway) parkCounted() {
	g.parks.Add(1)
	g.cfg.Metrics.StreamPark()
}

// detach moves a quiet stream off its handler, once; false leaves it attached for
// good.
func (r *chatRelay) detach() bool {
	if r.done != nil {
		return true
	}
	_ = r.w.Flush() // net/http drops what a hijack finds unflushed
	out, done, ok := r.cl.detach()
	if !ok {
		r.parker = nil
		return false
	}
	r.done = done
	r.begin(out)
	return true
}

// resume continues a parked relay on a goroutine of its own.
func (r *chatRelay) resume() {
	r.g.parked(false)
	r.cl.upstream += time.Since(r.parkedAt)
	go func() {
		defer r.recover()
		r.chunk, r.err = timed(r.cl, r.stream.Recv)
		r.run()
	}()
}

// recover keeps a bug in one resumed relay from taking the gateway down, as the
// server's Recover does for handlers: the stream is cut and its call ended; its
// hold, never settled, expires and is swept.
func (r *chatRelay) recover() {
	rec := recover()
	if rec == nil {
		return
	}
	r.g.log.Error("panic in a stream relay", "request_id", r.cl.rec.RequestID, "panic", rec)
	_ = r.stream.Close()
	r.end()
}

// relayOne writes the current chunk and reports whether the stream goes on.
func (r *chatRelay) relayOne() bool {
	chunk := r.chunk
	r.chunk = providers.Chunk{} // not kept while the relay waits
	switch {
	case r.err == io.EOF:
		return false
	case r.err != nil:
		r.streamErr = r.err
		return false
	}
	if chunk.Usage != nil {
		r.usage = chunk.Usage
	}
	r.text.WriteString(chunk.Text)
	if chunk.UsageOnly && !r.p.wantsUsage() {
		return true
	}
	if err := r.w.WriteData(chunk.Data); err != nil {
		r.clientGone = true
		return false
	}
	return true
}

// settle writes the stream's outcome and bills it.
func (r *chatRelay) settle() {
	cl, p := r.cl, r.p
	ended := false
	switch {
	case r.clientGone || cl.ctx.Err() != nil:
		cl.rec.ErrorCode, cl.rec.ErrorMessage = "client_disconnected", "the client closed the stream; billed for what was generated until then"
	case r.streamErr != nil:
		m := classify(r.streamErr)
		if r.ctx.Err() == context.DeadlineExceeded {
			m = classify(context.DeadlineExceeded)
		}
		cl.rec.ErrorCode, cl.rec.ErrorMessage = m.code, m.message
		body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Message: m.message, Type: m.typ, Code: ptrOrNil(m.code)}})
		_ = r.w.WriteData(body)
	default:
		ended = true
	}
	switch {
	case r.usage == nil && r.text.Len() == 0 && cl.rec.ErrorCode != "":
		cl.finish(nil)
	case r.usage != nil:
		bu := toBillingUsage(r.usage)
		cl.finish(&bu)
	default:
		cl.rec.Estimated = true
		bu := billing.Usage{PromptTokens: p.promptTokens(p.req.Model), CompletionTokens: billing.CountTokens(p.req.Model, r.text.String())}
		cl.finish(&bu)
	}
	if ended {
		// [DONE] goes out only after the settlement is written: a client that saw
		// the end of its stream was billed, even if the process dies right after.
		_ = r.w.WriteDone()
	}
}

package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/store"
)

// call carries one billed request from authentication to settlement.
type call struct {
	g         *Gateway
	c         *gin.Context    // nil once the call detached
	ctx       context.Context // the request's, or the call's own once loosened (detach.go)
	key       store.APIKey
	start     time.Time
	rec       store.CallRecord
	hold      *billing.Hold
	price     billing.Price  // what the hold is sized by: the dearest candidate
	prices    []channelPrice // the price of the model each planned channel serves
	billAt    *billing.Price // the price of the model that served the call
	admitted  bool           // the model passed admission (safe as a metric label)
	upstream  time.Duration  // time spent waiting on upstreams
	streaming bool           // a stream began: the overhead goes out as a trailer too
	finished  bool           // the request log row is written

	rated       []rateSubject      // subjects whose token estimate was charged
	ratedTokens int64              // that estimate
	rateHeaders ratelimit.Decision // numbers for the x-ratelimit-* headers
	streamSlots []func()           // concurrent-stream slots to give back

	cancel   context.CancelFunc // cancels ctx once loosened
	unfollow func() bool        // stops ctx following the request's
	cleanups []func()           // run when the call ends
	detached bool               // the stream goes on without its handler
	ended    bool
}

// channelPrice is the price of the model one channel of a call's plan serves.
type channelPrice struct {
	channelID string
	price     billing.Price
}

// billed runs a /v1 handler as one billed call: it tracks the call for graceful
// shutdown, and logs every refusal made after authentication to the request log.
// A stream that detached (detach.go) ends its call on its own goroutine.
func (g *Gateway) billed(endpoint string, fn func(*call) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		g.inflight.Add(1)
		k := keyOf(c)
		cl := &call{g: g, c: c, ctx: c.Request.Context(), key: k, start: time.Now(), rec: store.CallRecord{
			RequestID: RequestIDOf(c), TenantID: k.TenantID, KeyID: k.ID, Endpoint: endpoint}}
		defer func() {
			if !cl.detached && !cl.ended { // a panic: give back what the call took
				cl.release()
			}
		}()
		err := fn(cl)
		if cl.detached {
			return
		}
		status := c.Writer.Status()
		if err != nil {
			cl.overheadHeader()
			m := writeError(c, err)
			status = m.status
			if !cl.finished {
				cl.rec.Status, cl.rec.ErrorCode, cl.rec.ErrorMessage = m.status, m.code, m.message
				cl.finish(nil)
			}
		}
		if cl.streaming {
			c.Writer.Header().Set(OverheadHeader, cl.overhead()) // the trailer declared when the stream began
		}
		cl.end(status)
	}
}

// end records the call's metrics and gives back what it took.
func (cl *call) end(status int) {
	model := ""
	if cl.admitted {
		model = cl.rec.Model // a catalog model: never a raw client string in a metric label
	}
	cl.g.cfg.Metrics.Call(cl.rec.Endpoint, model, cl.key.TenantID, status, cl.rec.Stream, time.Since(cl.start), cl.upstream)
	cl.release()
}

// release frees the call's stream slots and contexts and ends its tracking.
func (cl *call) release() {
	cl.ended = true
	cl.releaseStreams()
	for _, f := range cl.cleanups {
		f()
	}
	cl.g.inflight.Done()
}

// OverheadHeader carries what the gateway itself added to a call: its total time
// minus the time spent waiting on the upstream, in milliseconds. Streams send it
// twice: as a header (until the first byte) and as a trailer (whole call).
const OverheadHeader = "X-Tollgate-Overhead-Ms"

func (cl *call) overhead() string {
	d := time.Since(cl.start) - cl.upstream
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
}

// overheadHeader sets the overhead so far; call it right before the status line.
func (cl *call) overheadHeader() { cl.c.Header(OverheadHeader, cl.overhead()) }

// beginStream declares the overhead trailer and sets the header's value, before the
// first byte of a stream.
func (cl *call) beginStream() {
	cl.streaming = true
	cl.overheadHeader()
	cl.c.Writer.Header().Add("Trailer", OverheadHeader)
}

// storeFault keeps business refusals (no credit) out of the store error metric.
func storeFault(err error) error {
	if errors.Is(err, billing.ErrInsufficientCredit) {
		return nil
	}
	return err
}

// timed runs one upstream read, counting its wait as upstream time.
func timed[T any](cl *call, recv func() (T, error)) (T, error) {
	t0 := time.Now()
	v, err := recv()
	cl.upstream += time.Since(t0)
	return v, err
}

// settleTimeout bounds one settlement; holdGrace is what a hold outlives its call
// by, so the sweeper never releases a hold whose call may still be settling.
const (
	settleTimeout = 10 * time.Second
	holdGrace     = settleTimeout + 5*time.Second
)

// holdTTL is how long a hold may stay open: the longest call plus the grace.
func (g *Gateway) holdTTL() time.Duration { return g.cfg.UpstreamTimeout + holdGrace }

// settleContext outlives the client: a call whose client has gone is still settled.
// A store that writes behind settles in memory and needs no deadline (nor its timer).
func (cl *call) settleContext() (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(cl.ctx)
	if cl.g.store.WritesBehind() {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, settleTimeout)
}

// finish writes the call's outcome: a settlement when usage is given and a hold
// exists, a release when the hold exists without usage, a plain log row otherwise.
func (cl *call) finish(usage *billing.Usage) {
	if cl.finished {
		return
	}
	cl.finished = true
	cl.rec.LatencyMs = time.Since(cl.start).Milliseconds()
	ctx, cancel := cl.settleContext()
	defer cancel()
	var err error
	switch {
	case cl.hold != nil && usage != nil:
		cl.rec.Usage = *usage
		billAt := cl.price
		if cl.billAt != nil {
			billAt = *cl.billAt
		}
		cost, cerr := billAt.Cost(*usage)
		if cerr != nil {
			// Counts too large to price are a broken upstream report: bill the hold,
			// the most the client agreed to.
			cl.g.log.Warn("usage could not be priced; billing the hold", "request_id", cl.rec.RequestID, "error", cerr)
			cost = cl.hold.Amount
		}
		if cost > cl.hold.Amount {
			cl.g.log.Warn("usage exceeds the hold; charging the hold", "request_id", cl.rec.RequestID,
				"cost", cost.String(), "hold", cl.hold.Amount.String())
		}
		cl.rec.Cost = cost
		var charged billing.Nanos
		t0 := time.Now()
		charged, err = cl.g.store.Settle(ctx, *cl.hold, cl.rec)
		cl.g.cfg.Metrics.StoreOp("settle", time.Since(t0), err)
		if err == nil {
			cl.g.cfg.Metrics.Usage(cl.rec.Model, cl.rec.TenantID, usage.PromptTokens, usage.CompletionTokens, int64(charged))
		}
		if err != nil && !errors.Is(err, billing.ErrHoldNotFound) && cl.g.cfg.Outbox != nil {
			// The call was served: keep its settlement on disk until the store is back.
			oerr := cl.g.cfg.Outbox.Add(store.PendingSettlement{Hold: *cl.hold, Record: cl.rec})
			if oerr == nil {
				cl.g.log.Warn("store unavailable; settlement kept in the outbox", "request_id", cl.rec.RequestID, "error", err)
				return
			}
			cl.g.log.Error("store unavailable and the outbox failed: this call stays unbilled", "request_id", cl.rec.RequestID, "error", oerr)
		}
		cl.rec.Cost = charged
	case cl.hold != nil:
		t0 := time.Now()
		err = cl.g.store.Release(ctx, *cl.hold, &cl.rec)
		cl.g.cfg.Metrics.StoreOp("release", time.Since(t0), err)
	default:
		t0 := time.Now()
		err = cl.g.store.RecordCall(ctx, cl.rec)
		cl.g.cfg.Metrics.StoreOp("record", time.Since(t0), err)
	}
	if err != nil && !errors.Is(err, billing.ErrHoldNotFound) {
		cl.g.log.Error("could not record the call", "request_id", cl.rec.RequestID, "error", err)
	}
	used := int64(0)
	if usage != nil {
		used = usage.PromptTokens + usage.CompletionTokens
	}
	cl.correctTokens(used)
}

// reserve holds the call's worst case. The first try sizes the prompt by its byte
// bound; only when that is refused is the prompt counted exactly, so a large prompt
// costs a tokenization only when it can change the answer. When the client set no
// output limit, the hold's output part is the model's cap, lowered to what the
// wallet affords (and that limit is sent upstream, so the call cannot overdraw).
func (cl *call) reserve(model string, prompt int64, exactPrompt func() int64, clientMax int64, clientSet bool, n int64) (inject int64, err error) {
	maxOut, exact := clientMax, false
	outputCap := cl.price.MaxOutput
	if outputCap <= 0 {
		outputCap = defaultOutputCap
	}
	if !clientSet {
		maxOut = outputCap
		if w := cl.price.ContextWindow; w > 0 && w-prompt < maxOut {
			maxOut = max(w-prompt, 1)
		}
	}
	var ice *billing.InsufficientCreditError
	for try := 0; try < 4; try++ {
		amount, berr := cl.price.Bound(prompt, maxOut, n)
		if berr != nil {
			return 0, apiErr(ErrInvalidRequest, "max_tokens", "The requested output (%d tokens × n=%d) is too large to price. Lower max_tokens or n.", maxOut, n)
		}
		t0 := time.Now()
		hold, rerr := cl.g.store.Reserve(cl.ctx, billing.HoldRequest{TenantID: cl.key.TenantID, KeyID: cl.key.ID,
			RequestID: cl.rec.RequestID, Amount: amount, TTL: cl.g.holdTTL()})
		cl.g.cfg.Metrics.StoreOp("reserve", time.Since(t0), storeFault(rerr))
		if rerr == nil {
			cl.hold = &hold
			cl.rec.HoldAmount = amount
			if clientSet {
				return 0, nil
			}
			return maxOut, nil
		}
		if !errors.As(rerr, &ice) {
			return 0, rerr
		}
		if !exact {
			prompt, exact = exactPrompt(), true
			if !clientSet {
				maxOut = outputCap
			}
			continue
		}
		affordable := cl.price.AffordableOutput(ice.Available, prompt, n)
		if clientSet || affordable < 1 || affordable >= maxOut {
			return 0, insufficient(ice, model, clientSet, affordable)
		}
		maxOut = affordable
	}
	return 0, insufficient(ice, model, clientSet, 0)
}

func insufficient(ice *billing.InsufficientCreditError, model string, clientSet bool, affordable int64) error {
	return &insufficientError{ice: ice, msg: insufficientMessage(ice, model, clientSet, affordable)}
}

// insufficientError is a 402 with its message already written.
type insufficientError struct {
	ice *billing.InsufficientCreditError
	msg string
}

func (e *insufficientError) Error() string { return e.msg }
func (e *insufficientError) Unwrap() error { return e.ice }

// attempt records one try of a channel, in the call's log and in the channel's health.
func (cl *call) attempt(rt route, started time.Time, err error) {
	now := time.Now()
	a := store.Attempt{ChannelID: rt.channel.ID, Provider: rt.channel.Provider, Status: 200, LatencyMs: now.Sub(started).Milliseconds()}
	o := outcomeOK
	var wait time.Duration // what the upstream asked for
	if err != nil {
		a.Status = classify(err).status
		var ue *providers.UpstreamError
		if errors.As(err, &ue) {
			a.Status, wait = ue.Status, ue.Wait()
		}
		a.Error = err.Error()
		switch {
		case cl.ctx.Err() != nil:
			o = outcomeNeutral
		case retryable(context.Background(), err) || errors.Is(err, context.DeadlineExceeded):
			o = outcomeFailed
		}
	}
	cl.rec.Attempts = append(cl.rec.Attempts, a)
	cl.upstream += now.Sub(started)
	cl.g.cfg.Metrics.Attempt(rt.channel.ID, rt.channel.Provider, a.Status, now.Sub(started))
	if err != nil {
		cl.traceHeaders(rt)
	}
	cl.g.health.record(rt.channel.ID, o, now.Sub(started), a.Error, wait, now)
}

// served marks the channel that answered, in the log and in response headers, so a
// call can be traced to the link of the chain that produced it.
func (cl *call) served(rt route, upstreamModel string) {
	cl.rec.ChannelID, cl.rec.Provider, cl.rec.UpstreamModel = rt.channel.ID, rt.channel.Provider, upstreamModel
	for i := range cl.prices {
		if cl.prices[i].channelID == rt.channel.ID {
			cl.billAt = &cl.prices[i].price
		}
	}
	cl.traceHeaders(rt)
	cl.rateLimitHeaders()
}

// traceHeaders name the channel that answered (or failed last) and the number of
// attempts, on successes and errors alike, so any answer can be traced to its link.
func (cl *call) traceHeaders(rt route) {
	h := cl.c.Writer.Header()
	h.Set("X-Tollgate-Channel", rt.channel.Name)
	h.Set("X-Tollgate-Provider", rt.channel.Provider)
	h.Set("X-Tollgate-Attempts", strconv.Itoa(len(cl.rec.Attempts)))
}

// retryable says whether a failed attempt may move on to the next channel: only
// upstream failures the upstream itself caused, and never after the client left.
func retryable(ctx context.Context, err error) bool {
	var ue *providers.UpstreamError
	return ctx.Err() == nil && errors.As(err, &ue) && ue.Retryable()
}

// toBillingUsage converts an adapter's report into billing terms.
func toBillingUsage(u *providers.Usage) billing.Usage {
	return billing.Usage{PromptTokens: u.InputTokens, CachedTokens: u.CachedInputTokens, CacheWriteTokens: u.CacheWriteTokens,
		CompletionTokens: u.OutputTokens, ReasoningTokens: u.ReasoningTokens}
}

// failover tries the plan's channels in order until one serves the call. try returns
// nil once it has answered the client, or the attempt's error. Channels whose
// circuit is open are skipped; the next channel is tried only after a failure
// another channel could fix, never after the client left.
func (cl *call) failover(ctx context.Context, model string, plan []route, try func(rt route) error) error {
	var lastErr error
	tried := 0
	for _, rt := range plan {
		if !cl.g.health.allow(rt.channel.ID, time.Now()) {
			continue
		}
		tried++
		if lastErr = try(rt); lastErr == nil {
			return nil
		}
		if !retryable(ctx, lastErr) {
			break
		}
	}
	if tried == 0 {
		ids := make([]string, len(plan))
		for i, rt := range plan {
			ids[i] = rt.channel.ID
		}
		return errAllCircuitsOpen(model, cl.g.health.reopensIn(ids, time.Now()))
	}
	if errors.Is(lastErr, context.Canceled) && cl.ctx.Err() != nil {
		cl.rec.Status, cl.rec.ErrorCode = 499, "client_closed_request"
		cl.finish(nil)
		return nil
	}
	return lastErr
}

// firstOf reads a stream's first item before anything reaches the client, so a
// stream that fails at once can still fail over. ended reports a stream that ended
// before its first item; on an error the stream is closed.
func firstOf[T any](cl *call, recv func() (T, error), closeStream func() error) (first T, ended bool, err error) {
	first, err = timed(cl, recv)
	switch {
	case err == io.EOF:
		return first, true, nil
	case err != nil:
		_ = closeStream() // the read error is the one to report
	}
	return first, false, err
}

// answer settles a plain (non-streaming) call and writes its body, with the cost
// and the overhead in headers.
func (cl *call) answer(usage billing.Usage, body []byte) {
	cl.rec.Status = http.StatusOK
	cl.finish(&usage)
	cl.c.Header("X-Tollgate-Cost-Usd", cl.rec.Cost.String())
	cl.overheadHeader()
	cl.c.Data(http.StatusOK, "application/json", body)
}

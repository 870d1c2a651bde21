package providertest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// AnthropicVersion is the anthropic-version header value the fake expects by
// default, the one Anthropic's SDKs send.
const AnthropicVersion = "2023-06-01"

// AnthropicBehavior programs how the fake Anthropic API answers. The zero value
// answers every call successfully with DefaultText and truthful-looking usage.
type AnthropicBehavior struct {
	// Text is the reply's text block; "" means DefaultText, or no text block at all
	// when ToolUse is set.
	Text string
	// Chunks is the number of text_delta (and thinking_delta) events Text (and
	// Thinking) is split into, at rune boundaries; 0 means one per word.
	Chunks int
	// Thinking, when set, is a thinking block (with a signature) before the text.
	Thinking string
	// ToolUse, when set, is a tool_use block after the text.
	ToolUse *AnthropicToolUse
	// StopReason is reported when the reply ends; "" means "tool_use" when ToolUse
	// is set, else "end_turn".
	StopReason string

	// InputTokens is the reported input_tokens, which like Anthropic's excludes the
	// cache; 0 means one token per four bytes of the request body, rounded up.
	InputTokens int
	// CacheCreationTokens and CacheReadTokens are the reported cache writes and reads.
	CacheCreationTokens, CacheReadTokens int
	// OutputTokens is the reported output_tokens; 0 means the number of content
	// deltas the reply streams as.
	OutputTokens int

	// Error, when set, answers every call with this error and nothing else.
	Error *AnthropicError
	// HeaderDelay waits this long before sending the status line and headers.
	HeaderDelay time.Duration
	// ChunkDelay waits this long before each content delta of a stream.
	ChunkDelay time.Duration
	// Fault breaks the answer after FaultAfter content deltas (or, for answers that
	// are not streams, part way through the body). FaultErrorEvent sends an
	// overloaded_error event and ends the stream (a plain answer becomes that error
	// body with status 200); FaultMalformed sends a content_block_delta whose JSON is
	// cut short, then carries on.
	Fault Fault
	// FaultAfter is the number of content deltas sent before Fault strikes.
	FaultAfter int
	// UnknownEvents inserts events of a type Anthropic may add in the future, right
	// after message_start and again before message_delta; clients must skip them.
	UnknownEvents bool
	// NoMessageStop ends the stream after message_delta, without message_stop, as a
	// connection cut at the very end would.
	NoMessageStop bool

	// RawEvents, when set, replaces a stream's events: each is sent verbatim, and
	// nothing else (faults and delays still apply before each).
	RawEvents []AnthropicEvent
	// RawBody, when set, is sent verbatim as JSON with status 200 in place of a
	// message, also to a streaming request (as a proxy that ignores "stream" would).
	RawBody string
}

// AnthropicToolUse is a tool_use block of the fake's reply.
type AnthropicToolUse struct {
	ID    string // "" means "toolu_fake01"
	Name  string
	Input string // the input object as JSON; "" means {}
	// Pieces is the number of input_json_delta events Input is streamed as, after
	// the empty one Anthropic sends first; 0 means 3.
	Pieces int
}

// AnthropicEvent is one server-sent event: its name and its data.
type AnthropicEvent struct {
	Name string // the event field; "" sends none
	Data string // the data, sent verbatim
}

// AnthropicError is an error answer in Anthropic's shape:
// {"type":"error","error":{"type","message"},"request_id":…}.
type AnthropicError struct {
	Status  int    // HTTP status
	Type    string // error.type
	Message string // error.message
	// RetryAfter is sent as the retry-after header when not "".
	RetryAfter string
}

// AnthropicInvalidRequestError is Anthropic's 400 for a request it cannot serve.
func AnthropicInvalidRequestError(msg string) *AnthropicError {
	return &AnthropicError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: msg}
}

// AnthropicCreditBalanceError is how Anthropic refuses an account out of credit: a
// 400 invalid_request_error that only its message tells apart from a bad request.
func AnthropicCreditBalanceError() *AnthropicError {
	return AnthropicInvalidRequestError("Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.")
}

// AnthropicBillingError is Anthropic's billing_error, for a problem with the
// account's billing.
func AnthropicBillingError() *AnthropicError {
	return &AnthropicError{Status: http.StatusPaymentRequired, Type: "billing_error",
		Message: "There is an issue with your account's billing. Please check your payment details."}
}

// AnthropicAuthError is Anthropic's 401 for a missing or wrong API key.
func AnthropicAuthError() *AnthropicError {
	return &AnthropicError{Status: http.StatusUnauthorized, Type: "authentication_error", Message: "invalid x-api-key"}
}

// AnthropicPermissionError is Anthropic's 403 for a key that may not use a resource.
func AnthropicPermissionError() *AnthropicError {
	return &AnthropicError{Status: http.StatusForbidden, Type: "permission_error",
		Message: "Your API key does not have permission to use the specified resource."}
}

// AnthropicNotFoundError is Anthropic's 404, e.g. for an unknown model.
func AnthropicNotFoundError(what string) *AnthropicError {
	return &AnthropicError{Status: http.StatusNotFound, Type: "not_found_error", Message: what}
}

// AnthropicRequestTooLargeError is the 413 for a body over Anthropic's size limit.
func AnthropicRequestTooLargeError() *AnthropicError {
	return &AnthropicError{Status: http.StatusRequestEntityTooLarge, Type: "request_too_large",
		Message: "Request exceeds the maximum allowed number of bytes."}
}

// AnthropicRateLimitError is Anthropic's 429, with a retry-after header when
// retryAfter is not "".
func AnthropicRateLimitError(retryAfter string) *AnthropicError {
	return &AnthropicError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", RetryAfter: retryAfter,
		Message: "This request would exceed the rate limit for your organization of 50 requests per minute. Please try again later."}
}

// AnthropicServerError is Anthropic's 500 api_error.
func AnthropicServerError() *AnthropicError {
	return &AnthropicError{Status: http.StatusInternalServerError, Type: "api_error", Message: "Internal server error"}
}

// AnthropicOverloadedError is Anthropic's 529, sent when its API is overloaded for
// everyone; the same error arrives as an event in streams that already started.
func AnthropicOverloadedError() *AnthropicError {
	return &AnthropicError{Status: 529, Type: "overloaded_error", Message: "Overloaded"}
}

// AnthropicHandler is a fake Anthropic Messages API as an http.Handler, for tests
// that run their own server. Its behaviour can be changed at any time from any
// goroutine.
type AnthropicHandler struct {
	plan    atomic.Pointer[anthropicPlan]
	respond atomic.Pointer[func(RecordedRequest) *AnthropicBehavior]
	apiKey  atomic.Pointer[string]
	noRec   atomic.Bool
	count   atomic.Int64

	mu    sync.Mutex
	calls []RecordedRequest

	done      chan struct{} // closed by Shutdown: releases stalled handlers
	closeOnce sync.Once
}

// NewAnthropicHandler returns a fake Anthropic API with the zero AnthropicBehavior
// that records every call.
func NewAnthropicHandler() *AnthropicHandler {
	h := &AnthropicHandler{done: make(chan struct{})}
	h.plan.Store(newAnthropicPlan(&AnthropicBehavior{}))
	return h
}

// SetBehavior changes how later calls are answered; calls in flight keep the
// behaviour they started with. Slices in b must not be changed afterwards.
func (h *AnthropicHandler) SetBehavior(b AnthropicBehavior) { h.plan.Store(newAnthropicPlan(&b)) }

// Behavior returns the behaviour set last.
func (h *AnthropicHandler) Behavior() AnthropicBehavior { return h.plan.Load().AnthropicBehavior }

// SetRespond installs a hook that picks the behaviour of each call from the request;
// a nil result, or a nil hook, uses the behaviour from SetBehavior.
func (h *AnthropicHandler) SetRespond(f func(RecordedRequest) *AnthropicBehavior) {
	if f == nil {
		h.respond.Store(nil)
		return
	}
	h.respond.Store(&f)
}

// RequireAPIKey makes the fake refuse, with Anthropic's 401, any call whose x-api-key
// header is not key; "" accepts any non-empty key. A call without x-api-key is
// always refused, as Anthropic does.
func (h *AnthropicHandler) RequireAPIKey(key string) { h.apiKey.Store(&key) }

// SetRecording turns keeping calls on or off; CallCount counts either way.
func (h *AnthropicHandler) SetRecording(on bool) { h.noRec.Store(!on) }

// Calls returns a copy of the calls recorded so far, oldest first.
func (h *AnthropicHandler) Calls() []RecordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]RecordedRequest(nil), h.calls...)
}

// CallCount is the number of calls received, recorded or not.
func (h *AnthropicHandler) CallCount() int { return int(h.count.Load()) }

// Reset forgets the recorded calls and zeroes CallCount; the behaviour stays.
func (h *AnthropicHandler) Reset() {
	h.mu.Lock()
	h.calls = nil
	h.count.Store(0)
	h.mu.Unlock()
}

// Shutdown releases every handler that is delaying or stalling, so a server can
// close without waiting for clients to give up.
func (h *AnthropicHandler) Shutdown() { h.closeOnce.Do(func() { close(h.done) }) }

// ServeHTTP answers POST /v1/messages (plain and streaming) and
// POST /v1/messages/count_tokens like Anthropic does, and anything else with
// Anthropic's 404.
func (h *AnthropicHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.count.Add(1)
	body := bodyPool.Get().(*bytes.Buffer)
	defer func() { body.Reset(); bodyPool.Put(body) }()
	if _, err := body.ReadFrom(io.LimitReader(r.Body, maxRequestBytes)); err != nil {
		return // the client went away
	}

	var req anthropicRequest
	var reqErr *AnthropicError
	route := r.Method + " " + r.URL.Path
	switch route {
	case "POST /v1/messages", "POST /v1/messages/count_tokens":
		reqErr = req.parse(body.Bytes(), route == "POST /v1/messages")
	default:
		reqErr = AnthropicNotFoundError("Not Found")
	}

	rec := RecordedRequest{Method: r.Method, Path: r.URL.Path, Model: req.Model, Stream: req.Stream, MaxTokens: req.maxTokens()}
	hook := h.respond.Load()
	if !h.noRec.Load() || hook != nil {
		rec.Header = r.Header.Clone()
		rec.Body = bytes.Clone(body.Bytes())
		rec.Time = time.Now()
	}
	if !h.noRec.Load() {
		h.mu.Lock()
		h.calls = append(h.calls, rec)
		h.mu.Unlock()
	}

	p := h.plan.Load()
	if hook != nil {
		if b := (*hook)(rec); b != nil {
			p = newAnthropicPlan(b)
		}
	}
	// Anthropic checks the headers before the body.
	key := r.Header.Get("X-Api-Key")
	switch want := h.apiKey.Load(); {
	case key == "":
		reqErr = &AnthropicError{Status: http.StatusUnauthorized, Type: "authentication_error", Message: "x-api-key header is required"}
	case want != nil && *want != "" && key != *want:
		reqErr = AnthropicAuthError()
	case r.Header.Get("Anthropic-Version") == "":
		reqErr = AnthropicInvalidRequestError("anthropic-version: header is required")
	}
	if reqErr == nil {
		reqErr = p.Error
	}
	if !anthropicWait(r, h.done, p.HeaderDelay) {
		return
	}
	if reqErr != nil {
		writeAnthropicError(w, reqErr, n)
		return
	}
	c := anthropicCall{h: h, w: w, r: r, p: p, req: &req, bodyLen: body.Len(), n: n}
	switch {
	case route == "POST /v1/messages/count_tokens":
		c.countTokens()
	case req.Stream && p.RawBody == "":
		c.stream()
	default:
		c.complete()
	}
}

// waitFor sleeps for d unless the client leaves or done closes first, and reports
// whether to carry on.
func anthropicWait(r *http.Request, done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-done:
	}
	return false
}

// writeAnthropicError sends an error answer in Anthropic's shape.
func writeAnthropicError(w http.ResponseWriter, e *AnthropicError, n int64) {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendAnthropicError(*buf, e, n)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", anthropicRequestID(n))
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	w.WriteHeader(e.Status)
	w.Write(*buf)
}

// appendAnthropicError appends Anthropic's error body.
func appendAnthropicError(b []byte, e *AnthropicError, n int64) []byte {
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `},"request_id":"`...)
	b = append(b, anthropicRequestID(n)...)
	return append(b, `"}`...)
}

func anthropicRequestID(n int64) string { return "req_fake" + strconv.FormatInt(n, 10) }

// AnthropicServer is an AnthropicHandler served by an httptest.Server on the
// loopback interface, for tests that just need an upstream URL.
type AnthropicServer struct {
	*AnthropicHandler
	srv *httptest.Server
}

// NewAnthropic starts a fake Anthropic upstream; Close it when done.
func NewAnthropic() *AnthropicServer {
	h := NewAnthropicHandler()
	return &AnthropicServer{AnthropicHandler: h, srv: httptest.NewServer(h)}
}

// URL is the base URL of the fake's API, ending in "/v1" like Anthropic's.
func (s *AnthropicServer) URL() string { return s.srv.URL + "/v1" }

// Client returns an HTTP client configured for the fake.
func (s *AnthropicServer) Client() *http.Client { return s.srv.Client() }

// Close releases stalled calls and stops the server.
func (s *AnthropicServer) Close() {
	s.Shutdown()
	s.srv.Close()
}

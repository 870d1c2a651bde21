package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultGeminiModels is what GET /v1beta/models lists unless a GeminiBehavior says
// otherwise.
var DefaultGeminiModels = []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"}

// GeminiBehavior programs how the fake Gemini API answers. The zero value answers
// every call successfully with DefaultText and truthful-looking usage.
type GeminiBehavior struct {
	// Text is the model's reply; "" means DefaultText, unless FunctionCalls is set,
	// in which case "" means no text at all.
	Text string
	// Thoughts, when set, is a thought summary sent before the reply as parts with
	// "thought": true (streamed in pieces like Text).
	Thoughts string
	// Chunks is the number of events a stream splits Text (and Thoughts) into, at
	// rune boundaries; 0 means one event per word.
	Chunks int
	// FinishReason is reported on the last event; "" means "STOP".
	FinishReason string
	// FunctionCalls are answered as functionCall parts after the text, in the last
	// event of a stream.
	FunctionCalls []GeminiFunctionCall
	// ThoughtSignature, when set, is attached to the first functionCall part (or to
	// the last text part when there is no call), as Gemini's thinking models do.
	ThoughtSignature string
	// BlockReason, when set, answers as Gemini does when it blocks the prompt itself:
	// promptFeedback.blockReason and no candidates.
	BlockReason string
	// FinishMessage, when set, is sent as the candidate's finishMessage.
	FinishMessage string

	// PromptTokens is the reported prompt size; 0 means one token per four bytes of
	// the request body, rounded up. Cached tokens are part of it, as in Gemini.
	PromptTokens int
	// CandidatesTokens is the reported reply size per candidate; 0 means the
	// request's maxOutputTokens if set, else the number of text events of a stream.
	CandidatesTokens int
	// CachedTokens is reported as cachedContentTokenCount (and cacheTokensDetails).
	CachedTokens int
	// ThoughtsTokens is reported as thoughtsTokenCount; 0 means the number of thought
	// events when Thoughts is set.
	ThoughtsTokens int
	// NoUsage leaves usageMetadata out of every answer and event.
	NoUsage bool

	// Error, when set, answers every call with this error and nothing else.
	Error *GeminiError
	// HeaderDelay waits this long before sending the status line and headers.
	HeaderDelay time.Duration
	// ChunkDelay waits this long before each event of a stream.
	ChunkDelay time.Duration
	// Fault breaks the answer after FaultAfter events (or, for answers that are not
	// streams, part way through the body). FaultErrorEvent sends a Google error
	// object as an event; FaultMalformed an event whose JSON is cut short.
	Fault Fault
	// FaultAfter is the number of events sent before Fault strikes.
	FaultAfter int

	// RawEvents, when set, replaces a stream's events: each string is sent verbatim as
	// one data event (faults still apply). Gemini sends no end marker.
	RawEvents []string
	// RawBody, when set, is sent verbatim with status 200 in place of a complete
	// generateContent or batchEmbedContents answer.
	RawBody string

	// EmbeddingDim is the length of each embedding; 0 means the request's
	// outputDimensionality, else DefaultEmbeddingDim.
	EmbeddingDim int
	// EmbeddingUsage adds usageMetadata to embedding answers, which Gemini's do not
	// normally carry.
	EmbeddingUsage bool
	// Models is what GET /v1beta/models lists; nil means DefaultGeminiModels.
	Models []string
	// ModelVersion is reported as modelVersion; "" means the model named in the URL.
	ModelVersion string
}

// GeminiFunctionCall is a function call the fake answers with.
type GeminiFunctionCall struct {
	Name string
	Args string // a JSON object; "" means {}
	ID   string // sent as functionCall.id when not ""
}

// GeminiError is an error answer in Google's shape:
// {"error":{"code":…,"message":…,"status":…,"details":[…]}}.
type GeminiError struct {
	HTTPStatus int    // HTTP status and error.code
	Status     string // error.status, e.g. "RESOURCE_EXHAUSTED"
	Message    string // error.message
	// Details is the error.details JSON array, verbatim; "" sends none.
	Details string
}

// GeminiInvalidKeyError is Gemini's answer to a wrong API key: 400, not 401.
func GeminiInvalidKeyError() *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusBadRequest, Status: "INVALID_ARGUMENT",
		Message: "API key not valid. Please pass a valid API key.",
		Details: `[{"@type": "type.googleapis.com/google.rpc.ErrorInfo","reason": "API_KEY_INVALID","domain": "googleapis.com","metadata": {"service": "generativelanguage.googleapis.com"}},` +
			`{"@type": "type.googleapis.com/google.rpc.LocalizedMessage","locale": "en-US","message": "API key not valid. Please pass a valid API key."}]`}
}

// GeminiMissingKeyError is Gemini's answer to a call without any credentials.
func GeminiMissingKeyError() *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusForbidden, Status: "PERMISSION_DENIED",
		Message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."}
}

// GeminiQuotaError is Gemini's 429 when a daily or billing quota is used up.
func GeminiQuotaError() *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED",
		Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
		Details: `[{"@type": "type.googleapis.com/google.rpc.QuotaFailure","violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count","quotaId": "GenerateContentPaidTierInputTokensPerModelPerDay","quotaDimensions": {"location": "global","model": "gemini-2.5-pro"},"quotaValue": "1000000"}]}]`}
}

// GeminiRateLimitError is Gemini's 429 when a per-minute quota is hit; it says
// "quota" too, but passes with time, and carries a RetryInfo delay.
func GeminiRateLimitError(retryDelay string) *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED",
		Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
		Details: `[{"@type": "type.googleapis.com/google.rpc.QuotaFailure","violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions": {"location": "global","model": "gemini-2.5-flash"},"quotaValue": "10"}]},` +
			`{"@type": "type.googleapis.com/google.rpc.Help","links": [{"description": "Learn more about Gemini API quotas","url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},` +
			`{"@type": "type.googleapis.com/google.rpc.RetryInfo","retryDelay": "` + retryDelay + `"}]`}
}

// GeminiServerError is Gemini's 500.
func GeminiServerError() *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusInternalServerError, Status: "INTERNAL",
		Message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"}
}

// GeminiOverloadedError is Gemini's 503 when the model is overloaded.
func GeminiOverloadedError() *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusServiceUnavailable, Status: "UNAVAILABLE",
		Message: "The model is overloaded. Please try again later."}
}

// GeminiBadRequest is a 400 INVALID_ARGUMENT with msg, as Gemini sends for a
// request it cannot read.
func GeminiBadRequest(msg string) *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: msg}
}

// GeminiRecordedRequest is one call the fake Gemini API received.
type GeminiRecordedRequest struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte // a copy of the raw request body
	Time     time.Time

	Model           string // from the URL, without "models/"
	RPC             string // generateContent, streamGenerateContent, batchEmbedContents, …
	Stream          bool   // streamGenerateContent
	MaxOutputTokens int    // generationConfig.maxOutputTokens
	CandidateCount  int    // generationConfig.candidateCount; 0 when absent
}

// GeminiHandler is a fake Gemini API (generativelanguage.googleapis.com/v1beta) as an
// http.Handler. Its behaviour can be changed at any time from any goroutine. It reads
// requests strictly, as Gemini does: an unknown member anywhere in a
// GenerateContentRequest is a 400, so a translation that sends one fails in tests.
type GeminiHandler struct {
	plan    atomic.Pointer[geminiPlan]
	respond atomic.Pointer[func(GeminiRecordedRequest) *GeminiBehavior]
	apiKey  atomic.Pointer[string]
	noRec   atomic.Bool
	count   atomic.Int64

	mu    sync.Mutex
	calls []GeminiRecordedRequest

	done      chan struct{}
	closeOnce sync.Once
}

// NewGeminiHandler returns a fake Gemini API with the zero GeminiBehavior that
// records every call.
func NewGeminiHandler() *GeminiHandler {
	h := &GeminiHandler{done: make(chan struct{})}
	h.plan.Store(newGeminiPlan(&GeminiBehavior{}))
	return h
}

// SetBehavior changes how later calls are answered; calls in flight keep the
// behaviour they started with. Slices in b must not be changed afterwards.
func (h *GeminiHandler) SetBehavior(b GeminiBehavior) { h.plan.Store(newGeminiPlan(&b)) }

// Behavior returns the behaviour set last.
func (h *GeminiHandler) Behavior() GeminiBehavior { return h.plan.Load().GeminiBehavior }

// SetRespond installs a hook that picks the behaviour of each call from the request;
// a nil result, or a nil hook, uses the behaviour from SetBehavior.
func (h *GeminiHandler) SetRespond(f func(GeminiRecordedRequest) *GeminiBehavior) {
	if f == nil {
		h.respond.Store(nil)
		return
	}
	h.respond.Store(&f)
}

// RequireAPIKey makes the fake refuse calls whose x-goog-api-key header is not key:
// without the header with Gemini's 403, with a wrong one with its 400
// API_KEY_INVALID. "" accepts every call.
func (h *GeminiHandler) RequireAPIKey(key string) { h.apiKey.Store(&key) }

// SetRecording turns keeping calls on or off; CallCount counts either way.
func (h *GeminiHandler) SetRecording(on bool) { h.noRec.Store(!on) }

// Calls returns a copy of the calls recorded so far, oldest first.
func (h *GeminiHandler) Calls() []GeminiRecordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]GeminiRecordedRequest(nil), h.calls...)
}

// CallCount is the number of calls received, recorded or not.
func (h *GeminiHandler) CallCount() int { return int(h.count.Load()) }

// Reset forgets the recorded calls and zeroes CallCount; the behaviour stays.
func (h *GeminiHandler) Reset() {
	h.mu.Lock()
	h.calls = nil
	h.count.Store(0)
	h.mu.Unlock()
}

// Shutdown releases every handler that is delaying or stalling.
func (h *GeminiHandler) Shutdown() { h.closeOnce.Do(func() { close(h.done) }) }

// ServeHTTP answers, under /v1beta: POST models/{model}:generateContent,
// :streamGenerateContent (?alt=sse for server-sent events, else a JSON array),
// :embedContent and :batchEmbedContents, and GET models. Anything else gets
// Gemini's 404. A "key" query parameter is refused with a 400 whatever else the call
// says: Gemini accepts one, but the gateway must never put a key in a URL, and the
// fake makes tests prove it.
func (h *GeminiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.count.Add(1)
	body := bodyPool.Get().(*bytes.Buffer)
	defer func() { body.Reset(); bodyPool.Put(body) }()
	if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, maxRequestBytes)); err != nil {
		return
	}

	rec := GeminiRecordedRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	var req geminiRequest
	var reqErr *GeminiError
	resource, rpc, routed := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1beta/"), ":")
	switch {
	case !strings.HasPrefix(r.URL.Path, "/v1beta/"):
		reqErr = geminiNotFound(r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1beta/models":
		rec.RPC = "list"
	case r.Method != http.MethodPost || !routed:
		reqErr = geminiNotFound(r)
	default:
		model, ok := strings.CutPrefix(resource, "models/")
		if !ok {
			model, ok = strings.CutPrefix(resource, "tunedModels/")
		}
		if !ok || model == "" || strings.Contains(model, "/") {
			reqErr = geminiNotFound(r)
			break
		}
		rec.Model, rec.RPC = model, rpc
		switch rpc {
		case "generateContent", "streamGenerateContent":
			rec.Stream = rpc == "streamGenerateContent"
			reqErr = req.parseGenerate(body.Bytes())
			if g := req.GenerationConfig; g != nil {
				rec.MaxOutputTokens, rec.CandidateCount = int(g.MaxOutputTokens), int(g.CandidateCount)
			}
		case "batchEmbedContents", "embedContent":
			reqErr = req.parseEmbed(body.Bytes(), resource, rpc == "batchEmbedContents")
		default:
			reqErr = geminiNotFound(r)
		}
	}
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
			p = newGeminiPlan(b)
		}
	}
	if key := h.apiKey.Load(); key != nil && *key != "" {
		switch got := r.Header.Get("X-Goog-Api-Key"); {
		case got == "":
			reqErr = GeminiMissingKeyError()
		case got != *key:
			reqErr = GeminiInvalidKeyError()
		}
	}
	if r.URL.Query().Has("key") {
		reqErr = GeminiBadRequest("The fake Gemini API refuses API keys in the URL (key= query parameter): send the key in the x-goog-api-key header.")
	}
	if reqErr == nil {
		reqErr = p.Error
	}
	if !h.wait(r, p.HeaderDelay) {
		return
	}
	if reqErr != nil {
		writeGeminiError(w, reqErr)
		return
	}
	c := geminiCall{h: h, w: w, r: r, p: p, req: &req, model: rec.Model, bodyLen: body.Len()}
	switch rec.RPC {
	case "list":
		c.models()
	case "generateContent":
		c.complete()
	case "streamGenerateContent":
		if r.URL.Query().Get("alt") == "sse" {
			c.stream()
		} else {
			c.streamArray()
		}
	default:
		c.embeddings(rec.RPC == "batchEmbedContents")
	}
}

func geminiNotFound(r *http.Request) *GeminiError {
	return &GeminiError{HTTPStatus: http.StatusNotFound, Status: "NOT_FOUND",
		Message: "The requested URL " + r.URL.Path + " was not found on this server."}
}

// wait sleeps for d unless the client leaves or the fake shuts down first, and
// reports whether to carry on.
func (h *GeminiHandler) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-h.done:
	}
	return false
}

// stall holds the call until the client leaves or the fake shuts down.
func (h *GeminiHandler) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.done:
	}
}

// writeGeminiError sends a Google error answer, indented as Google sends it.
func writeGeminiError(w http.ResponseWriter, e *GeminiError) {
	b := appendGeminiError(nil, e)
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		b = append(out.Bytes(), '\n')
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.HTTPStatus)
	w.Write(b)
}

// appendGeminiError appends {"error":{"code","message","status","details"}}.
func appendGeminiError(b []byte, e *GeminiError) []byte {
	b = append(b, `{"error": {"code": `...)
	b = strconv.AppendInt(b, int64(e.HTTPStatus), 10)
	b = append(b, `,"message": `...)
	b = appendGeminiString(b, e.Message)
	b = append(b, `,"status": `...)
	b = appendString(b, e.Status)
	if e.Details != "" {
		b = append(b, `,"details": `...)
		b = append(b, e.Details...)
	}
	return append(b, "}}"...)
}

// appendGeminiString appends s as a JSON string escaped as Google escapes it: like
// appendString, and with <, > and & as \u003c, \u003e and \u0026.
func appendGeminiString(b []byte, s string) []byte {
	start := len(b)
	b = appendString(b, s)
	n := 0
	for _, c := range b[start:] {
		if c == '<' || c == '>' || c == '&' {
			n++
		}
	}
	if n == 0 {
		return b
	}
	out := make([]byte, len(b)+5*n)
	j := copy(out, b[:start])
	for _, c := range b[start:] {
		switch c {
		case '<':
			j += copy(out[j:], `\u003c`)
		case '>':
			j += copy(out[j:], `\u003e`)
		case '&':
			j += copy(out[j:], `\u0026`)
		default:
			out[j] = c
			j++
		}
	}
	return out[:j]
}

// GeminiServer is a GeminiHandler served by an httptest.Server on the loopback
// interface, for tests that just need an upstream URL.
type GeminiServer struct {
	*GeminiHandler
	srv *httptest.Server
}

// NewGemini starts a fake Gemini upstream; Close it when done.
func NewGemini() *GeminiServer {
	h := NewGeminiHandler()
	return &GeminiServer{GeminiHandler: h, srv: httptest.NewServer(h)}
}

// URL is the base URL of the fake's API, ending in "/v1beta" like Gemini's.
func (s *GeminiServer) URL() string { return s.srv.URL + "/v1beta" }

// Client returns an HTTP client configured for the fake.
func (s *GeminiServer) Client() *http.Client { return s.srv.Client() }

// Close releases stalled calls and stops the server.
func (s *GeminiServer) Close() {
	s.Shutdown()
	s.srv.Close()
}

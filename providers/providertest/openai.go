package providertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// maxRequestBytes bounds a request body the fake reads.
const maxRequestBytes = 32 << 20

// RecordedRequest is one call the fake received, kept so tests can check exactly
// what the gateway sent upstream.
type RecordedRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte // a copy of the raw request body
	Time   time.Time

	// Fields parsed from the body (zero when absent).
	Model        string
	Stream       bool
	IncludeUsage bool // stream_options.include_usage
	MaxTokens    int  // max_tokens, or else max_completion_tokens
	N            int  // number of choices asked for; 0 when absent
}

// OpenAIHandler is a fake OpenAI API as an http.Handler, for tests that run their own
// server (the load benchmark does). Its behaviour can be changed at any time from
// any goroutine.
type OpenAIHandler struct {
	plan    atomic.Pointer[plan]
	respond atomic.Pointer[func(RecordedRequest) *Behavior]
	apiKey  atomic.Pointer[string]
	noRec   atomic.Bool
	count   atomic.Int64

	mu    sync.Mutex
	calls []RecordedRequest

	done      chan struct{} // closed by Shutdown: releases stalled handlers
	closeOnce sync.Once
}

// NewOpenAIHandler returns a fake OpenAI API with the zero Behavior that records
// every call.
func NewOpenAIHandler() *OpenAIHandler {
	h := &OpenAIHandler{done: make(chan struct{})}
	h.plan.Store(newPlan(&Behavior{}))
	return h
}

// SetBehavior changes how later calls are answered; calls in flight keep the
// behaviour they started with. Slices in b must not be changed afterwards.
func (h *OpenAIHandler) SetBehavior(b Behavior) { h.plan.Store(newPlan(&b)) }

// Behavior returns the behaviour set last.
func (h *OpenAIHandler) Behavior() Behavior { return h.plan.Load().Behavior }

// SetRespond installs a hook that picks the behaviour of each call from the request
// (e.g. fail the first call, succeed the second); a nil result, or a nil hook, uses
// the behaviour from SetBehavior.
func (h *OpenAIHandler) SetRespond(f func(RecordedRequest) *Behavior) {
	if f == nil {
		h.respond.Store(nil)
		return
	}
	h.respond.Store(&f)
}

// RequireAPIKey makes the fake refuse, with OpenAI's 401, any call whose
// Authorization header is not "Bearer <key>"; "" accepts every call.
func (h *OpenAIHandler) RequireAPIKey(key string) { h.apiKey.Store(&key) }

// SetRecording turns keeping calls on or off; a load test turns it off so memory does
// not grow with every call. CallCount counts either way.
func (h *OpenAIHandler) SetRecording(on bool) { h.noRec.Store(!on) }

// Calls returns a copy of the calls recorded so far, oldest first.
func (h *OpenAIHandler) Calls() []RecordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]RecordedRequest(nil), h.calls...)
}

// CallCount is the number of calls received, recorded or not.
func (h *OpenAIHandler) CallCount() int { return int(h.count.Load()) }

// Reset forgets the recorded calls and zeroes CallCount; the behaviour stays.
func (h *OpenAIHandler) Reset() {
	h.mu.Lock()
	h.calls = nil
	h.count.Store(0)
	h.mu.Unlock()
}

// Shutdown releases every handler that is delaying or stalling, so a server can
// close without waiting for clients to give up; later delays and stalls end at once.
func (h *OpenAIHandler) Shutdown() { h.closeOnce.Do(func() { close(h.done) }) }

// ServeHTTP answers POST /v1/chat/completions, POST /v1/embeddings and
// GET /v1/models like OpenAI does, and anything else with OpenAI's 404.
func (h *OpenAIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.count.Add(1)
	body := bodyPool.Get().(*bytes.Buffer)
	defer func() { body.Reset(); bodyPool.Put(body) }()
	if _, err := body.ReadFrom(io.LimitReader(r.Body, maxRequestBytes)); err != nil {
		return // the client went away
	}

	var req request
	var reqErr *APIError
	route := r.Method + " " + r.URL.Path
	switch route {
	case "POST /v1/chat/completions", "POST /v1/embeddings":
		reqErr = req.parse(body.Bytes(), route == "POST /v1/chat/completions")
	case "GET /v1/models":
	default:
		reqErr = &APIError{Status: http.StatusNotFound, Type: "invalid_request_error",
			Message: "Invalid URL (" + route + ")"}
	}

	rec := RecordedRequest{Method: r.Method, Path: r.URL.Path, Model: req.Model, Stream: req.Stream,
		IncludeUsage: req.includeUsage(), MaxTokens: req.maxTokens(), N: req.N}
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
			p = newPlan(b)
		}
	}
	if key := h.apiKey.Load(); key != nil && *key != "" && r.Header.Get("Authorization") != "Bearer "+*key {
		reqErr = AuthError()
	}
	if reqErr == nil {
		reqErr = p.Error
	}
	if !h.wait(r, p.HeaderDelay) {
		return
	}
	if reqErr != nil {
		writeError(w, reqErr)
		return
	}

	c := call{h: h, w: w, r: r, p: p, req: &req, bodyLen: body.Len()}
	switch route {
	case "POST /v1/chat/completions":
		if req.Stream {
			c.stream()
		} else {
			c.complete()
		}
	case "POST /v1/embeddings":
		c.embeddings()
	default:
		c.models()
	}
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// wait sleeps for d unless the client leaves or the fake shuts down first, and
// reports whether to carry on.
func (h *OpenAIHandler) wait(r *http.Request, d time.Duration) bool {
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
func (h *OpenAIHandler) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.done:
	}
}

// request is the part of a chat or embeddings request the fake reads.
type request struct {
	Model         string  `json:"model"`
	Messages      present `json:"messages"`
	Stream        bool    `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int    `json:"max_tokens"`
	MaxCompletionTokens int    `json:"max_completion_tokens"`
	N                   int    `json:"n"`
	Input               inputs `json:"input"`
	EncodingFormat      string `json:"encoding_format"`
	Dimensions          int    `json:"dimensions"`
}

// present records that a member is there and not null, without keeping its value.
type present bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *present) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}

// inputs counts the texts of an embeddings input: a string, an array of strings, an
// array of token IDs (one text) or an array of token arrays.
type inputs int

// UnmarshalJSON implements json.Unmarshaler.
func (n *inputs) UnmarshalJSON(b []byte) error {
	*n = 0
	switch bytes.TrimSpace(b)[0] {
	case '"':
		*n = 1
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*n = inputs(len(items))
		if len(items) > 0 && items[0][0] != '"' && items[0][0] != '[' {
			*n = 1 // token IDs of a single text
		}
	case 'n':
	default:
		return &json.UnmarshalTypeError{Value: "number", Field: "input"}
	}
	return nil
}

// parse reads body and returns the 400 OpenAI would send for it, if any.
func (req *request) parse(body []byte, chat bool) *APIError {
	bad := func(msg, param, code string) *APIError {
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: msg, Param: param, Code: code}
	}
	if err := json.Unmarshal(body, req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return bad("Invalid type for '"+typeErr.Field+"'.", typeErr.Field, "invalid_type")
		}
		return bad("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.", "", "")
	}
	switch {
	case req.Model == "":
		return bad("you must provide a model parameter", "", "")
	case chat && !bool(req.Messages):
		return bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
	case !chat && req.Input == 0:
		return bad("Missing required parameter: 'input'.", "input", "missing_required_parameter")
	case req.StreamOptions != nil && !req.Stream:
		return bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "")
	}
	return nil
}

func (req *request) includeUsage() bool {
	return req.StreamOptions != nil && req.StreamOptions.IncludeUsage
}

func (req *request) maxTokens() int {
	if req.MaxTokens > 0 {
		return req.MaxTokens
	}
	return req.MaxCompletionTokens
}

// OpenAIServer is an OpenAIHandler served by an httptest.Server on the loopback
// interface, for tests that just need an upstream URL.
type OpenAIServer struct {
	*OpenAIHandler
	srv *httptest.Server
}

// NewOpenAI starts a fake OpenAI upstream; Close it when done.
func NewOpenAI() *OpenAIServer {
	h := NewOpenAIHandler()
	return &OpenAIServer{OpenAIHandler: h, srv: httptest.NewServer(h)}
}

// URL is the base URL of the fake's API, ending in "/v1" like OpenAI's.
func (s *OpenAIServer) URL() string { return s.srv.URL + "/v1" }

// Client returns an HTTP client configured for the fake.
func (s *OpenAIServer) Client() *http.Client { return s.srv.Client() }

// Close releases stalled calls and stops the server.
func (s *OpenAIServer) Close() {
	s.Shutdown()
	s.srv.Close()
}

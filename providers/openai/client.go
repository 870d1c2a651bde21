// Package openai is the adapter for OpenAI and every host that speaks its chat
// completions wire format. The gateway's unified schema is that format, so the adapter
// forwards the already-rewritten client body untouched and only reads back what
// billing needs: usage, generated text and errors.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/jsonobj"
	"github.com/tollgate-gw/tollgate/providers"
)

// DefaultMaxResponseBytes bounds a non-streaming answer read into memory, so a broken
// upstream cannot exhaust the gateway's memory.
const DefaultMaxResponseBytes = 32 << 20

// maxErrorBodyBytes bounds what is read of an error answer: only its message matters.
const maxErrorBodyBytes = 64 << 10

// Config says where an upstream is and how to authenticate to it.
type Config struct {
	// BaseURL is the API root including its version, e.g. "https://api.openai.com/v1";
	// paths such as "/chat/completions" are appended to it.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>"; empty sends no
	// Authorization header (for local hosts, or a key set in Headers).
	APIKey string
	// HTTPClient makes the calls; nil uses a shared client tuned for many concurrent
	// calls to few hosts. Deadlines come from the call's context, not from here.
	HTTPClient *http.Client
	// Headers are fixed extra request headers some hosts need (e.g. OpenRouter's
	// HTTP-Referer, Azure's api-key). Nothing from the client's request is forwarded.
	Headers map[string]string
	// MaxResponseBytes bounds a non-streaming answer; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// StreamIdleTimeout fails a stream with a timeout when no event arrives for this
	// long, so a stalled upstream cannot hold a client forever; 0 disables it.
	StreamIdleTimeout time.Duration
}

// Client talks to one OpenAI-compatible upstream; it is safe for concurrent use.
type Client struct {
	baseURL     string
	apiKey      string
	auth        string
	hc          *http.Client
	headers     map[string]string
	maxResponse int64
	idleTimeout time.Duration

	// Set by NewPreset for hosts whose ways differ from OpenAI's; nil and "" mean
	// OpenAI's own.
	route        func(path, model string) string // the URL of an endpoint, for a model
	rewrite      func(body []byte) []byte        // adjusts a chat body for the host
	noEmbeddings string                          // the preset's name, if its host has no embeddings
}

var (
	_ providers.Provider = (*Client)(nil)
	_ providers.Embedder = (*Client)(nil)
)

// defaultHTTPClient keeps many idle connections per host: a gateway sends all of its
// traffic to a handful of hosts, and Go's default of two would redial constantly.
var defaultHTTPClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t}
}()

// New returns a Client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		baseURL:     strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:      cfg.APIKey,
		hc:          cfg.HTTPClient,
		headers:     cfg.Headers,
		maxResponse: cfg.MaxResponseBytes,
		idleTimeout: cfg.StreamIdleTimeout,
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient
	}
	if c.maxResponse <= 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	if cfg.APIKey != "" {
		c.auth = "Bearer " + cfg.APIKey
	}
	return c
}

// Chat sends a non-streaming chat completion and returns the upstream's body
// verbatim together with the usage it reported.
func (c *Client) Chat(ctx context.Context, req *providers.ChatRequest) (*providers.ChatResponse, error) {
	body, err := c.call(ctx, http.MethodPost, c.endpoint("/chat/completions", req.Model, req.Body), c.chatBody(req.Body))
	if err != nil {
		return nil, err
	}
	u, err := c.parseUsage(body)
	if err != nil {
		return nil, err
	}
	resp := &providers.ChatResponse{Body: body}
	if u != nil {
		resp.Usage = u.toUsage()
	}
	return resp, nil
}

// Embeddings sends an embeddings request and returns the upstream's body verbatim
// with its prompt token count.
func (c *Client) Embeddings(ctx context.Context, req *providers.EmbeddingsRequest) (*providers.EmbeddingsResponse, error) {
	if c.noEmbeddings != "" {
		return nil, &providers.UpstreamError{Status: http.StatusNotImplemented, Code: "embeddings_unsupported",
			Message: c.noEmbeddings + " has no embeddings endpoint"}
	}
	body, err := c.call(ctx, http.MethodPost, c.endpoint("/embeddings", req.Model, req.Body), req.Body)
	if err != nil {
		return nil, err
	}
	u, err := c.parseUsage(body)
	if err != nil {
		return nil, err
	}
	resp := &providers.EmbeddingsResponse{Body: body}
	if u != nil {
		resp.Usage = u.toEmbeddingUsage()
	}
	return resp, nil
}

// Models lists the model IDs the upstream serves, so an operator can test a channel
// and pick model names without guessing.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	body, err := c.call(ctx, http.MethodGet, c.endpoint("/models", "", nil), nil)
	if err != nil {
		return nil, err
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, c.invalidResponse("model list is not valid JSON")
	}
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// parseUsage reads the usage of a complete answer and rejects bodies that are not
// JSON or that carry an error object despite a 2xx status.
func (c *Client) parseUsage(body []byte) (*usageJSON, error) {
	// Only two top-level members matter; the choices are not decoded.
	v, err := jsonobj.Find(body, "usage", "error")
	switch {
	case errors.Is(err, jsonobj.ErrInvalid):
		return nil, c.invalidResponse("answer is not valid JSON")
	case err != nil:
		return nil, nil // JSON but not an object: no usage reported
	}
	usage, errObj := v[0], v[1]
	if isError(errObj) {
		return nil, c.errorFromBody(0, body)
	}
	if len(usage) == 0 || usage[0] != '{' {
		return nil, nil // absent, null, or not an object: no usage reported
	}
	return decodeUsage(usage), nil
}

// decodeUsage reads a usage object (valid JSON): the scanner reads the usual one,
// and encoding/json, whose result the scanner's equals, anything else.
func decodeUsage(raw []byte) *usageJSON {
	u := new(usageJSON)
	if s := (scanner{b: raw}); !s.usage(u) || s.peek() != 0 {
		*u = usageJSON{}
		_ = json.Unmarshal(raw, u) // a member of the wrong type stays zero
	}
	return u
}

// endpoint is the URL of an API path ("/chat/completions") for a call: the base URL
// and the path, unless the preset routes by model (Azure's deployments), where the
// model is the request's or else the body's.
func (c *Client) endpoint(path, model string, body []byte) string {
	if c.route != nil {
		return c.route(path, modelOf(model, body))
	}
	return c.baseURL + path
}

// chatBody is the chat body to send: the gateway's, adjusted where the host needs.
func (c *Client) chatBody(body []byte) []byte {
	if c.rewrite != nil {
		return c.rewrite(body)
	}
	return body
}

// modelOf is the call's upstream model, read from the body when the request does
// not name it.
func modelOf(model string, body []byte) string {
	if model != "" {
		return model
	}
	var r struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &r)
	return r.Model
}

// call sends one request and returns the body of a 2xx answer; every failure comes
// back as an *providers.UpstreamError or the context's error.
func (c *Client) call(ctx context.Context, method, target string, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, method, target, body, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !is2xx(resp.StatusCode) {
		return nil, c.errorFromResponse(resp)
	}
	data, err := readBounded(resp.Body, resp.ContentLength, c.maxResponse)
	if err == errTooLarge {
		return nil, c.invalidResponse("answer is larger than the response size limit")
	}
	if err != nil {
		return nil, c.transportError(ctx, "reading the answer", err)
	}
	return data, nil
}

// send builds the request to the URL target with only the headers the upstream
// needs and sends it.
func (c *Client) send(ctx context.Context, method, target string, body []byte, stream bool) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &providers.UpstreamError{Message: c.redact("bad upstream URL: " + err.Error())}
	}
	h := req.Header
	if body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	if stream {
		h["Accept"] = []string{"text/event-stream"}
	} else {
		h["Accept"] = []string{"application/json"}
	}
	if c.auth != "" {
		h["Authorization"] = []string{c.auth}
	}
	for k, v := range c.headers {
		h.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, "sending the request", err)
	}
	return resp, nil
}

func is2xx(status int) bool { return status >= 200 && status < 300 }

// hasError reports whether body is a JSON object with a non-null "error" member.
func hasError(body []byte) bool {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(body, &r)
	return isError(r.Error)
}

func isError(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

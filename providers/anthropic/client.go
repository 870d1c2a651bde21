// Package anthropic is the adapter for Anthropic's Messages API. It serves the
// gateway's OpenAI-format chat calls by translating each request to a Messages call
// and the answer back; it forwards Anthropic-format calls from the gateway's
// /v1/messages ingress untouched (Messages, MessagesStream); and it translates that
// ingress to and from OpenAI format (RequestToOpenAI, ResponseFromOpenAI,
// EventEncoder) when a channel of another vendor serves it.
//
// Like every adapter it reports usage and never prices. Anthropic counts input
// tokens without the prompt cache; the adapter reports them the OpenAI way (cache
// reads and writes included), so billing sees one convention.
package anthropic

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

const (
	// DefaultBaseURL is Anthropic's API root; paths such as "/messages" are appended.
	DefaultBaseURL = "https://api.anthropic.com/v1"
	// DefaultVersion is the anthropic-version header the adapter's translation is
	// written against; a newer version may change the wire format under it.
	DefaultVersion = "2023-06-01"
	// DefaultMaxResponseBytes bounds a non-streaming answer read into memory, so a
	// broken upstream cannot exhaust the gateway's memory.
	DefaultMaxResponseBytes = 32 << 20
	// DefaultMaxTokens is the output limit sent when an OpenAI body has none, since
	// Anthropic requires one. The gateway normally injects max_tokens (sized by what
	// the wallet affords) before the adapter sees the body, so this rarely applies.
	DefaultMaxTokens = 4096
)

// maxErrorBodyBytes bounds what is read of an error answer: only its message matters.
const maxErrorBodyBytes = 64 << 10

// Config says where an Anthropic upstream is and how to authenticate to it.
type Config struct {
	// BaseURL is the API root including its version; "" means DefaultBaseURL.
	BaseURL string
	// APIKey is sent as the x-api-key header, and nowhere else.
	APIKey string
	// HTTPClient makes the calls; nil uses a shared client tuned for many concurrent
	// calls to few hosts. Deadlines come from the call's context, not from here.
	HTTPClient *http.Client
	// Version is the anthropic-version header; "" means DefaultVersion.
	Version string
	// StreamIdleTimeout fails a stream with a timeout when no event arrives for this
	// long, so a stalled upstream cannot hold a client forever; 0 disables it.
	// Anthropic sends ping events, so a healthy stream is never idle for long.
	StreamIdleTimeout time.Duration
	// MaxResponseBytes bounds a non-streaming answer; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client talks to one Anthropic upstream; it is safe for concurrent use.
type Client struct {
	baseURL     string
	apiKey      string
	version     string
	hc          *http.Client
	maxResponse int64
	idleTimeout time.Duration
}

var _ providers.Provider = (*Client)(nil)

// defaultHTTPClient keeps many idle connections per host: a gateway sends all of its
// traffic to a handful of hosts, and Go's default of two would redial constantly.
var defaultHTTPClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t}
}()

// New returns a Client for cfg, filling in Anthropic's defaults.
func New(cfg Config) *Client {
	c := &Client{
		baseURL:     strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:      cfg.APIKey,
		version:     cfg.Version,
		hc:          cfg.HTTPClient,
		maxResponse: cfg.MaxResponseBytes,
		idleTimeout: cfg.StreamIdleTimeout,
	}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient
	}
	if c.maxResponse <= 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	return c
}

// Chat translates an OpenAI chat completion into a Messages call and the answer
// back into a chat.completion, with the usage Anthropic reported.
func (c *Client) Chat(ctx context.Context, req *providers.ChatRequest) (*providers.ChatResponse, error) {
	body, err := translateRequest(req.Body, req.Model, false)
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, body)
	if err != nil {
		return nil, err
	}
	out, u, err := c.completionFromMessage(data)
	if err != nil {
		return nil, err
	}
	return &providers.ChatResponse{Body: out, Usage: u}, nil
}

// call sends one Messages request and returns the body of a 2xx answer; every
// failure comes back as an *providers.UpstreamError or the context's error.
func (c *Client) call(ctx context.Context, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, body, false)
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

// send posts body to /messages with only the headers Anthropic needs: the key goes
// in x-api-key alone, and nothing of the client's request is forwarded.
func (c *Client) send(ctx context.Context, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/messages", bytes.NewReader(body))
	if err != nil {
		return nil, &providers.UpstreamError{Message: c.redact("bad upstream URL: " + err.Error())}
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	if stream {
		h["Accept"] = []string{"text/event-stream"}
	} else {
		h["Accept"] = []string{"application/json"}
	}
	if c.apiKey != "" {
		h["X-Api-Key"] = []string{c.apiKey}
	}
	h["Anthropic-Version"] = []string{c.version}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, "sending the request", err)
	}
	return resp, nil
}

// openStream sends a streaming request and returns the response once it is known
// to be an event stream; refusals come back before any event.
func (c *Client) openStream(ctx context.Context, body []byte) (*http.Response, error) {
	resp, err := c.send(ctx, body, true)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) {
		defer resp.Body.Close()
		return nil, c.errorFromResponse(resp)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// A proxy in front of Anthropic may answer a stream request with JSON.
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if isErrorBody(data) {
			return nil, c.errorFromBody(0, data)
		}
		return nil, c.invalidResponse("upstream answered a streaming request with JSON, not an event stream")
	}
	return resp, nil
}

func is2xx(status int) bool { return status >= 200 && status < 300 }

// Package gemini is the adapter for Google's Gemini API (generativelanguage.googleapis.com).
// It translates the gateway's unified schema, OpenAI chat completions and embeddings,
// into Gemini's generateContent, streamGenerateContent and batchEmbedContents calls
// and back, and reports the usage Gemini returned. It never prices or bills.
//
// The API key travels only in the x-goog-api-key header, never in a URL: URLs end up
// in logs, proxies and error messages.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/providers"
)

// DefaultBaseURL is the root of Google's Gemini API, version included.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// DefaultMaxResponseBytes bounds a non-streaming answer read into memory, so a broken
// upstream cannot exhaust the gateway's memory.
const DefaultMaxResponseBytes = 32 << 20

// maxErrorBodyBytes bounds what is read of an error answer: only its message matters.
const maxErrorBodyBytes = 64 << 10

// Config says where the Gemini API is and how to authenticate to it.
type Config struct {
	// BaseURL is the API root including its version; "" means DefaultBaseURL. Paths
	// such as "/models/gemini-2.5-flash:generateContent" are appended to it. A query
	// string in it is dropped, so a key pasted into the URL is never sent.
	BaseURL string
	// APIKey is sent as the x-goog-api-key header and nowhere else.
	APIKey string
	// HTTPClient makes the calls; nil uses a shared client tuned for many concurrent
	// calls to few hosts. Deadlines come from the call's context, not from here.
	HTTPClient *http.Client
	// StreamIdleTimeout fails a stream with a timeout when no event arrives for this
	// long, so a stalled upstream cannot hold a client forever; 0 disables it.
	StreamIdleTimeout time.Duration
	// MaxResponseBytes bounds a non-streaming answer; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client talks to the Gemini API; it is safe for concurrent use.
type Client struct {
	baseURL     string
	apiKey      string
	hc          *http.Client
	maxResponse int64
	idleTimeout time.Duration
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
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	c := &Client{
		baseURL:     strings.TrimRight(base, "/"),
		apiKey:      cfg.APIKey,
		hc:          cfg.HTTPClient,
		maxResponse: cfg.MaxResponseBytes,
		idleTimeout: cfg.StreamIdleTimeout,
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient
	}
	if c.maxResponse <= 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	return c
}

// Chat translates an OpenAI chat completion into generateContent and the answer
// back into a chat.completion, with the usage Gemini reported.
func (c *Client) Chat(ctx context.Context, req *providers.ChatRequest) (*providers.ChatResponse, error) {
	path, err := modelPath(req.Model)
	if err != nil {
		return nil, err
	}
	body, err := translateChat(req.Body)
	if err != nil {
		return nil, err
	}
	data, err := c.call(ctx, http.MethodPost, path+":generateContent", body)
	if err != nil {
		return nil, err
	}
	var r genResponse
	if err := json.Unmarshal(data, &r); err != nil {
		if !isTypeError(err) {
			return nil, c.invalidResponse("answer is not valid JSON")
		}
	}
	if isError(r.Error) {
		return nil, c.errorFromBody(0, data)
	}
	out, usage := completion(&r, req.Model)
	return &providers.ChatResponse{Body: out, Usage: usage}, nil
}

// Models lists the model names the key may use, without the "models/" prefix, so
// an operator can test a channel and pick model names without guessing.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	var ids []string
	token := ""
	for range maxModelPages {
		path := "/models?pageSize=1000"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		data, err := c.call(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		var list struct {
			Models []struct {
				Name string `json:"name"`
			} `json:"models"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, c.invalidResponse("model list is not valid JSON")
		}
		for _, m := range list.Models {
			ids = append(ids, strings.TrimPrefix(m.Name, "models/"))
		}
		if token = list.NextPageToken; token == "" {
			break
		}
	}
	return ids, nil
}

// maxModelPages bounds the model list walk, in case an upstream repeats a page token.
const maxModelPages = 20

// modelPath is the resource path of a model: "models/<name>", or a tuned model's
// own "tunedModels/<name>". The name is escaped (":" too) so it can change neither
// the URL's path nor the method called.
func modelPath(model string) (string, error) {
	model = strings.TrimSpace(model)
	prefix := "/models/"
	switch {
	case strings.HasPrefix(model, "models/"):
		model = model[len("models/"):]
	case strings.HasPrefix(model, "tunedModels/"):
		prefix, model = "/tunedModels/", model[len("tunedModels/"):]
	}
	if model == "" {
		return "", invalidRequest("model", "no upstream model name for the Gemini channel")
	}
	return prefix + strings.ReplaceAll(url.PathEscape(model), ":", "%3A"), nil
}

// call sends one request and returns the body of a 2xx answer; every failure comes
// back as an *providers.UpstreamError or the context's error.
func (c *Client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, method, path, body, false)
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

// send builds the request with only the headers Gemini needs and sends it.
func (c *Client) send(ctx context.Context, method, path string, body []byte, stream bool) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
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
	if c.apiKey != "" {
		h["X-Goog-Api-Key"] = []string{c.apiKey}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, "sending the request", err)
	}
	return resp, nil
}

func is2xx(status int) bool { return status >= 200 && status < 300 }

func isError(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

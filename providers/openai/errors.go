package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/providers/internal/body"

	"github.com/tollgate-gw/tollgate/providers"
)

// maxMessageBytes bounds an upstream error message kept for logs and the request log.
const maxMessageBytes = 500

var errTooLarge = body.ErrTooLarge

// errorFromResponse turns a non-2xx answer into an *providers.UpstreamError, reading
// a bounded part of its body for the message.
func (c *Client) errorFromResponse(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	e := c.errorFromBody(resp.StatusCode, body)
	e.RetryAfter = providers.ParseRetryAfter(resp.Header, time.Now())
	return e
}

// errorFromBody maps an error body to an *providers.UpstreamError. It understands
// OpenAI's {"error":{"message","type","code"}} and the variants compatible hosts send
// ({"error":"text"}, {"message":…}, {"detail":…}); anything else is quoted, shortened.
func (c *Client) errorFromBody(status int, body []byte) *providers.UpstreamError {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	var detail struct {
		Message json.RawMessage `json:"message"`
		Type    json.RawMessage `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	var msg, code, typ string
	if json.Unmarshal(body, &env) == nil {
		if json.Unmarshal(env.Error, &detail) == nil {
			msg, typ, code = jsonText(detail.Message), jsonText(detail.Type), jsonText(detail.Code)
		}
		for _, raw := range []json.RawMessage{env.Error, env.Message, env.Detail} {
			if msg != "" {
				break
			}
			msg = jsonText(raw)
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if code == "" {
		code = typ
	}
	return &providers.UpstreamError{
		Status:  status,
		Code:    c.redact(truncate(code, 100)),
		Message: c.redact(truncate(msg, maxMessageBytes)),
		Quota:   status == http.StatusPaymentRequired || code == "insufficient_quota" || typ == "insufficient_quota",
	}
}

// transportError maps a failure to reach or read the upstream. A cancelled context
// is returned as is (the client went away; nobody failed); a deadline or network
// timeout is an UpstreamError with Timeout set.
func (c *Client) transportError(ctx context.Context, doing string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if ctxErr == context.DeadlineExceeded {
			return &providers.UpstreamError{Timeout: true, Message: doing + ": deadline exceeded"}
		}
		return ctxErr
	}
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	return &providers.UpstreamError{Timeout: timeout, Message: c.redact(truncate(doing+": "+err.Error(), maxMessageBytes))}
}

// invalidResponse reports a 2xx answer the gateway cannot use; Status 0 because no
// usable answer arrived, which also lets the router try another channel.
func (c *Client) invalidResponse(msg string) *providers.UpstreamError {
	return &providers.UpstreamError{Code: "invalid_response", Message: msg}
}

// redact removes the upstream API key from text that may echo it, such as a host's
// error message or a URL in a transport error.
func (c *Client) redact(s string) string {
	if c.apiKey == "" || !strings.Contains(s, c.apiKey) {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[REDACTED]")
}

// jsonText renders a JSON value as text: strings unquoted, numbers as written
// (some hosts send numeric codes), null and absent as "".
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// truncate and readBounded are the shared ones (providers/internal/body).
var (
	truncate    = body.Truncate
	readBounded = body.ReadBounded
)

package anthropic

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

// errorStatus is the HTTP status Anthropic documents for each error type. It gives
// an error event that arrives mid-stream, after a 200, the status it would have had
// as a plain answer, so the router maps both the same way.
var errorStatus = map[string]int{
	"invalid_request_error": http.StatusBadRequest,
	"authentication_error":  http.StatusUnauthorized,
	"billing_error":         http.StatusPaymentRequired,
	"permission_error":      http.StatusForbidden,
	"not_found_error":       http.StatusNotFound,
	"request_too_large":     http.StatusRequestEntityTooLarge,
	"rate_limit_error":      http.StatusTooManyRequests,
	"api_error":             http.StatusInternalServerError,
	"timeout_error":         http.StatusGatewayTimeout,
	"overloaded_error":      529,
}

// errorFromResponse turns a non-2xx answer into an *providers.UpstreamError, reading
// a bounded part of its body for the message.
func (c *Client) errorFromResponse(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	e := c.errorFromBody(resp.StatusCode, body)
	e.RetryAfter = providers.ParseRetryAfter(resp.Header, time.Now())
	return e
}

// errorFromBody maps an error body to an *providers.UpstreamError. It understands
// Anthropic's {"type":"error","error":{"type","message"}} and, for proxies in front
// of Anthropic, OpenAI's {"error":{"message","type","code"}} and {"message":…};
// anything else is quoted, shortened. Status 0 means the error arrived after a 200
// (an error event or an error body): the status is then taken from the error type.
func (c *Client) errorFromBody(status int, body []byte) *providers.UpstreamError {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	var detail struct {
		Type    json.RawMessage `json:"type"`
		Message json.RawMessage `json:"message"`
		Code    json.RawMessage `json:"code"`
	}
	var msg, typ string
	if json.Unmarshal(body, &env) == nil {
		if json.Unmarshal(env.Error, &detail) == nil {
			msg, typ = jsonText(detail.Message), jsonText(detail.Type)
			if code := jsonText(detail.Code); code != "" && (typ == "" || code == "insufficient_quota") {
				typ = code
			}
		}
		if msg == "" {
			msg = jsonText(env.Error)
		}
		if msg == "" {
			msg = jsonText(env.Message)
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if status == 0 {
		status = errorStatus[typ]
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &providers.UpstreamError{
		Status:  status,
		Code:    c.redact(truncate(typ, 100)),
		Message: c.redact(truncate(msg, maxMessageBytes)),
		Timeout: typ == "timeout_error",
		Quota:   isQuota(status, typ, msg),
	}
}

// isQuota tells a refusal for the operator's billing reasons from a bad request:
// Anthropic sends billing_error, or a 400 invalid_request_error whose message is
// about the credit balance or the account's spend limit; proxies send 402 or
// OpenAI's insufficient_quota.
func isQuota(status int, typ, msg string) bool {
	switch {
	case status == http.StatusPaymentRequired, typ == "billing_error", typ == "insufficient_quota":
		return true
	case status == http.StatusBadRequest || status == 0:
		m := strings.ToLower(msg)
		return strings.Contains(m, "credit balance") || strings.Contains(m, "purchase credits") ||
			strings.Contains(m, "api usage limits")
	}
	return false
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

// redact removes the upstream API key from text that may echo it, such as an error
// message or a URL in a transport error.
func (c *Client) redact(s string) string {
	if c.apiKey == "" || !strings.Contains(s, c.apiKey) {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[REDACTED]")
}

// isErrorBody reports whether body is a JSON object of type "error" or with a
// non-null "error" member.
func isErrorBody(body []byte) bool {
	var r struct {
		Type  string          `json:"type"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil {
		return false
	}
	return r.Type == "error" || (len(r.Error) > 0 && string(r.Error) != "null")
}

// jsonText renders a JSON value as text: strings unquoted, other values as written,
// null and absent as "".
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || raw[0] == '{' || raw[0] == '[' {
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

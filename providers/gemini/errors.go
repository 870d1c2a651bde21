package gemini

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

// googleError is the error object of Google APIs:
// {"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}.
type googleError struct {
	Code    json.RawMessage `json:"code"`
	Message json.RawMessage `json:"message"`
	Status  json.RawMessage `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		Reason     string `json:"reason"`
		RetryDelay string `json:"retryDelay"` // google.rpc.RetryInfo: "21s"
		Violations []struct {
			QuotaID     string `json:"quotaId"`
			QuotaMetric string `json:"quotaMetric"`
		} `json:"violations"`
	} `json:"details"`
}

// errorFromResponse turns a non-2xx answer into an *providers.UpstreamError, reading
// a bounded part of its body for the message.
func (c *Client) errorFromResponse(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	e := c.errorFromBody(resp.StatusCode, body)
	if wait := providers.ParseRetryAfter(resp.Header, time.Now()); wait > 0 {
		e.RetryAfter = wait
	}
	return e
}

// errorFromBody maps a Google error body to an *providers.UpstreamError. The
// streaming endpoint may wrap it in a JSON array; anything that is not a Google
// error is quoted, shortened.
//
// Two refinements make the router's decisions right:
//   - Gemini answers a wrong API key with 400 INVALID_ARGUMENT (reason
//     API_KEY_INVALID). That is the operator's credential failing, not the client's
//     request, so it is reported as Status 401: the router fails over and never tells
//     the client its request was bad.
//   - Quota is set for a 402, and for RESOURCE_EXHAUSTED or FAILED_PRECONDITION
//     answers that speak of quota, billing or credit, except where Google names a
//     per-minute quota: that is a rate limit, which passes with time.
func (c *Client) errorFromBody(status int, body []byte) *providers.UpstreamError {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(trimmed, &arr) == nil && len(arr) > 0 {
			trimmed = arr[0]
		}
	}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	var ge googleError
	var msg, code string
	if json.Unmarshal(trimmed, &env) == nil && isError(env.Error) {
		if err := json.Unmarshal(env.Error, &ge); err == nil || isTypeError(err) {
			msg, code = jsonText(ge.Message), jsonText(ge.Status)
		}
		if msg == "" && code == "" {
			msg = jsonText(env.Error)
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if code == "" {
		code = jsonText(ge.Code)
	}
	e := &providers.UpstreamError{Status: status, Code: code}
	lower := strings.ToLower(msg)
	perMinute := strings.Contains(lower, "per minute")
	for _, d := range ge.Details {
		if strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			if wait, err := time.ParseDuration(d.RetryDelay); err == nil && wait > 0 {
				e.RetryAfter = min(wait, providers.MaxRetryAfter)
			}
		}
		if d.Reason == "API_KEY_INVALID" {
			e.Status, e.Code = http.StatusUnauthorized, "API_KEY_INVALID"
		}
		for _, v := range d.Violations {
			if strings.Contains(v.QuotaID, "PerMinute") || strings.Contains(v.QuotaMetric, "per_minute") {
				perMinute = true
			}
		}
	}
	if e.Code != "API_KEY_INVALID" && strings.Contains(lower, "api key not valid") {
		e.Status, e.Code = http.StatusUnauthorized, "API_KEY_INVALID"
	}
	switch {
	case status == http.StatusPaymentRequired:
		e.Quota = true
	case code == "RESOURCE_EXHAUSTED" || status == http.StatusTooManyRequests:
		e.Quota = !perMinute && (strings.Contains(lower, "quota") || strings.Contains(lower, "billing") || strings.Contains(lower, "credit"))
	case code == "FAILED_PRECONDITION":
		e.Quota = strings.Contains(lower, "billing")
	}
	e.Code = c.redact(truncate(e.Code, 100))
	e.Message = c.redact(truncate(msg, maxMessageBytes))
	return e
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

// invalidRequest reports a client request that cannot be expressed in Gemini's
// format. It is shaped like the 400 Gemini itself would send, so the router passes
// it to the client (who can fix the request) and does not fail over; no call is made.
func invalidRequest(param, msg string) *providers.UpstreamError {
	if param != "" {
		msg = param + ": " + msg
	}
	return &providers.UpstreamError{Status: http.StatusBadRequest, Code: "invalid_request",
		Message: truncate(msg, maxMessageBytes)}
}

// redact removes the API key from text that may echo it, such as an error message or
// a URL in a transport error.
func (c *Client) redact(s string) string {
	if c.apiKey == "" || !strings.Contains(s, c.apiKey) {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[REDACTED]")
}

// jsonText renders a JSON value as text: strings unquoted, numbers as written,
// null and absent as "".
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

func isTypeError(err error) bool {
	var typeErr *json.UnmarshalTypeError
	return errors.As(err, &typeErr)
}

// truncate and readBounded are the shared ones (providers/internal/body).
var (
	truncate    = body.Truncate
	readBounded = body.ReadBounded
)

package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/store"
)

// The gateway's own refusals. Handlers wrap them with detail through apiErr; this file
// is the only place that turns any error into an HTTP status and a JSON body.
var (
	ErrInvalidRequest   = errors.New("invalid request")
	ErrInvalidAPIKey    = errors.New("invalid api key")
	ErrModelNotAllowed  = errors.New("model not allowed")
	ErrModelNotFound    = errors.New("model not found")
	ErrModelNotPriced   = errors.New("model not priced")
	ErrContextLength    = errors.New("context length exceeded")
	ErrRequestTooLarge  = errors.New("request too large")
	ErrNoChannel        = errors.New("no channel available")
	ErrNotFoundRoute    = errors.New("unknown route")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrUnauthorized     = errors.New("unauthorized")  // admin credential missing or wrong
	ErrReloadFailed     = errors.New("reload failed") // a change was stored but not yet applied
)

// RequestError is a refusal with the detail a client needs: what is wrong, which
// parameter, what to do.
type RequestError struct {
	Kind    error
	Param   string
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// Unwrap exposes the sentinel to errors.Is.
func (e *RequestError) Unwrap() error { return e.Kind }

// APIError builds a refusal for handlers outside this package (the admin API), so
// they share this file's one mapping to statuses and bodies.
func APIError(kind error, param, format string, args ...any) error {
	return apiErr(kind, param, format, args...)
}

func apiErr(kind error, param, format string, args ...any) error {
	return &RequestError{Kind: kind, Param: param, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the OpenAI error shape every /v1 client understands.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// mapped is an error resolved to what the client sees.
type mapped struct {
	status  int
	typ     string
	code    string
	param   string
	message string
	headers map[string]string
}

// TopupHint tells a refused tenant where credit comes from; the admin API path is
// named so an operator reading the error knows the exact call to make.
const TopupHint = "Ask your Tollgate operator to top up your tenant (POST /admin/api/v1/tenants/{id}/topups)."

// retryAfterError is an error whose answer tells the client when to try again.
type retryAfterError struct {
	err  error
	wait time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// classify maps an error to its answer, with a Retry-After header when the gateway
// or the upstream knows how long the client should wait.
func classify(err error) mapped {
	m := classifyError(err)
	var wait time.Duration
	var rae *retryAfterError
	var ue *providers.UpstreamError
	switch {
	case errors.As(err, &rae):
		wait = rae.wait
	case errors.As(err, &ue):
		wait = ue.Wait()
	}
	if wait > 0 {
		if m.headers == nil {
			m.headers = map[string]string{}
		}
		m.headers["Retry-After"] = strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
	}
	return m
}

// classifyError maps an error to its status, type, code and message.
func classifyError(err error) mapped {
	var re *RequestError
	msg := err.Error()
	param := ""
	if errors.As(err, &re) {
		msg, param = re.Message, re.Param
	}
	var ice *billing.InsufficientCreditError
	var ue *providers.UpstreamError
	var rle *RateLimitError
	switch {
	case errors.As(err, &rle):
		headers := ratelimit.Headers(rle.Decision)
		if rle.Decision.Limit == ratelimit.LimitStreams {
			headers["Retry-After"] = "1"
		}
		return mapped{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "rate_limit_exceeded", message: rle.Error(), headers: headers}
	case errors.As(err, &ice):
		return mapped{status: http.StatusPaymentRequired, typ: "insufficient_quota", code: "insufficient_quota", message: msg,
			headers: map[string]string{"x-should-retry": "false"}}
	case errors.Is(err, ErrInvalidRequest):
		return mapped{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_request", param: param, message: msg}
	case errors.Is(err, ErrContextLength):
		return mapped{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded", param: param, message: msg}
	case errors.Is(err, ErrModelNotPriced):
		return mapped{status: http.StatusBadRequest, typ: "invalid_request_error", code: "model_not_priced", param: "model", message: msg}
	case errors.Is(err, ErrInvalidAPIKey):
		return mapped{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", message: msg}
	case errors.Is(err, ErrModelNotAllowed):
		return mapped{status: http.StatusForbidden, typ: "permission_error", code: "model_not_allowed", param: "model", message: msg}
	case errors.Is(err, ErrModelNotFound):
		return mapped{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model", message: msg}
	case errors.Is(err, ErrNotFoundRoute):
		return mapped{status: http.StatusNotFound, typ: "invalid_request_error", code: "unknown_url", message: msg}
	case errors.Is(err, ErrMethodNotAllowed):
		return mapped{status: http.StatusMethodNotAllowed, typ: "invalid_request_error", code: "method_not_allowed", message: msg}
	case errors.Is(err, ErrRequestTooLarge):
		return mapped{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large", message: msg}
	case errors.Is(err, ErrUnauthorized):
		return mapped{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "unauthorized", message: msg}
	case errors.Is(err, store.ErrNotFound):
		return mapped{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found", param: param, message: msg}
	case errors.Is(err, store.ErrInvalid):
		return mapped{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_request", param: param, message: msg}
	case errors.Is(err, store.ErrConflict):
		return mapped{status: http.StatusConflict, typ: "invalid_request_error", code: "conflict", param: param, message: msg}
	case errors.Is(err, ErrIdempotencyConflict):
		return mapped{status: http.StatusConflict, typ: "invalid_request_error", code: "idempotency_key_in_use", message: msg}
	case errors.Is(err, ErrIdempotencyMismatch):
		return mapped{status: http.StatusUnprocessableEntity, typ: "invalid_request_error", code: "idempotency_key_reused", message: msg}
	case errors.Is(err, ErrReloadFailed):
		return mapped{status: http.StatusInternalServerError, typ: "server_error", code: "reload_failed", message: msg}
	case errors.Is(err, ErrNoChannel):
		return mapped{status: http.StatusServiceUnavailable, typ: "service_unavailable", code: "no_channel_available", message: msg}
	case errors.Is(err, store.ErrUnavailable):
		return mapped{status: http.StatusServiceUnavailable, typ: "service_unavailable", code: "store_unavailable",
			message: "Tollgate cannot reach its database right now, so it changed and charged nothing (no upstream call was made). Retry shortly."}
	case errors.As(err, &ue):
		return classifyUpstream(ue)
	case errors.Is(err, context.DeadlineExceeded):
		return mapped{status: http.StatusGatewayTimeout, typ: "upstream_error", code: "upstream_timeout", message: "the upstream did not answer in time"}
	}
	return mapped{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error",
		message: "Tollgate hit an internal error; the call was not billed. The request id identifies it in the logs."}
}

// classifyUpstream maps an upstream failure to a gateway answer. The upstream's own
// 401/402/429 are the operator's problem: the tenant gets 502, never a 402.
func classifyUpstream(ue *providers.UpstreamError) mapped {
	m := mapped{status: http.StatusBadGateway, typ: "upstream_error", code: "upstream_error",
		message: "The upstream provider failed: " + ue.Error()}
	switch {
	case ue.Timeout:
		m.status, m.code, m.message = http.StatusGatewayTimeout, "upstream_timeout", "The upstream provider did not answer in time."
	case ue.Quota:
		m.code, m.message = "upstream_insufficient_quota", "The upstream provider refused the call for its own billing reasons (the operator's upstream account is out of quota). Your credit was not charged."
	case ue.Status == 0:
		m.code = "upstream_unreachable"
	case ue.Status == http.StatusTooManyRequests:
		m.code = "upstream_rate_limited"
	case ue.Status == http.StatusUnauthorized || ue.Status == http.StatusForbidden:
		m.code, m.message = "upstream_auth_failed", "The upstream provider refused the operator's credentials for this channel. Your credit was not charged."
	case ue.Status >= 400 && ue.Status < 500:
		// The upstream judged the request itself bad: pass its status on so the client
		// can fix the request, with the upstream's own message.
		m.status, m.typ, m.code = ue.Status, "invalid_request_error", "upstream_"+strconv.Itoa(ue.Status)
		m.message = "The upstream provider rejected the request: " + ue.Message
	}
	return m
}

func ptrOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// WriteError answers with the one OpenAI-shaped error body; the admin API uses it too.
func WriteError(c *gin.Context, err error) { writeError(c, err) }

// writeError answers a /v1 call with the one OpenAI-shaped error body.
func writeError(c *gin.Context, err error) mapped {
	m := classify(err)
	for k, v := range m.headers {
		c.Header(k, v)
	}
	if c.GetBool(ctxAnthropicFormat) {
		c.Header("Content-Type", "application/json")
		c.AbortWithStatusJSON(m.status, gin.H{"type": "error", "error": gin.H{"type": anthropicErrorType(m.status), "message": m.message}})
		return m
	}
	c.AbortWithStatusJSON(m.status, ErrorBody{Error: ErrorDetail{Message: m.message, Type: m.typ, Param: ptrOrNil(m.param), Code: ptrOrNil(m.code)}})
	return m
}

// insufficientMessage writes the 402 text: what the call may cost, what is there,
// how many output tokens would fit, and how to get credit.
func insufficientMessage(ice *billing.InsufficientCreditError, model string, maxTokensSet bool, affordable int64) string {
	whose := "Your tenant's available credit"
	fix := TopupHint
	if ice.KeyBudget {
		whose = "This API key's remaining budget"
		fix = "Ask your Tollgate operator to raise this key's budget, or use another key."
	}
	msg := fmt.Sprintf("Insufficient credit: this %s call may cost up to %s USD, but %s is %s USD.", model, ice.Need, lowerFirst(whose), ice.Available)
	if maxTokensSet && affordable > 0 {
		msg += fmt.Sprintf(" The hold is sized by max_tokens; with the available credit at most %d output tokens are affordable — lower max_tokens to %d or less, or add credit.", affordable, affordable)
	}
	return msg + " " + fix
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

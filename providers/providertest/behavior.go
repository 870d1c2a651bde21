package providertest

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultText is the reply of a fake upstream that was told nothing else.
const DefaultText = "Hello! This is a reply from the fake upstream."

// DefaultEmbeddingDim is the vector length of fake embeddings: small, so tests and
// benchmarks measure the gateway and not JSON encoding.
const DefaultEmbeddingDim = 8

// DefaultModels is what GET /v1/models lists unless a Behavior says otherwise.
var DefaultModels = []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}

// Behavior programs how the fake answers. The zero value answers every call
// successfully with DefaultText and truthful-looking usage.
type Behavior struct {
	// Text is the assistant's reply; "" means DefaultText.
	Text string
	// Chunks is the number of content chunks a stream splits Text into (at rune
	// boundaries, as evenly as possible); 0 means one chunk per word, each word
	// carrying the space before it.
	Chunks int
	// FinishReason is reported when the reply ends; "" means "stop".
	FinishReason string

	// PromptTokens is the reported prompt size; 0 means the default: one token per
	// four bytes of the request body, rounded up.
	PromptTokens int
	// CompletionTokens is the reported completion size per choice; 0 means the
	// default: the request's max_tokens (or max_completion_tokens) if it set one,
	// else the number of content chunks the reply streams as.
	CompletionTokens int
	// CachedTokens and ReasoningTokens fill the usage details.
	CachedTokens, ReasoningTokens int
	// NoUsage leaves usage out: no "usage" member in complete answers, and no usage
	// chunk in streams even when the request asked for one.
	NoUsage bool

	// Error, when set, answers every call with this error and nothing else.
	Error *APIError
	// HeaderDelay waits this long before sending the status line and headers.
	HeaderDelay time.Duration
	// ChunkDelay waits this long before each content chunk of a stream.
	ChunkDelay time.Duration
	// Fault breaks the answer after FaultAfter content chunks (or, for answers that
	// are not streams, part way through the body).
	Fault Fault
	// FaultAfter is the number of content chunks sent before Fault strikes.
	FaultAfter int

	// RawEvents, when set, replaces a stream's chunks: each string is sent verbatim as
	// one data event, followed by "data: [DONE]" (faults still apply). It lets tests
	// play any chunk sequence a compatible host might send.
	RawEvents []string
	// RawBody, when set, is sent verbatim with status 200 in place of a complete
	// chat or embeddings answer.
	RawBody string

	// EmbeddingDim is the length of each embedding vector; 0 means the request's
	// "dimensions", else DefaultEmbeddingDim.
	EmbeddingDim int
	// Models is what GET /v1/models lists; nil means DefaultModels.
	Models []string
}

// Fault is a way an upstream can break after it started answering.
type Fault int

const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultCut aborts the connection (no "data: [DONE]", no end of the chunked
	// body), as when an upstream crashes or a proxy drops the connection.
	FaultCut
	// FaultStall stops sending and holds the connection until the client gives up
	// or the server closes.
	FaultStall
	// FaultMalformed sends one data event (or a body) whose JSON is cut short, then
	// carries on.
	FaultMalformed
	// FaultErrorEvent sends an OpenAI error object as a data event and ends the
	// stream without "data: [DONE]", as OpenAI does when it fails mid-stream.
	FaultErrorEvent
)

// APIError is an error answer in OpenAI's shape:
// {"error":{"message","type","param","code"}}.
type APIError struct {
	Status  int    // HTTP status
	Type    string // error.type
	Code    string // error.code; "" is sent as null
	Param   string // error.param; "" is sent as null
	Message string // error.message
	// RetryAfter is sent as the Retry-After header when not "".
	RetryAfter string
}

// RateLimitError is OpenAI's 429 for too many requests, with a Retry-After header
// when retryAfter is not "".
func RateLimitError(retryAfter string) *APIError {
	return &APIError{Status: http.StatusTooManyRequests, Type: "requests", Code: "rate_limit_exceeded",
		Message: "Rate limit reached for requests per min (RPM). Please try again later.", RetryAfter: retryAfter}
}

// QuotaError is OpenAI's refusal when the account has no credit left. OpenAI sends
// it with status 429, so only the code tells it apart from a rate limit.
func QuotaError() *APIError {
	return &APIError{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota",
		Message: "You exceeded your current quota, please check your plan and billing details."}
}

// PaymentRequiredError is the 402 some OpenAI-compatible hosts send when the
// account is out of credit.
func PaymentRequiredError() *APIError {
	return &APIError{Status: http.StatusPaymentRequired, Type: "insufficient_quota", Code: "insufficient_quota",
		Message: "Insufficient balance. Please top up your account."}
}

// AuthError is OpenAI's 401 for a wrong API key.
func AuthError() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
		Message: "Incorrect API key provided. You can find your API key in your account settings."}
}

// ServerError is OpenAI's 500.
func ServerError() *APIError {
	return &APIError{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "The server had an error while processing your request. Sorry about that!"}
}

// plan is a Behavior with the reply already split into chunks, so the split is not
// redone on every call.
type plan struct {
	Behavior
	pieces []string
}

func newPlan(b *Behavior) *plan {
	p := &plan{Behavior: *b}
	if p.Text == "" {
		p.Text = DefaultText
	}
	if p.FinishReason == "" {
		p.FinishReason = "stop"
	}
	if p.Models == nil {
		p.Models = DefaultModels
	}
	p.pieces = split(p.Text, p.Chunks)
	return p
}

// split cuts text into n pieces of nearly equal rune count, or at words when n is 0.
func split(text string, n int) []string {
	if n <= 0 {
		var pieces []string
		for len(text) > 0 {
			i := strings.IndexByte(strings.TrimLeft(text, " "), ' ')
			if i < 0 {
				return append(pieces, text)
			}
			i += len(text) - len(strings.TrimLeft(text, " "))
			pieces = append(pieces, text[:i])
			text = text[i:]
		}
		return pieces
	}
	runes := utf8.RuneCountInString(text)
	n = max(1, min(n, runes))
	pieces := make([]string, 0, n)
	for k := range n {
		size := runes / n
		if k < runes%n {
			size++
		}
		end := 0
		for range size {
			_, w := utf8.DecodeRuneInString(text[end:])
			end += w
		}
		pieces = append(pieces, text[:end])
		text = text[end:]
	}
	return pieces
}

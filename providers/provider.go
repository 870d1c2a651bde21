// Package providers defines the small contract every upstream adapter meets.
//
// Adapters translate requests and responses between the gateway's unified schema
// (OpenAI chat completions) and one vendor's wire format, and report the usage the
// upstream returned. They never price, hold or bill: that is the billing package's job.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Usage is what an upstream reported (or what the gateway estimated) for one call.
// InputTokens follows OpenAI's convention: it includes cached and cache-write tokens.
type Usage struct {
	InputTokens       int64 // all prompt tokens, cached ones included
	CachedInputTokens int64 // part of InputTokens read from a prompt cache
	CacheWriteTokens  int64 // part of InputTokens written to a prompt cache
	OutputTokens      int64 // all completion tokens, reasoning included
	ReasoningTokens   int64 // part of OutputTokens spent on reasoning
}

// ChatRequest is one chat completion call as the gateway hands it to an adapter.
type ChatRequest struct {
	// Body is the client's JSON body in OpenAI chat format, already rewritten by the
	// gateway (model mapped, max_tokens injected, stream_options forced). Adapters for
	// OpenAI-compatible hosts forward it as is so no client field is ever dropped.
	Body []byte
	// Model is the upstream model name (after the channel's model mapping).
	Model string
	// Stream asks for a server-sent event stream.
	Stream bool
}

// ChatResponse is a complete, non-streaming answer in OpenAI chat format.
type ChatResponse struct {
	Body  []byte // chat.completion JSON as the client will receive it
	Usage *Usage // nil when the upstream reported none
}

// Chunk is one streamed event, already in OpenAI chat.completion.chunk format.
type Chunk struct {
	// Data is the JSON of one chat.completion.chunk, without the "data: " framing.
	Data []byte
	// Text is the generated text this chunk carries (content, reasoning and tool
	// arguments), so the gateway can estimate usage when the upstream reports none.
	Text string
	// Usage is set on the chunk that carries the upstream's usage report.
	Usage *Usage
	// UsageOnly marks a chunk that carries usage and no choices: the relay drops it
	// when the client did not ask for usage.
	UsageOnly bool
}

// ChatStream yields the chunks of a streaming answer as they arrive.
type ChatStream interface {
	// Recv returns the next chunk; io.EOF after the last one. An error mid-stream is
	// an *UpstreamError or a context error.
	Recv() (Chunk, error)
	// Close releases the upstream connection; safe to call more than once.
	Close() error
}

// Parker is a ChatStream whose relay may let its goroutine end while the upstream
// is quiet, so that an idle stream costs no goroutine. Quiet waits up to linger
// for input on the caller's goroutine (calling the BeforeWait hook first) and
// reports true when none came. Park then reports true when it has arranged for
// wake to be called once, from another goroutine, as soon as Recv can go on (input
// came, the upstream closed, the stream was closed or its call cancelled); Recv
// must not be called before. Either reports false when Recv should go on now;
// streams that cannot park always do.
type Parker interface {
	Quiet(linger time.Duration) bool
	Park(wake func()) bool
}

// WaitHooker is a ChatStream that can say when it is about to wait for the
// upstream: it calls f first. The gateway writes chunks without a flush each and
// flushes in f, so chunks that arrived together leave together, and none is held
// back while the stream waits.
type WaitHooker interface {
	BeforeWait(f func())
}

// Provider is the one capability every adapter has: chat completions.
type Provider interface {
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	ChatStream(ctx context.Context, req *ChatRequest) (ChatStream, error)
}

// EmbeddingsRequest is an embeddings call in OpenAI format.
type EmbeddingsRequest struct {
	Body  []byte // the client's JSON body, model already mapped
	Model string // upstream model name
}

// EmbeddingsResponse is the upstream answer in OpenAI format.
type EmbeddingsResponse struct {
	Body  []byte
	Usage *Usage
}

// Embedder is the optional capability of adapters whose upstream has embeddings.
type Embedder interface {
	Embeddings(ctx context.Context, req *EmbeddingsRequest) (*EmbeddingsResponse, error)
}

// ErrUpstream marks every failure that came from (or on the way to) an upstream.
var ErrUpstream = errors.New("upstream error")

// UpstreamError describes a failed upstream call in terms the router can map to a
// client status and a failover decision.
type UpstreamError struct {
	Status  int    // upstream HTTP status; 0 when no response arrived
	Code    string // upstream error code or type, if it sent one
	Message string // upstream error message, for logs and the request log
	Timeout bool   // the upstream did not answer in time
	// Quota is set when the upstream refused for billing reasons (its 402 or an
	// insufficient_quota code): the operator's problem, never the tenant's.
	Quota bool
	// RetryAfter is how long the upstream asked not to be called again (its
	// Retry-After or retry-after-ms header, or Google's RetryInfo); 0 when it did
	// not say.
	RetryAfter time.Duration
}

func (e *UpstreamError) Error() string {
	switch {
	case e.Timeout:
		return fmt.Sprintf("upstream timed out: %s", e.Message)
	case e.Status == 0:
		return fmt.Sprintf("upstream unreachable: %s", e.Message)
	default:
		return fmt.Sprintf("upstream answered %d %s: %s", e.Status, e.Code, e.Message)
	}
}

// Wait is how long to leave the upstream alone: its RetryAfter, when it came with a
// 429 or 503 (a wait on any other refusal says nothing about calling again).
func (e *UpstreamError) Wait() time.Duration {
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		return e.RetryAfter
	}
	return 0
}

// Unwrap lets errors.Is(err, ErrUpstream) find every upstream failure.
func (e *UpstreamError) Unwrap() error { return ErrUpstream }

// Retryable says whether another channel may be tried: connection failures,
// timeouts, rate limits, server errors and the upstream's own auth or billing refusals.
func (e *UpstreamError) Retryable() bool {
	switch {
	case e.Status == 0, e.Timeout, e.Quota:
		return true
	case e.Status == http.StatusTooManyRequests, e.Status >= 500:
		return true
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden, e.Status == http.StatusPaymentRequired:
		return true
	}
	return false
}

// Package router is the public API: OpenAI-compatible endpoints that authenticate a
// tenant's key, hold the call's worst-case cost, relay it upstream, and settle it.
package router

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/metrics"
	"github.com/tollgate-gw/tollgate/ratelimit"
	"github.com/tollgate-gw/tollgate/store"
)

// Config tunes the gateway.
type Config struct {
	MaxBodyBytes    int64         // larger request bodies get 413
	UpstreamTimeout time.Duration // one call's upper bound, streams included
	MaxAttempts     int           // channels tried per call before giving up
	HTTPClient      *http.Client  // shared by every adapter; built from AllowPrivateUpstreams when nil
	// AllowPrivateUpstreams lets channels reach private, loopback and link-local
	// addresses (a local vLLM or Ollama); off, only public addresses are dialled.
	AllowPrivateUpstreams bool
	Logger                *slog.Logger
	// Limiter enforces per-key and per-tenant rate limits (in process, or shared
	// through Redis); nil enforces none.
	Limiter ratelimit.Limiter
	// Metrics receives the gateway's observations; nil records nothing.
	Metrics *metrics.Metrics
	// AccessLog logs one line per stream that detached, when it ends; the server's
	// access log skips those requests (Detached).
	AccessLog bool
	// Outbox keeps settlements of served calls that the store could not take; nil
	// means such a call is logged as unbilled.
	Outbox *store.Outbox
}

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = 10 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewUpstreamClientFor(c.AllowPrivateUpstreams)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Gateway serves /v1.
type Gateway struct {
	cfg      Config
	store    *store.Store
	catalog  atomic.Pointer[catalog]
	keys     keyCache
	health   healthBook
	inflight sync.WaitGroup
	log      *slog.Logger

	handBack      func(net.Conn) bool // takes a detached stream's connection back
	detachedMu    sync.Mutex
	detachedCalls map[*call]struct{} // streams that left their handler (CutStreams)
	cut           bool               // CutStreams was called
	parks         atomic.Int64       // times a stream parked
	parkedNow     atomic.Int64       // streams parked now
	loadedVersion string             // the configuration version New loaded (at least)
}

// New prepares a gateway over a store; it loads channels and prices once.
func New(ctx context.Context, cfg Config, st *store.Store) (*Gateway, error) {
	cfg.defaults()
	g := &Gateway{cfg: cfg, store: st, log: cfg.Logger}
	// The version is read before the load, so a change made in between is seen by
	// Watch rather than lost (an error leaves "": Watch then reloads once).
	g.loadedVersion, _ = st.ConfigVersion(ctx)
	if err := g.Reload(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Reload rebuilds the routing snapshot after channels or prices changed.
func (g *Gateway) Reload(ctx context.Context) error {
	cat, problems, err := buildCatalog(ctx, g.store, g.cfg.HTTPClient)
	if err != nil {
		return err
	}
	for _, p := range problems {
		g.log.Error("channel misconfigured", "error", p)
	}
	g.catalog.Store(cat)
	return nil
}

// ConfigPollInterval is how often Watch checks for configuration changes: the bound
// on how long a key revoked or a price changed elsewhere takes to apply here.
const ConfigPollInterval = 500 * time.Millisecond

// Watch keeps this process's caches in step with changes made anywhere — another
// node, the CLI: it polls the store's configuration version and, when it moves,
// reloads channels and prices and forgets every cached key. It returns when ctx ends.
func (g *Gateway) Watch(ctx context.Context, every time.Duration) {
	last := g.loadedVersion
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := g.store.ConfigVersion(ctx)
		if err != nil || v == last {
			continue
		}
		g.keys.forgetAll()
		if err := g.Reload(ctx); err != nil {
			g.log.Error("reloading the configuration", "error", err)
			continue
		}
		last = v
	}
}

// UpstreamClient is the client every adapter of this gateway uses, with its policy
// on private addresses; tools that call a channel on the operator's behalf (the
// dashboard's test button) should use it too.
func (g *Gateway) UpstreamClient() *http.Client { return g.cfg.HTTPClient }

// ForgetKey drops a key from the cache so a revocation takes effect on the next call.
func (g *Gateway) ForgetKey(keyID string) { g.keys.forget(keyID) }

// Wait blocks until every call in flight has settled or ctx ends.
func (g *Gateway) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Register mounts the public API on an engine.
func (g *Gateway) Register(e *gin.Engine) {
	v1 := e.Group("/v1", g.authenticate)
	v1.POST("/chat/completions", g.idempotent(g.billed("chat", g.chat)))
	v1.POST("/embeddings", g.idempotent(g.billed("embeddings", g.embeddings)))
	v1.GET("/models", g.handle(g.listModels))
	v1.GET("/models/:model", g.handle(g.getModel))
	// Anthropic-format ingress answers errors in Anthropic's shape, auth errors included.
	messages := e.Group("/v1", anthropicFormat, g.authenticate)
	messages.POST("/messages", g.idempotent(g.billed("messages", g.messages)))
	messages.POST("/messages/count_tokens", g.handle(g.countTokens))
}

// handle adapts an error-returning handler: errors become the one JSON error body.
func (g *Gateway) handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			writeError(c, err)
		}
	}
}

// RequestIDHeader names the header every response carries.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an id (echoing a sane client-sent one) and puts it
// on the response before anything else is written.
func RequestID(c *gin.Context) {
	id := c.GetHeader(RequestIDHeader)
	if !saneRequestID(id) {
		id = NewRequestID()
	}
	c.Set(ctxRequestID, id)
	c.Header(RequestIDHeader, id)
	c.Next()
}

const ctxRequestID = "tollgate.request_id"

// RequestIDOf returns the id RequestID assigned.
func RequestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

// NewRequestID returns a fresh request id: 48 bits of Unix milliseconds, then 48
// random bits. Ids that sort by time keep the request log's index on them
// append-only, which the write-behind's commits feel (store/writer.go).
func NewRequestID() string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	var id [4 + 2*len(b)]byte
	copy(id[:], "req_")
	hex.Encode(id[4:], b[:])
	return string(id[:])
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ServedLean picks the requests package h1 reads (Server) itself: the API's calls
// under /v1/, which are what the gateway serves many of; the dashboard, the portal
// and the rest stay on net/http.
func ServedLean(_, path string) bool { return strings.HasPrefix(path, "/v1/") }

// NotFound answers unknown /v1 routes in the OpenAI error shape.
func NotFound(c *gin.Context) {
	writeError(c, apiErr(ErrNotFoundRoute, "", "Unknown request URL: %s %s. See the Tollgate README for the supported endpoints.", c.Request.Method, c.Request.URL.Path))
}

// MethodNotAllowed answers a known path called with the wrong method.
func MethodNotAllowed(c *gin.Context) {
	writeError(c, apiErr(ErrMethodNotAllowed, "", "%s is not allowed on %s.", c.Request.Method, c.Request.URL.Path))
}

// Recover turns a panic into a 500 in the OpenAI shape and logs it.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		log.Error("panic", "request_id", RequestIDOf(c), "panic", rec)
		writeError(c, errPanic)
	})
}

// errPanic is unknown to classify, so a panic becomes a generic 500.
var errPanic = errors.New("internal error")

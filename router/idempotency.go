package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// Client idempotency on /v1: a request repeated with the same Idempotency-Key and
// body gets the stored answer — no second upstream call, no second debit.
const (
	IdempotencyHeader    = "Idempotency-Key"
	idempotencyKeep      = 24 * time.Hour
	maxIdempotentAnswer  = 8 << 20 // larger answers are not kept; a repeat then runs again
	maxIdempotencyKeyLen = 255
)

// ErrIdempotencyConflict and ErrIdempotencyMismatch are the refusals of a repeated key.
var (
	ErrIdempotencyConflict = errors.New("idempotency key in flight")
	ErrIdempotencyMismatch = errors.New("idempotency key reused")
)

// teeWriter keeps a copy of what a handler writes, up to a limit, for replay.
type teeWriter struct {
	gin.ResponseWriter
	buf      bytes.Buffer
	overflow bool
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if !w.overflow {
		if w.buf.Len()+len(p) > maxIdempotentAnswer {
			w.overflow = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// idempotent wraps a billed endpoint with Idempotency-Key handling. Keys are scoped
// to the tenant; only served (2xx) answers are kept, so a call that failed — and so
// cost nothing — may be retried under the same key.
func (g *Gateway) idempotent(next gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(IdempotencyHeader)
		if key == "" {
			next(c)
			return
		}
		if len(key) > maxIdempotencyKeyLen {
			writeError(c, apiErr(ErrInvalidRequest, "", "The Idempotency-Key header must be at most %d characters.", maxIdempotencyKeyLen))
			return
		}
		body, err := g.readBody(c)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(append([]byte(c.Request.Method+" "+c.Request.URL.Path+"\n"), body...))
		tenant := keyOf(c).TenantID
		ctx := c.Request.Context()
		lease := g.cfg.UpstreamTimeout + time.Minute
		answer, err := g.store.ClaimIdempotencyKey(ctx, tenant, key, hex.EncodeToString(sum[:]), lease, idempotencyKeep)
		switch {
		case errors.Is(err, store.ErrIdempotencyInFlight):
			writeError(c, apiErr(ErrIdempotencyConflict, "", "A request with this Idempotency-Key is still being processed. Wait for it to finish, then retry to get its answer."))
			return
		case errors.Is(err, store.ErrIdempotencyMismatch):
			writeError(c, apiErr(ErrIdempotencyMismatch, "", "This Idempotency-Key was already used with a different request. Use a new key for a new request."))
			return
		case err != nil:
			writeError(c, err)
			return
		case answer != nil:
			c.Header("Idempotent-Replayed", "true")
			c.Data(answer.Status, answer.ContentType, answer.Body)
			c.Abort()
			return
		}
		tw := &teeWriter{ResponseWriter: c.Writer}
		c.Writer = tw
		next(c)
		settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		status := tw.Status()
		if status >= 200 && status < 300 && !tw.overflow {
			err = g.store.CompleteIdempotencyKey(settle, tenant, key, store.IdempotentAnswer{Status: status,
				ContentType: tw.Header().Get("Content-Type"), Body: tw.buf.Bytes()})
		} else {
			err = g.store.AbandonIdempotencyKey(settle, tenant, key)
		}
		if err != nil {
			g.log.Error("could not store the idempotent answer", "request_id", RequestIDOf(c), "error", err)
		}
	}
}

var _ http.ResponseWriter = (*teeWriter)(nil)

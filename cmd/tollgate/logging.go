package main

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
)

// requestIDKey keys the request id in a request's context.
type requestIDKey struct{}

// requestContext copies the id router.RequestID assigned into the request's
// context, so anything that logs with that context — m.Logger.WarnContext(ctx, …)
// in any package, with a gin.Context or c.Request.Context() — names the request
// without passing the id around. It must run after router.RequestID.
func requestContext(c *gin.Context) {
	if id := router.RequestIDOf(c); id != "" {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
	}
	c.Next()
}

// logRequestErrors logs the errors handlers attached to the gin context
// (c.Error), with the request id: at ERROR when the answer was a 5xx — the client
// was told to look in the gateway's log — and at DEBUG otherwise, where the error
// was the client's and its answer already said so. It runs whether or not the
// access log is on.
func logRequestErrors(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 {
			return
		}
		level := slog.LevelDebug
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		log.Log(c.Request.Context(), level, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "error", c.Errors.String())
	}
}

// requestIDFrom returns the request id a context carries, if any.
func requestIDFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds request_id to every record logged with a request's context,
// unless the record already names one.
type requestIDHandler struct{ slog.Handler }

var _ slog.Handler = requestIDHandler{}

// Handle implements slog.Handler.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestIDFrom(ctx); id != "" && !hasAttr(r, "request_id") {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler, keeping the wrapper.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler, keeping the wrapper.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

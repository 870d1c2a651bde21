package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// rateLimitsJSON is a key's or tenant's rate limits; 0 means unlimited.
type rateLimitsJSON struct {
	RequestsPerMinute int64 `json:"requests_per_minute"`
	TokensPerMinute   int64 `json:"tokens_per_minute"`
	ConcurrentStreams int64 `json:"concurrent_streams"`
}

func limitsOut(l store.RateLimits) rateLimitsJSON {
	return rateLimitsJSON{RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute, ConcurrentStreams: l.ConcurrentStreams}
}

// maxRate bounds each limit so the limiter's arithmetic stays exact.
const maxRate = 10_000_000_000

func (r *rateLimitsJSON) store() (store.RateLimits, error) {
	for _, v := range []int64{r.RequestsPerMinute, r.TokensPerMinute, r.ConcurrentStreams} {
		if v < 0 || v > maxRate {
			return store.RateLimits{}, invalid("rate_limits", "rate_limits values must be whole numbers from 0 (unlimited) to %d.", int64(maxRate))
		}
	}
	return store.RateLimits{RequestsPerMinute: r.RequestsPerMinute, TokensPerMinute: r.TokensPerMinute, ConcurrentStreams: r.ConcurrentStreams}, nil
}

type patchKeyRequest struct {
	RateLimits *rateLimitsJSON `json:"rate_limits"`
}

// patchKey serves PATCH /keys/:id: a key's rate limits, effective at once here and
// within a second on every other node.
func (a *API) patchKey(c *gin.Context) error {
	var req patchKeyRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.RateLimits == nil {
		return invalid("rate_limits", "rate_limits is required, e.g. {\"requests_per_minute\":60,\"tokens_per_minute\":100000,\"concurrent_streams\":4} (0 = unlimited).")
	}
	l, err := req.RateLimits.store()
	if err != nil {
		return err
	}
	id := c.Param("id")
	if err := a.store.SetKeyLimits(c.Request.Context(), id, l); err != nil {
		return notFound(err, "key", id, keyHint)
	}
	a.notify.ForgetKey(id)
	k, err := a.store.Key(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, a.keyOut(k))
	return nil
}

package router

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

// keyCacheTTL bounds how long a key looked up once is trusted without the database.
// Revocation through this process's admin API evicts at once; the TTL bounds what a
// revocation made elsewhere (the CLI, another node) takes to be seen.
const keyCacheTTL = 5 * time.Second

type cachedKey struct {
	key     store.APIKey
	fetched time.Time
}

// keyCache maps key digests to keys so most calls authenticate without a query.
type keyCache struct {
	mu   sync.RWMutex
	byID map[string]string // key id → digest, for eviction on revoke
	m    map[string]cachedKey
}

func (kc *keyCache) get(digest string, now time.Time) (store.APIKey, bool) {
	kc.mu.RLock()
	ck, ok := kc.m[digest]
	kc.mu.RUnlock()
	if !ok || now.Sub(ck.fetched) > keyCacheTTL {
		return store.APIKey{}, false
	}
	return ck.key, true
}

func (kc *keyCache) put(digest string, k store.APIKey, now time.Time) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.m == nil {
		kc.m, kc.byID = map[string]cachedKey{}, map[string]string{}
	}
	if len(kc.m) > 100_000 { // a crude bound: start over rather than grow forever
		kc.m, kc.byID = map[string]cachedKey{}, map[string]string{}
	}
	kc.m[digest] = cachedKey{key: k, fetched: now}
	kc.byID[k.ID] = digest
}

func (kc *keyCache) forgetAll() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.m, kc.byID = nil, nil
}

func (kc *keyCache) forget(keyID string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if d, ok := kc.byID[keyID]; ok {
		delete(kc.m, d)
		delete(kc.byID, keyID)
	}
}

const ctxKey = "tollgate.key"

// keyOf returns the authenticated key of a /v1 call.
func keyOf(c *gin.Context) store.APIKey {
	v, _ := c.Get(ctxKey)
	k, _ := v.(store.APIKey)
	return k
}

// authenticate admits a /v1 call with a valid, active key. Keys are accepted only in
// headers — never in the URL, where proxies and logs would keep them.
func (g *Gateway) authenticate(c *gin.Context) {
	k, err := g.resolveKey(c)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Set(ctxKey, k)
	c.Next()
}

func (g *Gateway) resolveKey(c *gin.Context) (store.APIKey, error) {
	var q url.Values
	if c.Request.URL.RawQuery != "" { // most calls have none: skip parsing it
		q = c.Request.URL.Query()
	}
	for _, name := range []string{"key", "api_key", "api-key", "apikey", "access_token", "token"} {
		if q.Has(name) {
			return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "API keys are not accepted in the URL (it ends up in logs); send it as 'Authorization: Bearer sk-tg-…'. If this key was exposed, ask your operator to revoke it.")
		}
	}
	auths := c.Request.Header.Values("Authorization")
	if len(auths) > 1 {
		return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "More than one Authorization header was sent; send exactly one: 'Authorization: Bearer sk-tg-…'.")
	}
	secret := ""
	if len(auths) == 1 {
		scheme, token, ok := strings.Cut(auths[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "Malformed Authorization header; expected 'Authorization: Bearer sk-tg-…'.")
		}
		secret = strings.TrimSpace(token)
	} else if xs := c.Request.Header.Values("X-Api-Key"); len(xs) == 1 {
		secret = strings.TrimSpace(xs[0])
	}
	if secret == "" {
		return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "You didn't provide an API key. Send your Tollgate key as 'Authorization: Bearer sk-tg-…'.")
	}
	if !store.WellFormedKey(secret) {
		return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "Incorrect API key provided: it is not a Tollgate key (they start with sk-tg- and carry a checksum). Check for a typo or a truncated copy.")
	}
	digest := store.KeyDigest(secret)
	now := time.Now()
	k, ok := g.keys.get(digest, now)
	if !ok {
		var err error
		k, err = g.store.KeyByDigest(c.Request.Context(), digest)
		if errors.Is(err, store.ErrNotFound) {
			return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "Incorrect API key provided: no such key. Check that you copied the whole key.")
		}
		if err != nil {
			return store.APIKey{}, err
		}
		g.keys.put(digest, k, now)
	}
	switch {
	case k.RevokedAt != 0:
		return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "This API key has been revoked. Ask your operator for a new one.")
	case !k.Active(now):
		return store.APIKey{}, apiErr(ErrInvalidAPIKey, "", "This API key expired at %s. Ask your operator for a new one.", store.Millis(k.ExpiresAt).Format(time.RFC3339))
	}
	return k, nil
}

package metrics

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// Label values used when a value cannot be kept as given.
const (
	valueUnknown = "unknown" // the caller passed "" (e.g. no model resolved yet)
	valueOther   = "other"   // past the dimension's cap, too long, or not UTF-8
)

// maxLabelLen bounds one label value; ids and model names are far shorter, and a
// longer value is a sign that something unbounded leaked in.
const maxLabelLen = 128

// labelSet admits up to max distinct values for one label dimension, first come
// first kept; later newcomers fold into "other". Lookups of admitted values take a
// read lock and allocate nothing.
type labelSet struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newLabelSet(max int) *labelSet {
	return &labelSet{max: max, seen: make(map[string]struct{})}
}

// bound returns v if it is (or can become) one of the set's values, else a
// placeholder.
func (s *labelSet) bound(v string) string {
	if v == "" {
		return valueUnknown
	}
	s.mu.RLock()
	_, ok := s.seen[v]
	s.mu.RUnlock()
	if ok {
		return v
	}
	if len(v) > maxLabelLen || !utf8.ValidString(v) {
		return valueOther
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= s.max {
		return valueOther
	}
	s.seen[v] = struct{}{}
	return v
}

// seriesCache maps a key of bounded label values to its resolved children, so a
// hot path pays one map read instead of hashing its labels into each vector. Its
// size is bounded by the product of the bounded dimensions actually seen.
type seriesCache[K comparable, V any] struct{ m sync.Map }

func (c *seriesCache[K, V]) get(k K, resolve func(K) V) V {
	if s, ok := c.m.Load(k); ok {
		return s.(V)
	}
	s, _ := c.m.LoadOrStore(k, resolve(k))
	return s.(V)
}

// knownCodes are the statuses the gateway itself answers with (router/errors.go)
// plus the common ones around them; any other status is reported as code "other"
// within its class.
var knownCodes = func() map[int]string {
	m := map[int]string{}
	for _, c := range []int{200, 201, 204, 400, 401, 402, 403, 404, 405, 408, 409, 413, 422, 429, 499, 500, 501, 502, 503, 504} {
		m[c] = strconv.Itoa(c)
	}
	return m
}()

// statusLabels collapses a status to its labels: its class, and the code itself
// when it is a known one ("other" otherwise), so odd statuses cannot add series.
func statusLabels(status int) (class, code string) {
	switch {
	case status >= 100 && status < 200:
		class = "1xx"
	case status >= 200 && status < 300:
		class = "2xx"
	case status >= 300 && status < 400:
		class = "3xx"
	case status >= 400 && status < 500:
		class = "4xx"
	case status >= 500 && status < 600:
		class = "5xx"
	default:
		class = valueUnknown
	}
	if c, ok := knownCodes[status]; ok {
		return class, c
	}
	return class, valueOther
}

// attemptOutcome names what an upstream's status means for routing, in a fixed set.
func attemptOutcome(status int) string {
	switch {
	case status < 100:
		return "unreachable"
	case status >= 200 && status < 300:
		return "ok"
	case status == 402:
		return "quota"
	case status == 429:
		return "rate_limited"
	case status == 408 || status == 504:
		return "timeout"
	case status >= 400 && status < 500:
		return "client_error"
	case status >= 500 && status < 600:
		return "server_error"
	}
	return valueOther
}

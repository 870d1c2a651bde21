// Package metrics exposes Tollgate's Prometheus metrics: calls, tokens and spend,
// upstream attempts, store latency, outstanding holds and rate limiting. The gateway
// calls the observation methods; operators scrape Handler at GET /metrics.
//
// Every label value is operator-controlled (endpoint, model, tenant and channel ids)
// or a small fixed set (status class, outcome). As a backstop each label dimension
// also admits only a bounded number of distinct values, folding the rest into
// "other", so a bug that passes a user-supplied string cannot explode the series
// count; statuses collapse to a known set of codes and their classes.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Histogram buckets, in seconds. Calls and upstream attempts span a cached 50µs
// answer to a minute-long stream; the gateway's own overhead should sit in the
// microseconds, so its buckets are finer (10µs … 100ms); store operations sit in
// between (100µs … 5s).
var (
	latencyBuckets  = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60}
	overheadBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}
	storeBuckets    = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// Caps on distinct values per label dimension; beyond them values become "other".
// They are far above a sane deployment (a few hundred models, a few thousand
// tenants) and exist only to bound a mistake.
const (
	maxModels    = 500
	maxTenants   = 2000
	maxChannels  = 500
	maxProviders = 50
	maxEndpoints = 32
	maxOps       = 64
	maxScopes    = 16
)

// Metrics owns a private registry (never the global default, so tests and several
// gateways in one process do not collide) and the gateway's collectors.
type Metrics struct {
	reg *prometheus.Registry

	calls           *prometheus.CounterVec
	paymentRequired *prometheus.CounterVec
	callSeconds     *prometheus.HistogramVec
	overheadSeconds *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	spend           *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	upstreamSeconds *prometheus.HistogramVec
	storeSeconds    *prometheus.HistogramVec
	storeErrors     *prometheus.CounterVec
	holds           prometheus.Gauge
	holdsUSD        prometheus.Gauge
	streamsParked   prometheus.Gauge
	streamParks     prometheus.Counter
	rateLimited     *prometheus.CounterVec

	models, tenants, channels, providers, endpoints, ops, scopes, limits *labelSet
	callCache                                                            seriesCache[callKey, *callSeries]
	tokenCache                                                           seriesCache[[3]string, prometheus.Counter]
	spendCache                                                           seriesCache[[2]string, prometheus.Counter]
	attemptCache                                                         seriesCache[[3]string, *attemptSeries]
	storeCache                                                           seriesCache[string, prometheus.Observer]
}

// New registers Tollgate's collectors, plus the Go runtime and process collectors,
// on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_calls_total",
			Help: "Calls answered on /v1, by endpoint, model, status class and status code (known codes only, else \"other\").",
		}, []string{"endpoint", "model", "status_class", "code"}),
		paymentRequired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_payment_required_total",
			Help: "Calls refused with 402 because the tenant's credit could not cover the hold.",
		}, []string{"tenant", "model"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_call_duration_seconds",
			Help:    "Time from receiving a call to its last byte (streams included).",
			Buckets: latencyBuckets,
		}, []string{"endpoint", "model", "stream"}),
		overheadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_gateway_overhead_seconds",
			Help:    "Time a call spent in the gateway itself (total minus upstream), for calls that reached an upstream.",
			Buckets: overheadBuckets,
		}, []string{"endpoint", "stream"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_tokens_total",
			Help: "Tokens billed, by model, tenant and kind (prompt or completion).",
		}, []string{"model", "tenant", "kind"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_spend_usd_total",
			Help: "USD billed to tenants (a float view for dashboards; the ledger is exact).",
		}, []string{"model", "tenant"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_upstream_attempts_total",
			Help: "Upstream attempts, by channel, provider and outcome (ok, rate_limited, quota, timeout, client_error, server_error, unreachable, other).",
		}, []string{"channel", "provider", "outcome"}),
		upstreamSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_upstream_duration_seconds",
			Help:    "Duration of one upstream attempt, by channel and provider.",
			Buckets: latencyBuckets,
		}, []string{"channel", "provider"}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_store_op_seconds",
			Help:    "Duration of store operations (reserve, settle, release, …).",
			Buckets: storeBuckets,
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_store_errors_total",
			Help: "Store operations that failed.",
		}, []string{"op"}),
		holds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_holds_outstanding",
			Help: "Holds reserved and not yet settled or released.",
		}),
		streamsParked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_streams_parked",
			Help: "Streams waiting on a quiet upstream with no goroutine of their own.",
		}),
		streamParks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_stream_parks_total",
			Help: "Times a stream parked while its upstream was quiet.",
		}),
		holdsUSD: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_holds_outstanding_usd",
			Help: "USD reserved by outstanding holds.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_rate_limited_total",
			Help: "Calls refused with 429, by scope (key, tenant) and limit (requests, tokens, streams).",
		}, []string{"scope", "limit"}),

		models:    newLabelSet(maxModels),
		tenants:   newLabelSet(maxTenants),
		channels:  newLabelSet(maxChannels),
		providers: newLabelSet(maxProviders),
		endpoints: newLabelSet(maxEndpoints),
		ops:       newLabelSet(maxOps),
		scopes:    newLabelSet(maxScopes),
		limits:    newLabelSet(maxScopes),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.paymentRequired, m.callSeconds, m.overheadSeconds, m.tokens, m.spend,
		m.attempts, m.upstreamSeconds, m.storeSeconds, m.storeErrors, m.holds, m.holdsUSD, m.streamsParked, m.streamParks,
		m.rateLimited,
	)
	return m
}

// Registry lets other packages add collectors to the same scrape (for example
// collectors.NewDBStatsCollector for the store's connection pool).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format for GET /metrics,
// and counts its own scrapes (promhttp_metric_handler_requests_total).
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
}

// callKey identifies the series one Call touches, after label values are bounded.
type callKey struct {
	endpoint, model, class, code string
	stream                       bool
}

// callSeries are the resolved children for a callKey: looking them up once per
// distinct key keeps Call to a map read and three atomic updates.
type callSeries struct {
	calls    prometheus.Counter
	latency  prometheus.Observer
	overhead prometheus.Observer
}

// Call records one answered /v1 call. model must be a catalog name (or "" when the
// request named none the catalog knows — never the raw request value); tenant is
// used only for the 402 counter. upstream is the time spent waiting on upstreams,
// zero when none was called; overhead is observed only for calls that reached one.
func (m *Metrics) Call(endpoint, model, tenant string, status int, stream bool, total, upstream time.Duration) {
	if m == nil {
		return
	}
	k := callKey{endpoint: m.endpoints.bound(endpoint), model: m.models.bound(model), stream: stream}
	k.class, k.code = statusLabels(status)
	s := m.callCache.get(k, m.resolveCall)
	s.calls.Inc()
	s.latency.Observe(max(total, 0).Seconds())
	if upstream > 0 {
		s.overhead.Observe(max(total-upstream, 0).Seconds())
	}
	if status == http.StatusPaymentRequired {
		m.paymentRequired.WithLabelValues(m.tenants.bound(tenant), k.model).Inc()
	}
}

func (m *Metrics) resolveCall(k callKey) *callSeries {
	stream := strconv.FormatBool(k.stream)
	return &callSeries{
		calls:    m.calls.WithLabelValues(k.endpoint, k.model, k.class, k.code),
		latency:  m.callSeconds.WithLabelValues(k.endpoint, k.model, stream),
		overhead: m.overheadSeconds.WithLabelValues(k.endpoint, stream),
	}
}

// nanosPerUSD converts the product's integer nano-USD to dollars.
const nanosPerUSD = 1e9

// Usage records what one call billed. Spend is exported as float USD because
// Prometheus counters are floats; that rounding is acceptable for dashboards only —
// money in the product (holds, ledger, balances) stays integer nano-USD.
func (m *Metrics) Usage(model, tenant string, promptTokens, completionTokens int64, costNanos int64) {
	if m == nil {
		return
	}
	model, tenant = m.models.bound(model), m.tenants.bound(tenant)
	if promptTokens > 0 {
		m.tokenCache.get([3]string{model, tenant, "prompt"}, m.resolveTokens).Add(float64(promptTokens))
	}
	if completionTokens > 0 {
		m.tokenCache.get([3]string{model, tenant, "completion"}, m.resolveTokens).Add(float64(completionTokens))
	}
	if costNanos > 0 { // a counter only goes up; corrections live in the ledger
		m.spendCache.get([2]string{model, tenant}, m.resolveSpend).Add(float64(costNanos) / nanosPerUSD)
	}
}

// The resolve functions look a cache's missing series up in its vector, once.
func (m *Metrics) resolveTokens(k [3]string) prometheus.Counter {
	return m.tokens.WithLabelValues(k[:]...)
}

func (m *Metrics) resolveSpend(k [2]string) prometheus.Counter {
	return m.spend.WithLabelValues(k[:]...)
}

func (m *Metrics) resolveStoreOp(op string) prometheus.Observer {
	return m.storeSeconds.WithLabelValues(op)
}

// Attempt records one try of an upstream channel: status is the upstream's HTTP
// status, or 0 when no answer came (connection refused, reset).
func (m *Metrics) Attempt(channel, provider string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := m.attemptCache.get([3]string{m.channels.bound(channel), m.providers.bound(provider), attemptOutcome(status)}, m.resolveAttempt)
	s.attempts.Inc()
	s.seconds.Observe(max(d, 0).Seconds())
}

type attemptSeries struct {
	attempts prometheus.Counter
	seconds  prometheus.Observer
}

func (m *Metrics) resolveAttempt(k [3]string) *attemptSeries {
	return &attemptSeries{attempts: m.attempts.WithLabelValues(k[0], k[1], k[2]), seconds: m.upstreamSeconds.WithLabelValues(k[0], k[1])}
}

// StoreOp records one store operation's duration, and counts it as an error when
// err is set (pass nil for expected answers such as "not found").
func (m *Metrics) StoreOp(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	op = m.ops.bound(op)
	m.storeCache.get(op, m.resolveStoreOp).Observe(max(d, 0).Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// SetHoldsOutstanding publishes the number and total of unsettled holds (read from
// the store periodically), so a leak of holds shows on a dashboard.
func (m *Metrics) SetHoldsOutstanding(count int64, totalNanos int64) {
	if m == nil {
		return
	}
	m.holds.Set(float64(count))
	m.holdsUSD.Set(float64(totalNanos) / nanosPerUSD)
}

// StreamParked counts a stream that parks (true) or wakes (false) in the streams
// parked now.
func (m *Metrics) StreamParked(parked bool) {
	if m == nil {
		return
	}
	if parked {
		m.streamsParked.Inc()
		return
	}
	m.streamsParked.Dec()
}

// StreamPark counts one park in the total; a stream that was about to park but
// could not (its upstream spoke first) is not counted.
func (m *Metrics) StreamPark() {
	if m != nil {
		m.streamParks.Inc()
	}
}

// RateLimited counts one 429: scope is what was limited ("key", "tenant") and limit
// which allowance ran out ("requests", "tokens", "streams").
func (m *Metrics) RateLimited(scope, limit string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(m.scopes.bound(scope), m.limits.bound(limit)).Inc()
}

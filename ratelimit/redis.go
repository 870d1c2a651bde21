package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultLeaseTTL is how long a stream slot survives without renewal. It is the bound
// on how long a crashed node's slots keep counting against a subject.
const DefaultLeaseTTL = 30 * time.Second

// Redis is a Limiter shared by every gateway node: each decision is one Lua script
// run atomically on one key, so counts are exact across nodes. Every script touches
// the one key it declares, so the layout also suits Redis Cluster (only a single
// Redis server is tested).
//
// Buckets use the caller's `now`, so node clocks should be NTP-synced: a node whose
// clock runs ahead refills early by its skew, and a bucket's time never moves back.
// Stream slots are leases timed by the Redis server's own clock (immune to node skew):
// a held slot is renewed every LeaseTTL/3 while its stream runs, so a node that
// crashes or loses Redis frees its slots at most LeaseTTL after its last renewal.
// The converse: if a live node cannot renew for longer than LeaseTTL, its running
// streams lose their slots and the limit is briefly exceeded; streams are never cut.
// Requires Redis 5 or later (scripts that read TIME before writing).
type Redis struct {
	// LeaseTTL bounds how long a crashed node's stream slots survive; set it before
	// first use (DefaultLeaseTTL when zero). Renewals run every LeaseTTL/3.
	LeaseTTL time.Duration

	client redis.UniversalClient
	prefix string
	node   string // this instance's lease-id prefix
	seq    atomic.Uint64

	mu       sync.Mutex
	leases   map[*lease]struct{} // slots held by this node, renewed in the background
	renewing bool
	halted   bool       // tests: behave as if the node had crashed (stop renewing)
	renewMu  sync.Mutex // held during a round of renewals, so halt can wait one out
}

type lease struct{ key, id string }

// NewRedis returns a limiter storing its state under keys starting with prefix (e.g.
// "tollgate:"), so one Redis can serve several deployments. It accepts a
// *redis.Client, and also a cluster or ring client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Redis{client: client, prefix: prefix, node: hex.EncodeToString(b[:]), leases: map[*lease]struct{}{}}
}

func (r *Redis) leaseTTL() time.Duration {
	if r.LeaseTTL > 0 {
		return r.LeaseTTL
	}
	return DefaultLeaseTTL
}

func (r *Redis) bucketKey(subject string) string { return r.prefix + "rl:" + subject }
func (r *Redis) streamKey(subject string) string { return r.prefix + "st:" + subject }

// bucketPrelude loads and refills both buckets of one subject; it mirrors refill()
// in ratelimit.go. A key expires one window after its buckets would be full again:
// the slack keeps a debt visible to a node whose clock lags, as Memory's sweep does. The hash holds rd/rl (requests deficit in request·ms, last update
// in unix ms) and td/tl for tokens. ARGV[1] is now (ms), ARGV[2] and ARGV[3] the
// requests and tokens limits (0 = unlimited). Numbers stay below 2^53, where Lua's
// doubles are exact, and are written with %.0f so the stored text is always a plain
// integer.
const bucketPrelude = `
local W = 60000
local now = tonumber(ARGV[1])
local lim = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local f = {{'rd', 'rl'}, {'td', 'tl'}}
local raw = redis.call('HMGET', KEYS[1], 'rd', 'rl', 'td', 'tl')
local def, last = {}, {}
for i = 1, 2 do
  local d = tonumber(raw[2*i-1]) or 0
  local t = tonumber(raw[2*i]) or now
  if lim[i] > 0 then
    local e = now - t
    if e > 0 then
      if d > 0 then
        if e * lim[i] >= d then d = 0 else d = d - e * lim[i] end
      end
      t = now
    end
  end
  def[i], last[i] = d, t
end

local function store()
  local owed, idle = false, 0
  local args = {}
  for i = 1, 2 do
    if lim[i] > 0 then
      args[#args+1] = f[i][1]; args[#args+1] = string.format('%.0f', def[i])
      args[#args+1] = f[i][2]; args[#args+1] = string.format('%.0f', last[i])
      if def[i] > 0 then
        owed = true
        local full = last[i] + math.ceil(def[i] / lim[i]) + 1 - now
        if full > idle then idle = full end
      end
    end
  end
  if not owed then
    redis.call('DEL', KEYS[1])
    return
  end
  redis.call('HSET', KEYS[1], unpack(args))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', idle + W))
end

local function charge(i, cost)
  local d = def[i] + cost * W
  if d > 1000000000000000 then d = 1000000000000000 end
  if d < 0 then d = 0 end
  def[i] = d
end
`

// allowScript admits one request costing ARGV[4] tokens when both buckets have room,
// and answers {allowed, requests deficit, tokens deficit, requests shortfall, tokens
// shortfall} — the fields of outcome.
var allowScript = redis.NewScript(bucketPrelude + `
local cost = {1, tonumber(ARGV[4])}
local short = {0, 0}
local ok = 1
for i = 1, 2 do
  if lim[i] > 0 then
    local c = cost[i]
    if c > lim[i] then c = lim[i] end
    short[i] = def[i] + c * W - lim[i] * W
    if short[i] > 0 then ok = 0 end
  end
end
if ok == 1 then
  for i = 1, 2 do
    if lim[i] > 0 then charge(i, cost[i]) end
  end
  store()
end
return {ok, def[1], def[2], short[1], short[2]}
`)

// adjustScript adds ARGV[4] tokens (negative to refund) to the tokens bucket.
var adjustScript = redis.NewScript(bucketPrelude + `
charge(2, tonumber(ARGV[4]))
store()
return 1
`)

// acquireScript takes a stream slot: it drops expired leases, and adds lease ARGV[3]
// expiring ARGV[2] ms from now (Redis's clock) when fewer than ARGV[1] are held.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// renewScript extends the leases ARGV[2..] still present by ARGV[1] ms; a lease
// already removed (expired and collected) stays gone. The key's own expiry follows,
// so a subject's set vanishes once none of its leases is renewed.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    n = n + 1
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`)

func backendErr(op, subject string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrBackend, op, subject, err)
}

// Allow implements Limiter with one script run.
func (r *Redis) Allow(ctx context.Context, subject string, l Limits, tokens int64, now time.Time) (Decision, error) {
	rpm, tpm := normalize(l.RequestsPerMinute), normalize(l.TokensPerMinute)
	if rpm == 0 && tpm == 0 {
		return Decision{Allowed: true}, nil
	}
	cost := max(0, clampCost(tokens))
	res, err := allowScript.Run(ctx, r.client, []string{r.bucketKey(subject)}, now.UnixMilli(), rpm, tpm, cost).Int64Slice()
	if err != nil {
		return Decision{}, backendErr("allow", subject, err)
	}
	if len(res) != 5 {
		return Decision{}, backendErr("allow", subject, fmt.Errorf("unexpected reply %v", res))
	}
	o := outcome{allowed: res[0] == 1, defReq: res[1], defTok: res[2], shortReq: res[3], shortTok: res[4]}
	return o.decision(rpm, tpm), nil
}

// Adjust implements Limiter with one script run.
func (r *Redis) Adjust(ctx context.Context, subject string, l Limits, delta int64, now time.Time) error {
	tpm := normalize(l.TokensPerMinute)
	if tpm == 0 || delta == 0 {
		return nil
	}
	rpm := normalize(l.RequestsPerMinute)
	if err := adjustScript.Run(ctx, r.client, []string{r.bucketKey(subject)}, now.UnixMilli(), rpm, tpm, clampCost(delta)).Err(); err != nil {
		return backendErr("adjust", subject, err)
	}
	return nil
}

// Acquire implements Limiter with a lease that this node renews until release.
// Release removes the lease at once; if that fails (Redis unreachable) the lease
// still expires within LeaseTTL.
func (r *Redis) Acquire(ctx context.Context, subject string, l Limits) (func(), bool, error) {
	limit := normalize(l.ConcurrentStreams)
	if limit == 0 {
		return noop, true, nil
	}
	ttl := r.leaseTTL()
	ls := &lease{key: r.streamKey(subject), id: r.node + "-" + strconv.FormatUint(r.seq.Add(1), 36)}
	got, err := acquireScript.Run(ctx, r.client, []string{ls.key}, limit, ttl.Milliseconds(), ls.id).Int64()
	if err != nil {
		return noop, false, backendErr("acquire", subject, err)
	}
	if got != 1 {
		return noop, false, nil
	}
	r.hold(ls)
	var done atomic.Bool
	return func() {
		if !done.CompareAndSwap(false, true) {
			return
		}
		r.mu.Lock()
		delete(r.leases, ls)
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.client.ZRem(ctx, ls.key, ls.id).Err() // on failure the lease expires by itself
	}, true, nil
}

// hold registers a lease for renewal, starting the renewal loop if it is idle.
func (r *Redis) hold(ls *lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leases[ls] = struct{}{}
	if !r.renewing && !r.halted {
		r.renewing = true
		go r.renewLoop(r.leaseTTL())
	}
}

// renewLoop extends this node's leases every ttl/3, one script run per subject,
// pipelined; it exits when the node holds no lease.
func (r *Redis) renewLoop(ttl time.Duration) {
	tick := time.NewTicker(max(ttl/3, time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		if !r.renewRound(ttl) {
			return
		}
	}
}

// renewRound renews every lease held once; false means there is nothing left to
// renew (or the node is halted) and the loop should end.
func (r *Redis) renewRound(ttl time.Duration) bool {
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
	r.mu.Lock()
	if len(r.leases) == 0 || r.halted {
		r.renewing = false
		r.mu.Unlock()
		return false
	}
	byKey := map[string][]any{}
	for ls := range r.leases {
		byKey[ls.key] = append(byKey[ls.key], ls.id)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
	defer cancel()
	r.renew(ctx, ttl, byKey)
	return true
}

func (r *Redis) renew(ctx context.Context, ttl time.Duration, byKey map[string][]any) {
	run := func() error {
		pipe := r.client.Pipeline()
		for key, ids := range byKey {
			renewScript.EvalSha(ctx, pipe, []string{key}, append([]any{ttl.Milliseconds()}, ids...)...)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	if err := run(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		if renewScript.Load(ctx, r.client).Err() == nil {
			_ = run()
		}
	}
	// Other errors: the next tick tries again; ttl/3 leaves two more chances before
	// a lease lapses.
}

// halt makes this instance behave like a crashed node: it stops renewing its leases
// (without releasing them), and returns once no renewal is in flight. Tests only.
func (r *Redis) halt() {
	r.mu.Lock()
	r.halted = true
	r.mu.Unlock()
	r.renewMu.Lock()
	defer r.renewMu.Unlock()
}

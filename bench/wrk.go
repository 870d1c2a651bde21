package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// wrkScript makes wrk POST one chat call per request. Each connection stops sending
// when the measuring window ends (delay() keeps it idle from then on), so when wrk
// exits a moment later no call is in flight: every answer the gateway served and
// billed was also counted here. LuaJIT's ffi gives the monotonic clock.
const wrkScript = `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"

local window_ms = %d
local stop_at

function delay()
  local t = now_ms()
  stop_at = stop_at or t + window_ms
  if t < stop_at then return 0 end
  return 3600000 -- the window is over: stay idle until wrk exits
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("tollgate-bench requests=%%d non2xx=%%d socket_errors=%%d p50_us=%%d p99_us=%%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// drain is how long wrk runs on after the window, for the calls in flight to end.
const drain = time.Second

var wrkSummary = regexp.MustCompile(`tollgate-bench requests=(\d+) non2xx=(\d+) socket_errors=(\d+) p50_us=(\d+) p99_us=(\d+)`)

// runWrk drives url with wrk over conns connections for d, two threads.
func runWrk(dir, url, key string, body []byte, conns int, d time.Duration) (*result, error) {
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, body, key, d.Milliseconds()), 0o600); err != nil {
		return nil, err
	}
	seconds := int(math.Ceil((d + drain).Seconds()))
	threads := min(2, conns)
	// #nosec G204 -- wrk with the benchmark's own arguments and script
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(seconds)+"s",
		"--timeout", "30s", "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	m := wrkSummary.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("wrk printed no summary:\n%s", out)
	}
	n := make([]int64, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.ParseInt(string(m[i]), 10, 64) // the pattern matched digits
	}
	return &result{ok: n[1] - n[2], errors: n[2] + n[3], elapsed: d,
		p50: time.Duration(n[4]) * time.Microsecond, p99: time.Duration(n[5]) * time.Microsecond}, nil
}

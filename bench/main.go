// Command bench is Tollgate's load benchmark: it starts the in-repo fake OpenAI
// upstream and a gateway in front of it (SQLite store, billing on), then measures in
// one run direct-to-upstream against through-Tollgate, for plain and streaming calls.
//
//	go run ./bench -duration 5s -concurrency 32
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

const benchModel = "bench-model"

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each scenario runs")
	concurrency := flag.Int("concurrency", 32, "concurrent clients in the loaded scenarios")
	chunks := flag.Int("chunks", 20, "content chunks per streamed answer")
	flag.Parse()
	if err := run(*duration, *concurrency, *chunks); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// setup is the upstream and the gateway under test.
type setup struct {
	upstreamURL string // .../v1
	gatewayURL  string // .../v1
	key         string
	store       *store.Store
	tenantID    string
}

func run(duration time.Duration, concurrency, chunks int) error {
	ctx := context.Background()
	s, cleanup, err := start(ctx, chunks)
	if err != nil {
		return err
	}
	defer cleanup()

	plain := []byte(`{"model":"` + benchModel + `","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}`)
	stream := []byte(`{"model":"` + benchModel + `","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16,"stream":true}`)
	// The fake reads the model only to echo it, so the same body serves both targets.
	type scenario struct {
		name  string
		body  []byte
		conns int
	}
	scenarios := []scenario{
		{"plain, 1 connection", plain, 1},
		{"stream, 1 connection", stream, 1},
		{fmt.Sprintf("plain, %d connections", concurrency), plain, concurrency},
		{fmt.Sprintf("stream (%d chunks), %d connections", chunks, concurrency), stream, concurrency},
	}
	fmt.Printf("Tollgate load benchmark — %s, %d CPUs, %s per scenario, SQLite store, billing on\n\n", time.Now().UTC().Format("2006-01-02"), numCPU(), duration)
	fmt.Printf("%-34s %-8s %10s %9s %9s %7s\n", "scenario", "target", "calls/s", "p50", "p99", "errors")
	var served2xx int64
	for _, sc := range scenarios {
		direct := load(s.upstreamURL, "sk-direct", sc.body, sc.conns, duration)
		cpuBefore := processCPU()
		through := load(s.gatewayURL, s.key, sc.body, sc.conns, duration)
		cpu := processCPU() - cpuBefore
		served2xx += through.ok
		direct.print(sc.name, "direct")
		through.print(sc.name, "tollgate")
		fmt.Printf("%-34s %-8s %9.2fx %+8.2fms %+8.2fms   cpu/call %s (whole process: gateway, fake and load generator)\n", "", "ratio",
			through.rps()/direct.rps(), ms(through.p(50)-direct.p(50)), ms(through.p(99)-direct.p(99)), perCall(cpu, through.ok))
	}
	records, debits, err := countBilled(ctx, s)
	if err != nil {
		return err
	}
	fmt.Printf("\nbilling check: %d 2xx answers, %d usage records, %d ledger debits", served2xx, records, debits)
	if records != served2xx || debits != served2xx {
		fmt.Println(" — MISMATCH")
		return errors.New("billing lost or duplicated calls")
	}
	fmt.Println(" — every served call billed exactly once")
	return nil
}

// start runs the fake upstream and the gateway on loopback listeners.
func start(ctx context.Context, chunks int) (*setup, func(), error) {
	fake := providertest.NewOpenAIHandler()
	fake.SetRecording(false)
	fake.SetBehavior(providertest.Behavior{Chunks: chunks, Text: "Hello there! This is a benchmark reply, streamed in small pieces."})
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	upSrv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	go upSrv.Serve(upLn)

	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return nil, nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(dir, "tollgate.db"), SecretKey: secret})
	if err != nil {
		return nil, nil, err
	}
	upstreamURL := "http://" + upLn.Addr().String() + "/v1"
	s := &setup{upstreamURL: upstreamURL, store: st}
	name, provider := "fake", "openai-compatible"
	models := []string{benchModel}
	if _, err := st.CreateChannel(ctx, store.ChannelInput{Name: &name, Provider: &provider, BaseURL: &upstreamURL, Models: &models}); err != nil {
		return nil, nil, err
	}
	if err := st.PutPrice(ctx, billing.Price{Model: benchModel, Input: 150_000, Output: 600_000, ContextWindow: 128_000, MaxOutput: 16_384}); err != nil {
		return nil, nil, err
	}
	ten, err := st.CreateTenant(ctx, "bench")
	if err != nil {
		return nil, nil, err
	}
	s.tenantID = ten.ID
	if _, _, err := st.Topup(ctx, ten.ID, store.MaxTopup, "bench", "bench"); err != nil {
		return nil, nil, err
	}
	if _, s.key, err = st.CreateKey(ctx, store.NewKey{TenantID: ten.ID, Name: "bench"}); err != nil {
		return nil, nil, err
	}
	gw, err := router.New(ctx, router.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowPrivateUpstreams: true}, st)
	if err != nil {
		return nil, nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.Use(router.RequestID, router.Recover(slog.Default()))
	gw.Register(e)
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	gwSrv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go gwSrv.Serve(gwLn)
	s.gatewayURL = "http://" + gwLn.Addr().String() + "/v1"
	billing.CountTokens("gpt-4o", "warm up") // load the tokenizer before measuring
	return s, func() {
		// Teardown after the run: its errors change nothing the benchmark reports.
		_ = gwSrv.Close()
		_ = upSrv.Close()
		fake.Shutdown()
		_ = st.Close()
		_ = os.RemoveAll(dir)
	}, nil
}

// result is one scenario's outcome against one target.
type result struct {
	ok, errors int64
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r *result) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *result) p(q int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[(len(r.latencies)-1)*q/100]
}

func (r *result) print(name, target string) {
	fmt.Printf("%-34s %-8s %10.0f %8.2fms %8.2fms %7d\n", name, target, r.rps(), ms(r.p(50)), ms(r.p(99)), r.errors)
}

// load runs conns clients in closed loops for d, each reading every answer whole.
func load(baseURL, key string, body []byte, conns int, d time.Duration) *result {
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	url := baseURL + "/chat/completions"
	var ok, failed atomic.Int64
	lat := make([][]time.Duration, conns)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close() // the body was read to the end; err above decides
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	r := &result{ok: ok.Load(), errors: failed.Load(), elapsed: time.Since(start)}
	for _, l := range lat {
		r.latencies = append(r.latencies, l...)
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r
}

// countBilled counts the served calls the store recorded and the debits it made.
func countBilled(ctx context.Context, s *setup) (records, debits int64, err error) {
	var before int64
	for {
		recs, err := s.store.Calls(ctx, store.CallFilter{TenantID: s.tenantID, Status: 200, Before: before, Limit: 1000})
		if err != nil {
			return 0, 0, err
		}
		records += int64(len(recs))
		if len(recs) < 1000 {
			break
		}
		before = recs[len(recs)-1].ID
	}
	before = 0
	for {
		entries, err := s.store.LedgerPage(ctx, s.tenantID, before, 1000)
		if err != nil {
			return 0, 0, err
		}
		for _, e := range entries {
			if e.Kind == store.LedgerUsage {
				debits++
			}
		}
		if len(entries) < 1000 {
			break
		}
		before = entries[len(entries)-1].ID
	}
	return records, debits, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perCall(cpu time.Duration, calls int64) string {
	if calls == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0fµs", float64(cpu.Microseconds())/float64(calls))
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func numCPU() int {
	n := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = bytes.Count(b, []byte("processor\t:"))
	}
	return n
}

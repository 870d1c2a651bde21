// Command bench is Tollgate's load benchmark. It builds the gateway and the fake
// upstream, runs each as its own process (`tollgate serve` on SQLite with billing on,
// in front of `fakeupstream`), and measures direct-to-upstream against
// through-Tollgate: plain and streaming calls, unloaded (1 connection, Go client) and
// loaded (wrk), the gateway's CPU per call and memory, and idle streams held open.
// Unloaded calls also go through a reference relay (relay.go), which shows what any
// relaying process adds on the host of the moment.
// After the gateway has stopped (SIGTERM) it checks that every 2xx answer was billed
// exactly once. See bench/README.md.
//
//	go run ./bench -duration 5s -concurrency 32
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/bench/idlestreams"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

const (
	benchModel = "bench-model" // served by the fake that answers at once
	idleModel  = "bench-idle"  // served by the fake that goes silent after one chunk
)

type config struct {
	duration    time.Duration
	concurrency int
	chunks      int
	idleStreams int
	load        string          // "wrk" or "go": the load generator of the loaded scenarios
	scenarios   map[string]bool // "unloaded", "loaded", "idle"
	profileDir  string          // where the gateway's pprof profiles go; "" takes none
}

func main() {
	if upstream := os.Getenv(relayEnv); upstream != "" {
		if err := serveRelay(upstream); err != nil {
			fmt.Fprintln(os.Stderr, "bench relay:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each scenario runs, direct and again through Tollgate")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "connections in the loaded scenarios")
	flag.IntVar(&cfg.chunks, "chunks", 20, "content chunks per streamed answer")
	flag.IntVar(&cfg.idleStreams, "idle-streams", 10000, "idle streams to hold open through the gateway (0 skips them)")
	flag.StringVar(&cfg.load, "load", "wrk", "load generator of the loaded scenarios: wrk, or go (the built-in client; used when wrk is missing)")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "save the gateway's pprof profiles here: CPU during each loaded run through it, heap and goroutines with the idle streams held")
	scenarios := flag.String("scenarios", "unloaded,loaded,idle", "which scenarios to run, comma-separated")
	flag.Parse()
	cfg.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "unloaded" && s != "loaded" && s != "idle" {
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (want unloaded, loaded, idle)\n", s)
			os.Exit(2)
		}
		cfg.scenarios[s] = true
	}
	if cfg.idleStreams <= 0 {
		delete(cfg.scenarios, "idle")
	}
	if cfg.load != "wrk" && cfg.load != "go" || cfg.concurrency < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -load must be wrk or go, -concurrency at least 1, -duration positive")
		os.Exit(2)
	}
	if _, err := exec.LookPath("wrk"); cfg.load == "wrk" && err != nil {
		fmt.Println("wrk is not installed (apt-get install wrk): the loaded scenarios use the Go client")
		cfg.load = "go"
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenario is one kind of call at one concurrency, run direct and through Tollgate.
type scenario struct {
	name  string
	body  []byte
	conns int
	wrk   bool // loaded with wrk rather than the Go client
}

func chatBody(model string, stream bool) []byte {
	return fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16,"stream":%t}`, model, stream)
}

// run starts the processes, runs the scenarios, stops the gateway and checks billing.
// It returns an error for everything the benchmark enforces: a broken billing check,
// any answer that was not 2xx, idle streams over the memory target.
func run(cfg config) error {
	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tollgateBin, fakeBin, err := build(dir)
	if err != nil {
		return err
	}
	fake, fakeURL, err := startFake(fakeBin, dir, "fakeupstream", "--chunks", fmt.Sprint(cfg.chunks),
		"--text", "Hello there! This is a benchmark reply, streamed in small pieces.")
	if err != nil {
		return err
	}
	defer fake.stop(5 * time.Second)
	routes := []route{{benchModel, fakeURL}}
	if cfg.scenarios["idle"] {
		idleFake, idleURL, err := startFake(fakeBin, dir, "fakeupstream-idle", "--stall-after", "1")
		if err != nil {
			return err
		}
		defer idleFake.stop(5 * time.Second)
		routes = append(routes, route{idleModel, idleURL})
	}
	var relayURL string // the reference relay's; it serves the unloaded scenarios only
	if cfg.scenarios["unloaded"] {
		relay, u, err := startRelay(dir, fakeURL)
		if err != nil {
			return err
		}
		defer relay.stop(5 * time.Second)
		relayURL = u
	}
	gw, err := setupGateway(tollgateBin, dir, routes)
	if err != nil {
		return err
	}
	if err := gw.serve(tollgateBin, dir); err != nil {
		return err
	}
	defer gw.stop(5 * time.Second) // on an early return; a clean run stopped it already

	fmt.Printf("Tollgate load benchmark — %s, %d CPUs, %s per scenario and target (direct, Tollgate); loaded scenarios: %s\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cfg.duration, cfg.load)
	fmt.Printf("gateway: tollgate serve (pid %d), SQLite store, billing on, access log off; fake upstream in its own process\n", gw.pid())
	if relayURL != "" {
		fmt.Println("unloaded scenarios also run through a reference relay: Go's httputil.ReverseProxy in its own process, no auth or billing")
	}
	fmt.Println()

	var rep report
	var scenarios []scenario
	plain, stream := chatBody(benchModel, false), chatBody(benchModel, true)
	if cfg.scenarios["unloaded"] {
		scenarios = append(scenarios, scenario{"plain, 1 connection", plain, 1, false},
			scenario{fmt.Sprintf("stream (%d chunks), 1 connection", cfg.chunks), stream, 1, false})
	}
	if cfg.scenarios["loaded"] {
		scenarios = append(scenarios, scenario{fmt.Sprintf("plain, %d connections", cfg.concurrency), plain, cfg.concurrency, cfg.load == "wrk"},
			scenario{fmt.Sprintf("stream (%d chunks), %d connections", cfg.chunks, cfg.concurrency), stream, cfg.concurrency, cfg.load == "wrk"})
	}
	if len(scenarios) > 0 {
		printHeader()
	}
	for _, sc := range scenarios {
		r, err := measure(dir, sc, fakeURL, relayURL, gw, cfg.duration, cfg.profileDir)
		if err != nil {
			return err
		}
		rep.rows = append(rep.rows, r)
		r.print()
	}
	if cfg.scenarios["loaded"] {
		rss, err := idlestreams.RSS(gw.pid())
		if err != nil {
			return err
		}
		fmt.Printf("gateway resident memory after the loaded scenarios: %s\n", mb(rss))
	}
	if cfg.scenarios["idle"] {
		fmt.Println()
		rep.idle, err = runIdle(gw, cfg.idleStreams, cfg.profileDir)
		if err != nil {
			return err
		}
		rep.idle.print()
	}

	// SIGTERM: the gateway stops accepting, lets calls finish, settles and flushes.
	if err := gw.stop(90 * time.Second); err != nil {
		return err
	}
	rep.billing, err = countBilled(gw)
	if err != nil {
		return err
	}
	rep.billing.served = rep.served2xx()
	rep.billing.print()
	return rep.verdict()
}

// measure runs one scenario direct to the fake, through the reference relay (unloaded
// only, when relayURL is set) and through the gateway, reading the gateway's CPU time
// around the last run (and its CPU profile, when profileDir is set).
func measure(dir string, sc scenario, fakeURL, relayURL string, gw *gateway, d time.Duration, profileDir string) (row, error) {
	drive := func(url, key string) (*result, error) {
		if sc.wrk {
			return runWrk(dir, url, key, sc.body, sc.conns, d)
		}
		return loadGo(url, key, sc.body, sc.conns, d), nil
	}
	direct, err := drive(fakeURL+"/chat/completions", "sk-direct")
	if err != nil {
		return row{}, err
	}
	var relayed *result
	if sc.conns == 1 && relayURL != "" {
		if relayed, err = drive(relayURL+"/chat/completions", "sk-direct"); err != nil {
			return row{}, err
		}
	}
	cpu0, err := cpuTime(gw.pid())
	if err != nil {
		return row{}, err
	}
	var profile chan error
	if profileDir != "" && sc.conns > 1 {
		profile = make(chan error, 1)
		go func() { profile <- gw.saveProfile(profileDir, "cpu-"+slug(sc.name), d) }()
	}
	through, err := drive(gw.url+"/v1/chat/completions", gw.key)
	if err != nil {
		return row{}, err
	}
	if profile != nil {
		if err := <-profile; err != nil {
			return row{}, err
		}
	}
	cpu1, err := cpuTime(gw.pid())
	if err != nil {
		return row{}, err
	}
	through.cpu = cpu1 - cpu0
	return row{scenario: sc, direct: direct, relayed: relayed, through: through}, nil
}

// billed is what the store recorded for the bench tenant, read after the gateway
// stopped, against the 2xx answers the clients got.
type billed struct {
	served, records, debits int64
	held                    billing.Nanos
}

// countBilled opens the stopped gateway's database and counts the served calls it
// recorded (status 200) and the usage debits in the ledger.
func countBilled(gw *gateway) (billed, error) {
	ctx := context.Background()
	var b billed
	keyHex, err := os.ReadFile(filepath.Join(gw.dataDir, "secret.key"))
	if err != nil {
		return b, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(keyHex)))
	if err != nil {
		return b, fmt.Errorf("secret.key: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(gw.dataDir, "tollgate.db"), SecretKey: key})
	if err != nil {
		return b, err
	}
	defer st.Close()
	for before := int64(0); ; {
		recs, err := st.Calls(ctx, store.CallFilter{TenantID: gw.tenantID, Status: 200, Before: before, Limit: 1000})
		if err != nil {
			return b, err
		}
		b.records += int64(len(recs))
		if len(recs) < 1000 {
			break
		}
		before = recs[len(recs)-1].ID
	}
	for before := int64(0); ; {
		entries, err := st.LedgerPage(ctx, gw.tenantID, before, 1000)
		if err != nil {
			return b, err
		}
		for _, e := range entries {
			if e.Kind == store.LedgerUsage {
				b.debits++
			}
		}
		if len(entries) < 1000 {
			break
		}
		before = entries[len(entries)-1].ID
	}
	t, err := st.Tenant(ctx, gw.tenantID)
	if err != nil {
		return b, err
	}
	b.held = t.Held
	return b, nil
}

func (b billed) ok() bool { return b.records == b.served && b.debits == b.served && b.held == 0 }

func (b billed) print() {
	fmt.Printf("\nbilling check (database read after SIGTERM): %s 2xx answers, %s usage records, %s ledger debits, %s USD still held",
		count(b.served), count(b.records), count(b.debits), b.held.String())
	if b.ok() {
		fmt.Println(" — every served call billed exactly once")
	} else {
		fmt.Println(" — MISMATCH")
	}
}

var errFailed = errors.New("the benchmark failed (see above)")

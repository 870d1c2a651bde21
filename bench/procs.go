package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The benchmark runs the real binaries, each in its own process: one or two fake
// upstreams and `tollgate serve`, so the gateway's CPU and memory are its own.

const module = "github.com/tollgate-gw/tollgate"

// build compiles the gateway and the fake upstream into dir (no race detector).
func build(dir string) (tollgate, fake string, err error) {
	tollgate, fake = filepath.Join(dir, "tollgate"), filepath.Join(dir, "fakeupstream")
	// #nosec G204 -- this module's own commands, built into the benchmark's temp dir
	out, err := exec.Command("go", "build", "-o", dir+"/", module+"/cmd/tollgate", module+"/cmd/fakeupstream").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return tollgate, fake, nil
}

// process is a child process whose output goes to a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// start runs bin with args and extra environment; the child dies with the benchmark.
func start(name, bin, logPath string, env []string, args ...string) (*process, error) {
	log, err := os.Create(logPath) // #nosec G304 -- a log file in the benchmark's temp dir
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own descriptor
	// #nosec G204 -- a binary the benchmark just built, with its own arguments
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &process{name: name, cmd: cmd, log: logPath}, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit, killing it after grace.
func (p *process) stop(grace time.Duration) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s exited: %v\n%s", p.name, err, p.tail())
		}
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill() // it overstayed; the error below says so
		<-done
		return fmt.Errorf("%s did not stop within %s of SIGTERM\n%s", p.name, grace, p.tail())
	}
}

// tail is the end of the process's log, for error messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var baseURL = regexp.MustCompile(`http://\S+/v1`)

// startFake runs a fake upstream on a free port and returns its base URL (…/v1).
func startFake(bin, dir, name string, args ...string) (*process, string, error) {
	p, err := start(name, bin, filepath.Join(dir, name+".log"), nil, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	if err != nil {
		return nil, "", err
	}
	return p.waitForURL()
}

// waitForURL waits for a server just started to print its base URL (…/v1).
func (p *process) waitForURL() (*process, string, error) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if url := baseURL.FindString(p.tail()); url != "" {
			return p, url, nil
		}
	}
	_ = p.stop(time.Second) // it never came up; the error below is what matters
	return nil, "", fmt.Errorf("%s printed no URL:\n%s", p.name, p.tail())
}

// gateway is the running `tollgate serve` and what the calls need.
type gateway struct {
	*process
	url        string // http://127.0.0.1:port
	addr       string // 127.0.0.1:port
	dataDir    string
	adminToken string
	tenantID   string
	key        string
}

// route is a model the gateway serves through one fake upstream.
type route struct{ model, upstreamURL string }

// setupGateway prepares a data directory with the CLI before the server starts: a
// tenant with plenty of credit, a key, and per route a price and a channel.
func setupGateway(bin, dir string, routes []route) (*gateway, error) {
	g := &gateway{dataDir: filepath.Join(dir, "data"), adminToken: "bench-" + randomHex(16)}
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...) // #nosec G204 -- the tollgate binary the benchmark just built
		cmd.Env = append(os.Environ(), "TOLLGATE_DATA_DIR="+g.dataDir)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%v: %s", err, ee.Stderr)
			}
			return "", fmt.Errorf("tollgate %s: %w", strings.Join(args[:2], " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var err error
	if g.tenantID, err = cli("tenant", "create", "--name", "bench"); err != nil {
		return nil, err
	}
	if _, err = cli("topup", "--tenant", g.tenantID, "--amount", "1000000"); err != nil {
		return nil, err
	}
	if g.key, err = cli("key", "create", "--tenant", g.tenantID, "--name", "bench"); err != nil {
		return nil, err
	}
	for _, r := range routes {
		if _, err = cli("price", "set", "--model", r.model, "--input", "0.15", "--output", "0.6", "--context-window", "128000", "--max-output", "16384"); err != nil {
			return nil, err
		}
		if _, err = cli("channel", "add", "--name", r.model, "--provider", "openai-compatible", "--base-url", r.upstreamURL, "--models", r.model); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// serve starts the gateway (SQLite in the data directory, billing on, no access
// log) and waits until it is ready.
func (g *gateway) serve(bin, dir string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g.addr = ln.Addr().String()
	_ = ln.Close() // only wanted a free port
	g.url = "http://" + g.addr
	env := []string{"TOLLGATE_ADDR=" + g.addr, "TOLLGATE_DATA_DIR=" + g.dataDir, "TOLLGATE_ADMIN_TOKEN=" + g.adminToken,
		"TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=1", "TOLLGATE_LOG_LEVEL=warn", "TOLLGATE_ACCESS_LOG=false"}
	if g.process, err = start("tollgate", bin, filepath.Join(dir, "tollgate.log"), env, "serve"); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(g.url + "/readyz"); err == nil {
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	_ = g.stop(5 * time.Second) // it never became ready; the error below is what matters
	return fmt.Errorf("tollgate did not become ready:\n%s", g.tail())
}

// held reads the tenant's held credit through the admin API.
func (g *gateway) held(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.url+"/admin/api/v1/tenants/"+g.tenantID, nil)
	req.Header.Set("Authorization", "Bearer "+g.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		HeldUSD string `json:"held_usd"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.HeldUSD == "" {
		return "", fmt.Errorf("GET tenant: status %d, %v", resp.StatusCode, err)
	}
	return t.HeldUSD, nil
}

// goStats are Go runtime figures of the gateway: what its memory holds.
type goStats struct{ goroutines, heap, stacks, gcPercent int64 } // heap and stacks in use, bytes

// goStats reads the gateway's Go runtime figures from its Prometheus endpoint.
func (g *gateway) goStats() (goStats, error) {
	var s goStats
	req, _ := http.NewRequest(http.MethodGet, g.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+g.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	want := map[string]*int64{"go_goroutines": &s.goroutines, "go_memstats_heap_inuse_bytes": &s.heap, "go_memstats_stack_inuse_bytes": &s.stacks, "go_gc_gogc_percent": &s.gcPercent}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		if p := want[name]; p != nil {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return s, fmt.Errorf("/metrics %s: %w", name, err)
			}
			*p = int64(v)
		}
	}
	return s, sc.Err()
}

// cpuTime is the CPU (user + system) process pid has used, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces:
	// state is field 3, utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks()), nil
}

// clockTicks is sysconf(_SC_CLK_TCK), the unit of /proc/<pid>/stat's times: 100 on
// Linux unless getconf says otherwise.
var clockTicks = sync.OnceValue(func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

// saveProfile fetches one of the gateway's pprof profiles into dir/name.pprof: "cpu-…"
// is a CPU profile taken over d, any other name the profile of that name ("heap",
// "goroutine") as it is now.
func (g *gateway) saveProfile(dir, name string, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	kind, query := strings.SplitN(name, "-", 2)[0], ""
	switch kind {
	case "cpu":
		kind, query = "profile", fmt.Sprintf("?seconds=%d", max(1, int(d.Round(time.Second)/time.Second)))
	case "heap":
		query = "?gc=1" // what is live now, not at the last collection
	}
	req, _ := http.NewRequest(http.MethodGet, g.url+"/debug/pprof/"+kind+query, nil)
	req.Header.Set("Authorization", "Bearer "+g.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", name, resp.Status)
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof")) // #nosec G304 -- the operator's -profile-dir
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// slug turns a scenario name into a file-name part: "stream (20 chunks), 32 connections"
// becomes "stream-20-chunks-32-connections".
func slug(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}), "-")
}

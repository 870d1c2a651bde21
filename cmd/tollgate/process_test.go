package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// The crash and multi-node tests run the real binary as separate processes, so a
// SIGKILL is a real crash: nothing deferred runs, nothing in memory survives.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tollgateBinary builds the command once per test run.
func tollgateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tollgate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tollgate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one running `tollgate serve`.
type proc struct {
	t   *testing.T
	cmd *exec.Cmd
	url string
	log *lockedBuffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc runs the binary with the given environment and waits for /readyz.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(tollgateBinary(t), "serve")
	cmd.Env = append(os.Environ(), "TOLLGATE_ADDR="+addr, "TOLLGATE_LOG_LEVEL=warn", "TOLLGATE_ACCESS_LOG=false", "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=true")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: t, cmd: cmd, url: "http://" + addr, log: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tollgate did not become ready:\n%s", p.logs())
	return nil
}

func (p *proc) logs() string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return p.log.buf.String()
}

// kill ends the process with SIGKILL — a crash — and reaps it.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// admin calls the admin API of the process.
func (p *proc) admin(method, path string, body, out any) int {
	p.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, p.url+"/admin/api/v1"+path, r)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(raw, out) != nil {
		p.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// streamCall makes one streaming chat call and reports whether it saw [DONE].
func streamCall(ctx context.Context, baseURL, key string) (done bool, status int) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"count to forty"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return bytes.Contains(body, []byte("data: [DONE]")), resp.StatusCode
}

// ledgerState reads a tenant's balance, held credit and whole ledger through the API.
type ledgerState struct {
	balance, held string
	sum           int64 // Σ ledger amounts in nano-USD
	usageRefs     map[string]int
	usageEntries  int
}

func readLedger(p *proc, tenantID string) ledgerState {
	p.t.Helper()
	var ten struct {
		BalanceUSD string `json:"balance_usd"`
		HeldUSD    string `json:"held_usd"`
	}
	p.admin("GET", "/tenants/"+tenantID, nil, &ten)
	st := ledgerState{balance: ten.BalanceUSD, held: ten.HeldUSD, usageRefs: map[string]int{}}
	before := ""
	for {
		var page struct {
			Data []struct {
				AmountUSD string `json:"amount_usd"`
				Kind      string `json:"kind"`
				Ref       string `json:"ref"`
			} `json:"data"`
			NextBefore *int64 `json:"next_before"`
		}
		p.admin("GET", "/tenants/"+tenantID+"/ledger?limit=1000"+before, nil, &page)
		for _, e := range page.Data {
			st.sum += mustNanos(p.t, e.AmountUSD)
			if e.Kind == "usage" {
				st.usageRefs[e.Ref]++
				st.usageEntries++
			}
		}
		if page.NextBefore == nil || len(page.Data) == 0 {
			break
		}
		before = fmt.Sprintf("&before=%d", *page.NextBefore)
	}
	return st
}

func mustNanos(t *testing.T, usd string) int64 {
	t.Helper()
	n, err := billing.ParseUSD(usd)
	if err != nil {
		t.Fatalf("amount %q: %v", usd, err)
	}
	return int64(n)
}

// checkLedger asserts DESIGN.md §4 on a tenant: balance == Σ ledger, nothing held,
// no negative balance, and no hold billed twice.
func checkLedger(t *testing.T, st ledgerState) {
	t.Helper()
	if mustNanos(t, st.balance) != st.sum {
		t.Fatalf("balance %s != Σ ledger %d nano-USD", st.balance, st.sum)
	}
	if st.held != "0.000000000" {
		t.Fatalf("held %s after every hold should have been settled or swept", st.held)
	}
	if mustNanos(t, st.balance) < 0 {
		t.Fatalf("negative balance %s", st.balance)
	}
	for ref, n := range st.usageRefs {
		if n != 1 {
			t.Fatalf("hold %s billed %d times", ref, n)
		}
	}
}

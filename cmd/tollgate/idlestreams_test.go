package main

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/bench/idlestreams"
)

// startFakeUpstream builds cmd/fakeupstream and runs it as its own process (a fake in
// this process would add a goroutine per stream, past the race detector's limit). It
// returns the fake's base URL (…/v1).
func startFakeUpstream(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakeupstream")
	if out, err := exec.Command("go", "build", "-o", bin, "../fakeupstream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	go io.Copy(io.Discard, stdout)
	url := regexp.MustCompile(`https?://\S+/v1`).FindString(line)
	if url == "" {
		t.Fatalf("fakeupstream printed no URL: %q", line)
	}
	return url
}

// TestIdleStreamsMemory holds 10,000 streaming calls open through a `tollgate serve`
// process while the upstream, after one content chunk, stays silent, and measures the
// gateway's resident memory. Such streams detach from net/http and park, with no
// goroutine and no read buffers (router/detach.go): about 23 KB each, which meets
// issue 6's target of 300 MB on a fresh gateway. The limit below leaves room for the
// run-to-run spread of the garbage collector, and still fails on any return of a
// goroutine or a buffer per stream (57 KB each before). Then every client hangs up,
// and each call must settle — billed once for the chunk it got (DESIGN.md §4.4),
// nothing left held. One goroutine of this process opens and reads all the streams.
func TestIdleStreamsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 10,000 streams; skipped in -short mode")
	}
	const streams, target, limit = 10000, 300 << 20, 400 << 20
	fakeURL := startFakeUpstream(t, "--stall-after", "1")
	p := startProc(t, map[string]string{"TOLLGATE_DATA_DIR": t.TempDir(), "TOLLGATE_ADMIN_TOKEN": testAdminToken})
	tenantID, key := setupProc(t, p, fakeURL, "1000")
	pid := p.cmd.Process.Pid

	// Each stream takes two of the gateway's descriptors (client and upstream); with
	// an open-files limit of 20,000 a few of the 10,000 do not fit, and the memory
	// they would take is extrapolated from the others.
	capacity, fdLimit, fdOpen, err := idlestreams.Capacity(pid, 64)
	if err != nil {
		t.Fatal(err)
	}
	n := min(streams, capacity)
	if n < streams/2 {
		t.Skipf("the gateway's open-files limit (%d) allows only %d streams", fdLimit, n)
	}
	before, err := idlestreams.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"Say hello."}]}`)
	t0 := time.Now()
	s, err := idlestreams.Open(strings.TrimPrefix(p.url, "http://"), "/v1/chat/completions", key, body, n, 2*time.Minute)
	if err != nil {
		s.Close()
		t.Fatalf("%d streams open, then: %v\n%s", s.Len(), err, p.logs())
	}
	opened := time.Since(t0)
	held, err := idlestreams.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	at10k := before + (held-before)*streams/int64(n)
	t.Logf("%d idle streams opened in %.1f s (open-files limit %d, %d open before); gateway RSS %d MB before, %d MB with them held, %.1f KB per stream, %d MB at %d streams",
		n, opened.Seconds(), fdLimit, fdOpen, before>>20, held>>20, float64(held-before)/float64(n)/1024, at10k>>20, streams)
	if at10k >= limit {
		t.Errorf("the gateway holds %d idle streams in %d MB of resident memory: more than the %d MB allowed (the target is %d MB)", streams, at10k>>20, limit>>20, target>>20)
	}
	if at10k >= target {
		t.Logf("issue 6's target of %d MB was missed in this run (%d MB)", target>>20, at10k>>20)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		var ten struct {
			HeldUSD string `json:"held_usd"`
		}
		p.admin("GET", "/tenants/"+tenantID, nil, &ten)
		if ten.HeldUSD == "0.000000000" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s USD still held 30 s after the clients hung up", ten.HeldUSD)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := readLedger(p, tenantID)
	checkLedger(t, st)
	if st.usageEntries != n {
		t.Fatalf("%d streams were served and left by their clients after a content chunk, %d were billed", n, st.usageEntries)
	}
}

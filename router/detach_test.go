package router

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/h1"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// streamOn posts a streaming chat on client and returns the response, and whether
// the connection it used had served a request before.
func (h *harness) streamOn(client *http.Client) (*http.Response, *bool) {
	h.t.Helper()
	raw, _ := json.Marshal(chatBody(map[string]any{"stream": true}))
	reused := new(bool)
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { *reused = i.Reused }}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(string(raw)))
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, reused
}

// dataLines reads a stream to its end and returns its data fields.
func dataLines(t *testing.T, body io.Reader) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestQuietStreamParksAndHandsItsConnectionBack(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{Text: "one two three", ChunkDelay: 3 * parkLinger, PromptTokens: 10, CompletionTokens: 3})
	client := &http.Client{Transport: &http.Transport{}}
	resp, _ := h.streamOn(client)
	lines := dataLines(t, resp.Body)
	resp.Body.Close()

	if h.gw.parks.Load() < 3 {
		t.Fatalf("%d parks: a stream quiet for longer than parkLinger before each of its 3 chunks should park each time", h.gw.parks.Load())
	}
	if h.gw.parkedNow.Load() != 0 {
		t.Fatalf("%d streams still parked after the stream ended", h.gw.parkedNow.Load())
	}
	var text strings.Builder
	for _, l := range lines[:len(lines)-1] {
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(l), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", l, err)
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	if lines[len(lines)-1] != "[DONE]" || strings.Join(strings.Fields(text.String()), " ") != "one two three" {
		t.Fatalf("stream %q", lines)
	}
	if resp.Trailer.Get(OverheadHeader) == "" {
		t.Fatal("the overhead trailer is missing from a detached stream")
	}
	if w := h.wallet(); w.Balance != usd-costOf(10, 3) || w.Held != 0 {
		t.Fatalf("balance %s held %s, want one debit of %s", w.Balance, w.Held, costOf(10, 3))
	}

	// The connection went back to the server: the client's next call reuses it.
	h.upstream.SetBehavior(providertest.Behavior{})
	resp, reused := h.streamOn(client)
	lines = dataLines(t, resp.Body)
	resp.Body.Close()
	if !*reused || lines[len(lines)-1] != "[DONE]" {
		t.Fatalf("second call: connection reused %v, stream %q", *reused, lines)
	}
}

// parkedStream starts a stream whose upstream sends one chunk and then waits
// long, and returns once the gateway has parked it, with the client's body.
func parkedStream(t *testing.T, h *harness) io.ReadCloser {
	t.Helper()
	h.upstream.SetBehavior(providertest.Behavior{Text: "first second third", Fault: providertest.FaultStall, FaultAfter: 1})
	resp, _ := h.streamOn(&http.Client{Transport: &http.Transport{}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitFor(t, 5*time.Second, "the stream to park", func() bool { return h.gw.parkedNow.Load() == 1 })
	return resp.Body
}

func TestParkedStreamClientLeaves(t *testing.T) {
	h := newHarness(t, usd)
	body := parkedStream(t, h)
	body.Close()
	rec := waitForCall(t, h)
	if rec.ErrorCode != "client_disconnected" || rec.Cost <= 0 {
		t.Fatalf("call %+v: want billed for what was produced, as client_disconnected", rec)
	}
	if w := h.wallet(); w.Held != 0 || w.Balance != usd-rec.Cost {
		t.Fatalf("balance %s held %s after a parked stream's client left", w.Balance, w.Held)
	}
	if n := h.gw.parkedNow.Load(); n != 0 {
		t.Fatalf("%d streams still parked", n)
	}
}

// A stream that goes quiet but cannot park (its upstream connection cannot be
// watched) goes on reading on its goroutine, and is not counted as parked.
func TestStreamThatCannotParkIsNotCounted(t *testing.T) {
	unwatchable := &h1.Transport{Dial: (&net.Dialer{}).DialContext, Fallback: &http.Transport{}, MaxIdlePerHost: 4,
		IdleTimeout: time.Minute, WatchReadable: func(net.Conn, func()) (func() bool, bool) { return nil, false }}
	h := newHarness(t, usd, func(c *Config) { c.HTTPClient = &http.Client{Transport: unwatchable} })
	h.upstream.SetBehavior(providertest.Behavior{Text: "one two three", ChunkDelay: 3 * parkLinger, PromptTokens: 10, CompletionTokens: 3})
	resp, _ := h.streamOn(&http.Client{Transport: &http.Transport{}})
	lines := dataLines(t, resp.Body)
	resp.Body.Close()
	if len(lines) == 0 || lines[len(lines)-1] != "[DONE]" {
		t.Fatalf("stream %q did not end with [DONE]", lines)
	}
	if n := h.gw.parks.Load(); n != 0 {
		t.Fatalf("%d parks counted for a stream that never parked", n)
	}
	if n := h.gw.parkedNow.Load(); n != 0 {
		t.Fatalf("%d streams parked now", n)
	}
	if rec := waitForCall(t, h); rec.Status != http.StatusOK || rec.Usage.CompletionTokens != 3 {
		t.Fatalf("call %+v: want 200 billed for 3 completion tokens", rec)
	}
}

func TestParkedStreamCutAtShutdown(t *testing.T) {
	h := newHarness(t, usd)
	body := parkedStream(t, h)
	defer body.Close()
	h.gw.CutStreams()
	rec := waitForCall(t, h)
	if rec.ErrorCode == "" || rec.Cost <= 0 {
		t.Fatalf("call %+v: a stream cut at shutdown is billed for what it produced", rec)
	}
	if _, err := io.ReadAll(body); err != nil {
		t.Fatalf("the client's stream did not end cleanly: %v", err)
	}
	if w := h.wallet(); w.Held != 0 {
		t.Fatalf("held %s after the cut", w.Held)
	}
}

// panickingStream panics on its first read, like a bug in an adapter.
type panickingStream struct{ closed bool }

func (s *panickingStream) Recv() (providers.Chunk, error) { panic("adapter bug") }
func (s *panickingStream) Close() error                   { s.closed = true; return nil }

func TestResumedRelayPanicEndsOnlyItsCall(t *testing.T) {
	h := newHarness(t, usd)
	stream := &panickingStream{}
	ended := make(chan struct{})
	r := &chatRelay{g: h.gw, cl: &call{g: h.gw}, stream: stream, done: func() { close(ended) }}
	h.gw.parked(true) // as run does before Park
	r.resume()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the call of a relay that panicked was not ended")
	}
	if !stream.closed || h.gw.parkedNow.Load() != 0 {
		t.Fatalf("stream closed %v, parked now %d", stream.closed, h.gw.parkedNow.Load())
	}
}

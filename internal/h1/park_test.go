package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quietTransport is a transport whose answers may park; its watch is never used.
func quietTransport() *Transport {
	t := newTransport()
	t.WatchReadable = func(net.Conn, func()) (func() bool, bool) { return nil, false }
	return t
}

// Quiet reports a quiet upstream only when nothing came within its linger — a
// chunk's closing line break left in the buffer is not more of the answer — and
// leaves what came for the next read.
func TestQuietWaitsForMoreOfTheAnswer(t *testing.T) {
	next := make(chan string)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // the header, so the call returns
		for s := range next {
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
	})
	c := &http.Client{Transport: quietTransport()}
	resp, err := c.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	defer func() {
		if next != nil {
			close(next) // the handler ends, so the server can close
		}
	}()
	b := resp.Body.(*body)
	br := bufio.NewReaderSize(resp.Body, 16)

	next <- "data: one\n\n"
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if !b.Quiet(30 * time.Millisecond) {
		t.Fatal("Quiet reported more of the answer, but the upstream sent none")
	}
	time.AfterFunc(20*time.Millisecond, func() { next <- "data: two\n\n" })
	start := time.Now()
	if b.Quiet(5 * time.Second) {
		t.Fatal("Quiet reported a quiet upstream that sent a chunk")
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Quiet returned after %s, not when the chunk came", waited)
	}
	if !b.buffered() {
		t.Fatal("the chunk Quiet waited for is not buffered for the next read")
	}
	if line, err := br.ReadString('\n'); err != nil || line != "data: two\n" {
		t.Fatalf("second line %q, %v", line, err)
	}
	close(next)
	next = nil
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

// A call cancelled while Quiet waits ends the wait at once, and the next read
// returns the context's error.
func TestCancelEndsQuiet(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	resp, cancel := startCancellable(t, srv.URL)
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil { // the rest of the first event
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if resp.Body.(*body).Quiet(5 * time.Second) {
		t.Fatal("Quiet reported a quiet upstream for a cancelled call")
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Quiet returned %s after the cancel", waited)
	}
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
}

// Quiet on a call already cancelled reads nothing more, even from an upstream that
// keeps sending: the next read returns the context's error.
func TestQuietAfterCancelReadsNothing(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			io.WriteString(w, "data: more\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	})
	resp, cancel := startCancellable(t, srv.URL)
	b := resp.Body.(*body)
	buf := make([]byte, 1)
	cancel()
	for b.buffered() { // what came before the cancel may still be read
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	time.Sleep(10 * time.Millisecond) // the upstream sends more meanwhile
	if b.Quiet(time.Second) {
		t.Fatal("Quiet reported a quiet upstream for a cancelled call")
	}
	if b.buffered() {
		t.Fatal("Quiet read on after the call was cancelled")
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
}

// startCancellable calls url through a transport whose answers may park, reads the
// first byte of the answer, and returns it with the call's cancel. The body is
// closed when the test ends.
func startCancellable(t *testing.T, url string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "POST", url, nil)
	resp, err := (&http.Client{Transport: quietTransport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return resp, cancel
}

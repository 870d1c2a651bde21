package netwatch

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func called(ch chan struct{}, within time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func TestOnHangUpCallsWhenThePeerCloses(t *testing.T) {
	server, client := pair(t)
	ch := make(chan struct{}, 2)
	w := OnHangUp(server, func() { ch <- struct{}{} })
	if called(ch, 50*time.Millisecond) {
		t.Fatal("called before the peer left")
	}
	client.Close()
	if !called(ch, 5*time.Second) {
		t.Fatal("not called after the peer closed")
	}
	if _, open := w.Stop(); open {
		t.Fatal("Stop reports the peer still there")
	}
	if called(ch, 50*time.Millisecond) {
		t.Fatal("called twice")
	}
}

func TestOnHangUpLeavesTheNextRequestToBeRead(t *testing.T) {
	server, client := pair(t)
	ch := make(chan struct{}, 1)
	w := OnHangUp(server, func() { ch <- struct{}{} })
	if _, err := client.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	if called(ch, 100*time.Millisecond) {
		t.Fatal("bytes from the peer were taken for a hang-up")
	}
	early, open := w.Stop()
	if !open {
		t.Fatal("Stop reports the peer gone")
	}
	got := make([]byte, len("GET / HTTP/1.1\r\n")-len(early))
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server, got); err != nil || string(early)+string(got) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("read %q, %v: the peer's bytes were not left for the next reader", got, err)
	}
}

func TestOnHangUpStoppedCallsNothing(t *testing.T) {
	server, client := pair(t)
	ch := make(chan struct{}, 1)
	w := OnHangUp(server, func() { ch <- struct{}{} })
	if _, open := w.Stop(); !open {
		t.Fatal("Stop reports the peer gone")
	}
	client.Close()
	if called(ch, 100*time.Millisecond) {
		t.Fatal("called after Stop")
	}
}

func TestOnReadable(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, ok := OnReadable(nil, func() {}); ok {
			t.Fatal("OnReadable claims to watch without epoll")
		}
		return
	}
	server, client := pair(t)
	ch := make(chan struct{}, 2)
	w, ok := OnReadable(server, func() { ch <- struct{}{} })
	if !ok {
		t.Fatal("cannot watch a TCP connection")
	}
	if called(ch, 50*time.Millisecond) {
		t.Fatal("called before anything came")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !called(ch, 5*time.Second) {
		t.Fatal("not called when bytes came")
	}
	if _, waiting := w.Stop(); waiting {
		t.Fatal("Stop after the call reports the watch still waiting")
	}

	// Stopped before anything comes: no call, and Stop says it stopped it.
	if _, err := server.Read(make([]byte, 1)); err != nil { // the "x" above
		t.Fatal(err)
	}
	w, _ = OnReadable(server, func() { ch <- struct{}{} })
	if _, waiting := w.Stop(); !waiting {
		t.Fatal("Stop before any byte reports the watch fired")
	}
	if _, err := client.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if called(ch, 100*time.Millisecond) {
		t.Fatal("called after Stop")
	}
}

package handback

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestReturnedConnectionsAreAcceptedAgain(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner)
	defer l.Close()

	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if !l.Return(WithPrefix(first, []byte("early "))) {
		t.Fatal("Return refused while open")
	}
	again, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("bytes")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("early bytes"))
	_ = again.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(again, got); err != nil || string(got) != "early bytes" {
		t.Fatalf("read %q, %v: want the kept bytes, then the connection's", got, err)
	}

	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
	if l.Return(again) {
		t.Fatal("Return accepted a connection after Close")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection returned after Close was not closed")
	}
}

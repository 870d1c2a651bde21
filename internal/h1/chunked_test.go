package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http/httputil"
	"testing"
	"testing/iotest"
	"time"
)

// decodeBoth decodes data with h1's chunked reader and net/http's, each over a
// source that hands out what oneByte says: one byte at a time, or all at once.
func decodeBoth(data []byte, oneByte bool) (ours, theirs []byte, oursErr, theirsErr error) {
	src := func() io.Reader {
		if oneByte {
			return iotest.OneByteReader(bytes.NewReader(data))
		}
		return bytes.NewReader(data)
	}
	ours, oursErr = io.ReadAll(&chunkedReader{br: bufio.NewReaderSize(src(), readBufferSize)})
	theirs, theirsErr = io.ReadAll(httputil.NewChunkedReader(bufio.NewReaderSize(src(), readBufferSize)))
	return
}

// FuzzChunkedReader: h1's chunked reader decodes exactly what net/http's does, and
// refuses exactly what it refuses, however the bytes arrive.
func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n", "1a;ext=1\r\n" + string(bytes.Repeat([]byte("x"), 26)) + "\r\n0\r\n", "3 \t\r\nabc\r\n0\r\n",
		"3\nabc\r\n0\r\n", "3\r\nabc\n0\r\n", "3\r\r\nabc\r\n0\r\n", "ffffffffffffffffff\r\n", "\r\n", "0\r\n", "3\r\nab",
		"1\r\nX\r\n1\r\nY\r\n0\r\n\r\n", "G\r\nabc\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, oneByte := range []bool{false, true} {
			var ours, theirs []byte
			var oursErr, theirsErr error
			done := make(chan struct{})
			go func() { ours, theirs, oursErr, theirsErr = decodeBoth(data, oneByte); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("decoding %q one byte at a time %v did not end", data, oneByte)
			}
			if !bytes.Equal(ours, theirs) || (oursErr == nil) != (theirsErr == nil) {
				t.Fatalf("one byte at a time %v: h1 read %q (%v), net/http %q (%v)", oneByte, ours, oursErr, theirs, theirsErr)
			}
		}
	})
}

// A Read with whole chunks in hand returns them rather than wait for the rest of a
// chunk that came split: net/http's reader waits, holding the whole ones back.
func TestChunkedReaderReturnsWhatCame(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() { _, _ = server.Write([]byte("5\r\nhello\r\n5\r\nwor")) }() // the rest never comes
	r := &chunkedReader{br: bufio.NewReaderSize(client, readBufferSize)}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	for err == nil && n < len("hellowor") {
		var m int
		m, err = r.Read(buf[n:])
		n += m
	}
	if string(buf[:n]) != "hellowor" || err != nil {
		t.Fatalf("read %q, %v; want hellowor at once", buf[:n], err)
	}
}

func TestChunkedReaderReady(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		consume      int // bytes of data read before asking
		want         bool
	}{
		{"nothing buffered", "", 0, false},
		{"a whole chunk", "3\r\nabc\r\n", 0, true},
		{"a size line without data", "3\r\n", 0, false},
		{"half a size line", "3", 0, false},
		{"the last chunk", "0\r\n\r\n", 0, false},
		{"a bare LF", "3\nabc", 0, false},
		{"the rest of a chunk", "5\r\nhello\r\n", 2, true},
		{"a chunk read to its end", "3\r\nabc", 3, false},
		{"its CRLF and the next chunk", "3\r\nabc\r\n2\r\nde", 3, true},
		{"its CRLF only", "3\r\nabc\r\n", 3, false},
		{"its CRLF and the last chunk", "3\r\nabc\r\n0\r\n\r\n", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &chunkedReader{br: bufio.NewReaderSize(bytes.NewReader([]byte(tc.stream)), readBufferSize)}
			if tc.consume > 0 {
				if n, err := io.ReadFull(r, make([]byte, tc.consume)); n != tc.consume || err != nil {
					t.Fatalf("read %d, %v", n, err)
				}
			}
			_, _ = r.br.Peek(1) // fill the buffer, as a read of the connection would
			if got := r.ready(); got != tc.want {
				t.Fatalf("ready = %v, want %v", got, tc.want)
			}
		})
	}
}

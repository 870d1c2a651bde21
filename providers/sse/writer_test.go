package sse

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriterFlushesResponseWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec)
	if err := w.WriteData([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed {
		t.Fatal("event was not flushed")
	}
}

// unwrapping hides the flusher behind Unwrap, as middleware wrappers do.
type unwrapping struct{ http.ResponseWriter }

func (u unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func TestWriterFlushesWrappedResponseWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := NewWriter(unwrapping{rec}).WriteDone(); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != "data: [DONE]\n\n" {
		t.Fatalf("flushed = %v, body = %q", rec.Flushed, rec.Body.String())
	}
}

// noFlush is a ResponseWriter that cannot flush.
type noFlush struct{ h http.Header }

func (n *noFlush) Header() http.Header         { return n.h }
func (n *noFlush) Write(p []byte) (int, error) { return len(p), nil }
func (n *noFlush) WriteHeader(int)             {}

func TestWriterWithoutFlusher(t *testing.T) {
	if err := NewWriter(&noFlush{h: http.Header{}}).WriteData([]byte("x")); err != nil {
		t.Fatalf("err = %v, want nil when flushing is not supported", err)
	}
}

func TestWriterFlushesBufioWriter(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	if err := NewWriter(bw).WriteData([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "data: x\n\n" {
		t.Fatalf("got %q: bufio.Writer was not flushed", out.String())
	}
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{"Content-Length": {"12"}}
	SetHeaders(h)
	want := map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
		"Content-Length":    "",
		"Connection":        "",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestWriterDoesNotAllocate(t *testing.T) {
	w := NewWriter(&discard{})
	data := []byte(`{"id":"chatcmpl-1","choices":[{"delta":{"content":"hi"}}]}`)
	allocs := testing.AllocsPerRun(100, func() { _ = w.WriteData(data) })
	if allocs != 0 {
		t.Fatalf("WriteData allocates %v times", allocs)
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(&discard{})
	data := []byte(sampleChunk)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WriteData(data)
	}
}

func TestWriterBufferFlushesOnlyWhenAsked(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := NewWriter(bw)
	w.Buffer()
	for _, d := range []string{"a", "b"} {
		if err := w.WriteData([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteDone(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("buffered events reached the client before Flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "data: a\n\ndata: b\n\ndata: [DONE]\n\n" {
		t.Fatalf("after Flush: %q", out.String())
	}
}

package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll collects every event of input and the error that ended the stream.
func readAll(t testing.TB, r *Reader) ([]Event, error) {
	t.Helper()
	var evs []Event
	for range 10000 {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		ev.Data = bytes.Clone(ev.Data)
		evs = append(evs, ev)
	}
	t.Fatal("reader did not end")
	return nil, nil
}

func ev(name, data, id string) Event { return Event{Name: name, Data: []byte(data), ID: id} }

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Event
		err   error
	}{
		{"Empty", "", nil, io.EOF},
		{"OneDataEvent", "data: hello\n\n", []Event{ev("", "hello", "")}, io.EOF},
		{"NoSpaceAfterColon", "data:hello\n\n", []Event{ev("", "hello", "")}, io.EOF},
		{"OnlyOneSpaceStripped", "data:  two\n\n", []Event{ev("", " two", "")}, io.EOF},
		{"MultiLineDataJoined", "data: a\ndata: b\ndata:\n\n", []Event{ev("", "a\nb\n", "")}, io.EOF},
		{"EmptyDataLineDispatched", "data\n\n", []Event{ev("", "", "")}, io.EOF},
		{"CRLFLines", "event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", []Event{ev("x", "1", ""), ev("", "2", "")}, io.EOF},
		{"CRLines", "data: 1\r\rdata: 2\r\r", []Event{ev("", "1", ""), ev("", "2", "")}, io.EOF},
		{"MixedLineEnds", "data: a\rdata: b\r\ndata: c\n\r\n", []Event{ev("", "a\nb\nc", "")}, io.EOF},
		{"CommentsIgnored", ": ping\n:\ndata: x\n: mid\n\n", []Event{ev("", "x", "")}, io.EOF},
		{"UnknownFieldsIgnored", "foo: bar\nretry: 10\ndata: x\nDATA: y\n\n", []Event{ev("", "x", "")}, io.EOF},
		{"EventNameResetAfterDispatch", "event: a\ndata: 1\n\ndata: 2\n\n", []Event{ev("a", "1", ""), ev("", "2", "")}, io.EOF},
		{"EventWithoutDataDropped", "event: a\n\ndata: 2\n\n", []Event{ev("", "2", "")}, io.EOF},
		{"IDPersists", "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", []Event{ev("", "a", "7"), ev("", "b", "7"), ev("", "c", "")}, io.EOF},
		{"IDWithNULIgnored", "id: 1\n\nid: a\x00b\ndata: x\n\n", []Event{ev("", "x", "1")}, io.EOF},
		{"ColonInValueKept", "data: {\"a\":\"b: c\"}\n\n", []Event{ev("", `{"a":"b: c"}`, "")}, io.EOF},
		{"LeadingBOMSkipped", "\xEF\xBB\xBFdata: x\n\n", []Event{ev("", "x", "")}, io.EOF},
		{"SecondBOMNotSkipped", "data: x\n\n\xEF\xBB\xBFdata: y\n\n", []Event{ev("", "x", "")}, io.EOF},
		{"ManyBlankLines", "\n\n\ndata: x\n\n\n\n", []Event{ev("", "x", "")}, io.EOF},
		{"OpenAIDone", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []Event{ev("", `{"a":1}`, ""), ev("", "[DONE]", "")}, io.EOF},
		// Lenient end of input: complete lines without the final blank line dispatch.
		{"UnterminatedEventAtEOF", "data: x\n\ndata: [DONE]\n", []Event{ev("", "x", ""), ev("", "[DONE]", "")}, io.EOF},
		{"UnterminatedCREventAtEOF", "data: [DONE]\r", []Event{ev("", "[DONE]", "")}, io.EOF},
		// A partial last line may be truncated: dropped, and the end is unexpected.
		{"PartialLineAtEOF", "data: x\n\ndata: {\"cho", []Event{ev("", "x", "")}, io.ErrUnexpectedEOF},
		{"PartialLineAfterCompleteLines", "data: a\ndata: b", []Event{ev("", "a", "")}, io.ErrUnexpectedEOF},
		{"PartialCommentAtEOF", ": keep-alive", nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, r io.Reader) {
				got, err := readAll(t, NewReader(r))
				if err != tt.err {
					t.Errorf("error = %v, want %v", err, tt.err)
				}
				if !eventsEqual(got, tt.want) {
					t.Errorf("events = %q, want %q", got, tt.want)
				}
			}
			t.Run("Whole", func(t *testing.T) { check(t, strings.NewReader(tt.input)) })
			t.Run("OneByteReads", func(t *testing.T) { check(t, iotest.OneByteReader(strings.NewReader(tt.input))) })
			t.Run("DataWithEOF", func(t *testing.T) { check(t, iotest.DataErrReader(strings.NewReader(tt.input))) })
		})
	}
}

func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].ID != b[i].ID || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestReaderErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	if e, err := r.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("first = %q, %v", e.Data, err)
	}
	for range 3 {
		// The pending "b" is not dispatched: the stream broke, it did not end.
		if _, err := r.Next(); err != boom {
			t.Fatalf("err = %v, want boom", err)
		}
	}
}

func TestReaderEOFIsSticky(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n"))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	}
}

func TestReaderMaxEventSize(t *testing.T) {
	t.Run("LongLine", func(t *testing.T) {
		r := NewReaderLimit(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
		if _, err := r.Next(); err != ErrEventTooLarge {
			t.Fatalf("err = %v, want ErrEventTooLarge", err)
		}
		if _, err := r.Next(); err != ErrEventTooLarge {
			t.Fatalf("second err = %v, want ErrEventTooLarge", err)
		}
	})
	t.Run("ManyDataLines", func(t *testing.T) {
		in := strings.Repeat("data: 0123456789\n", 10) + "\n"
		if _, err := NewReaderLimit(strings.NewReader(in), 50).Next(); err != ErrEventTooLarge {
			t.Fatalf("err = %v, want ErrEventTooLarge", err)
		}
	})
	t.Run("NameAndIDCount", func(t *testing.T) {
		in := "event: " + strings.Repeat("n", 20) + "\nid: " + strings.Repeat("i", 20) + "\ndata: " + strings.Repeat("d", 20) + "\n\n"
		if _, err := NewReaderLimit(strings.NewReader(in), 50).Next(); err != ErrEventTooLarge {
			t.Fatalf("err = %v, want ErrEventTooLarge", err)
		}
	})
	t.Run("ExactlyAtLimit", func(t *testing.T) {
		in := "data: " + strings.Repeat("x", 50) + "\n\n"
		e, err := NewReaderLimit(strings.NewReader(in), 50).Next()
		if err != nil || len(e.Data) != 50 {
			t.Fatalf("len = %d, err = %v", len(e.Data), err)
		}
	})
	t.Run("EndlessLineWithoutNewline", func(t *testing.T) {
		r := NewReaderLimit(&endless{}, 1<<16)
		if _, err := r.Next(); err != ErrEventTooLarge {
			t.Fatalf("err = %v, want ErrEventTooLarge", err)
		}
	})
	t.Run("EndlessCommentsAreFine", func(t *testing.T) {
		// Comments are discarded as they come, so they never count against the limit.
		in := strings.Repeat(": "+strings.Repeat("c", 40)+"\n", 1000) + "data: ok\n\n"
		e, err := NewReaderLimit(strings.NewReader(in), 50).Next()
		if err != nil || string(e.Data) != "ok" {
			t.Fatalf("got %q, %v", e.Data, err)
		}
	})
}

// endless is a reader that never sends a line break.
type endless struct{}

func (*endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// zeroReader returns no bytes and no error, which io.Reader discourages.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}).Next(); err != io.ErrNoProgress {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

func TestReaderLongLinesGrowBuffer(t *testing.T) {
	long := strings.Repeat("y", 3*initialBufSize+17)
	in := "data: short\n\ndata: " + long + "\n\ndata: after\n\n"
	got, err := readAll(t, NewReader(iotest.HalfReader(strings.NewReader(in))))
	if err != io.EOF {
		t.Fatal(err)
	}
	want := []Event{ev("", "short", ""), ev("", long, ""), ev("", "after", "")}
	if !eventsEqual(got, want) {
		t.Fatalf("got %d events", len(got))
	}
}

func TestReaderInternsNames(t *testing.T) {
	in := strings.Repeat("event: content_block_delta\ndata: {}\n\nevent: ping\ndata: {}\n\n", 50)
	r := NewReader(strings.NewReader(in))
	allocs := testing.AllocsPerRun(1, func() {
		for {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
	if allocs > 6 {
		t.Fatalf("%v allocations for 100 named events, want a handful", allocs)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	events := []Event{
		ev("", `{"a":1}`, ""),
		ev("delta", "line1\nline2\r\nline3\rline4", ""),
		ev("", "", ""),
		ev("", " leading space", ""),
		ev("", "trailing newline\n", ""),
	}
	for _, e := range events {
		if err := w.WriteEvent(e.Name, e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteComment("keep\nalive"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteDone(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, NewReader(&buf))
	if err != io.EOF {
		t.Fatal(err)
	}
	want := append(events, ev("", "[DONE]", ""))
	want[1].Data = []byte("line1\nline2\nline3\nline4") // line breaks normalise to "\n"
	if !eventsEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestWriterFraming(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_ = w.WriteData([]byte(`{"x":1}`))
	_ = w.WriteEvent("message_stop", []byte(`{}`))
	_ = w.WriteDone()
	_ = w.WriteComment("")
	want := "data: {\"x\":1}\n\nevent: message_stop\ndata: {}\n\ndata: [DONE]\n\n:\n\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	if err := w.WriteEvent("a\nb", nil); err != ErrInvalidName {
		t.Fatalf("err = %v, want ErrInvalidName", err)
	}
}

// readySource says whether its next Read would wait, as h1's answer bodies do.
type readySource struct {
	io.Reader
	ready bool
}

func (s *readySource) Ready() bool { return s.ready }

// The flush hook runs before a read that may wait, and only then.
func TestBeforeReadOnlyBeforeAWait(t *testing.T) {
	for _, ready := range []bool{false, true} {
		src := &readySource{Reader: iotest.OneByteReader(strings.NewReader("data: a\n\ndata: b\n\n")), ready: ready}
		r := NewReader(src)
		calls := 0
		r.BeforeRead(func() { calls++ })
		evs, err := readAll(t, r)
		if err != io.EOF || len(evs) != 2 {
			t.Fatalf("ready %v: %d events, %v", ready, len(evs), err)
		}
		switch {
		case ready && calls != 0:
			t.Errorf("an input that does not wait: the hook ran %d times", calls)
		case !ready && calls < len("data: a\n\ndata: b\n\n"):
			t.Errorf("an input that may wait: the hook ran %d times, want once before each of its reads", calls)
		}
	}
}

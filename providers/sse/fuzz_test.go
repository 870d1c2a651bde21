package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzReader(f *testing.F) {
	seeds := []string{
		"data: hello\n\n",
		"event: x\r\ndata: 1\r\n\r\n",
		"data: 1\r\rdata: 2\r\r",
		": ping\nid: 3\ndata: a\ndata: b\n\n",
		"\xEF\xBB\xBFdata: x\n\ndata: [DONE]\n",
		"data: " + strings.Repeat("z", 200) + "\n\n",
		"id: a\x00b\nretry: 5\ndata\n\n",
		"data: {\"cho",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(64))
	}
	f.Fuzz(func(t *testing.T, input []byte, limit uint8) {
		max := int(limit) + 1
		whole, wholeErr := readAllLimit(NewReaderLimit(bytes.NewReader(input), max), max, t)
		// The result must not depend on how the input is split into reads.
		split, splitErr := readAllLimit(NewReaderLimit(iotest.OneByteReader(bytes.NewReader(input)), max), max, t)
		if wholeErr != splitErr || !eventsEqual(whole, split) {
			t.Fatalf("whole read gave %q, %v; byte-wise read gave %q, %v", whole, wholeErr, split, splitErr)
		}
		switch wholeErr {
		case io.EOF, io.ErrUnexpectedEOF, ErrEventTooLarge:
		default:
			t.Fatalf("unexpected error %v", wholeErr)
		}
	})
}

func readAllLimit(r *Reader, max int, t *testing.T) ([]Event, error) {
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		if n := len(ev.Name) + len(ev.Data) + len(ev.ID); n > max {
			t.Fatalf("event of %d bytes exceeds the limit %d", n, max)
		}
		ev.Data = bytes.Clone(ev.Data)
		evs = append(evs, ev)
	}
}

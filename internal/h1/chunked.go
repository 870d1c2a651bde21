package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// chunkedReader decodes a chunked answer body by the rules of net/http's reader
// (CRLF line ends only, extensions dropped, at most 16 hex digits, a bound on
// framing overhead). Unlike that reader, a Read that has bytes in hand returns them
// rather than wait for the rest of a chunk, so an event stream's whole events are
// not held behind a split one; and ready says whether a Read would wait at all.
type chunkedReader struct {
	br       *bufio.Reader
	left     uint64 // unread bytes of the current chunk
	checkEnd bool   // the chunk's data is read; its CRLF is not
	excess   int64  // framing overhead beyond the allowance (net/http's rule)
	err      error  // sticky; io.EOF after the last chunk
}

// maxChunkLine is the longest chunk-size line, as in net/http.
const maxChunkLine = 4096

func (r *chunkedReader) Read(p []byte) (n int, err error) {
	for r.err == nil {
		if r.checkEnd {
			if n > 0 && r.br.Buffered() < 2 {
				break // return what there is rather than wait
			}
			var crlf [2]byte
			if _, r.err = io.ReadFull(r.br, crlf[:]); r.err != nil {
				if r.err == io.EOF {
					r.err = io.ErrUnexpectedEOF
				}
				break
			}
			if string(crlf[:]) != "\r\n" {
				r.err = errors.New("h1: malformed chunked encoding")
				break
			}
			r.checkEnd = false
		}
		if r.left == 0 {
			if n > 0 && !r.lineBuffered() {
				break
			}
			r.beginChunk()
			continue
		}
		if len(p) == 0 || (n > 0 && r.br.Buffered() == 0) {
			break
		}
		q := p
		if uint64(len(q)) > r.left {
			q = q[:r.left]
		}
		var m int
		m, r.err = r.br.Read(q)
		n += m
		p = p[m:]
		r.left -= uint64(m) // #nosec G115 -- m counts bytes read: 0 ≤ m ≤ len(q) ≤ r.left
		if r.left == 0 && r.err == nil {
			r.checkEnd = true
		} else if r.err == io.EOF {
			r.err = io.ErrUnexpectedEOF
		}
	}
	return n, r.err
}

// lineBuffered reports whether a whole line is buffered.
func (r *chunkedReader) lineBuffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	buf, _ := r.br.Peek(n)
	return bytes.IndexByte(buf, '\n') >= 0
}

func (r *chunkedReader) beginChunk() {
	line, err := r.br.ReadSlice('\n')
	switch {
	case err == io.EOF:
		r.err = io.ErrUnexpectedEOF
		return
	case err == bufio.ErrBufferFull:
		r.err = errChunkLineTooLong
		return
	case err != nil:
		r.err = err
		return
	}
	size, err := chunkSize(line)
	if err != nil {
		r.err = err
		return
	}
	// Overhead beyond 16 bytes a chunk and twice its data adds up; past 16 KiB
	// the sender is stalling the reader with framing (net/http's rule).
	r.excess += int64(len(line)) // the size line and the CRLF after the data
	// #nosec G115 -- net/http's arithmetic, wrap included, so that both readers refuse the same inputs (FuzzChunkedReader)
	r.excess = max(r.excess-16-2*int64(size), 0)
	if r.excess > 16*1024 {
		r.err = errors.New("h1: chunked encoding contains too much non-data")
		return
	}
	r.left = size
	if size == 0 {
		r.err = io.EOF
	}
}

var errChunkLineTooLong = errors.New("h1: chunk size line too long")

// chunkSize reads a chunk-size line, its CRLF included.
func chunkSize(line []byte) (uint64, error) {
	if i := bytes.IndexByte(line, '\r'); i == -1 {
		return 0, errors.New("h1: chunked line ends with bare LF")
	} else if i != len(line)-2 {
		return 0, errors.New("h1: invalid CR in chunked line")
	}
	line = line[:len(line)-2]
	if len(line) >= maxChunkLine {
		return 0, errChunkLineTooLong
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	line, _, _ = bytes.Cut(line, []byte(";")) // an extension, dropped
	if len(line) == 0 {
		return 0, errors.New("h1: empty hex number for chunk length")
	}
	var n uint64
	for i, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, errors.New("h1: invalid byte in chunk length")
		}
		if i == 16 {
			return 0, errors.New("h1: chunk length too large")
		}
		n = n<<4 | uint64(c)
	}
	return n, nil
}

// ready reports whether a Read returns data at once, from what is buffered: the
// rest of a chunk under way, or the line break closing one, a whole size line of a
// chunk that is not the last, and a byte of its data. It may answer false where a
// Read would not wait; it never answers true where one would.
func (r *chunkedReader) ready() bool {
	n := r.br.Buffered()
	if r.err != nil || n == 0 {
		return false
	}
	if r.left > 0 {
		return true
	}
	buf, _ := r.br.Peek(n)
	if r.checkEnd {
		if !bytes.HasPrefix(buf, []byte("\r\n")) {
			return false
		}
		buf = buf[2:]
	}
	eol := bytes.IndexByte(buf, '\n')
	if eol < 0 || eol+1 == len(buf) {
		return false
	}
	size, err := chunkSize(buf[:eol+1])
	return err == nil && size > 0
}

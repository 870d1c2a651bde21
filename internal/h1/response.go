package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readResponse reads an answer's status line and header from br. The usual answer
// of an API upstream — HTTP/1.1, its whole header already buffered, a body framed
// by Content-Length or chunked, nothing unusual — is parsed in place: one string
// holds every key and value, one slice every value. Anything else, and anything
// the fast path is unsure of, is left unread for http.ReadResponse, so the rules
// for odd answers stay net/http's (FuzzReadResponse holds the two to the same
// result).
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if resp := parseResponse(br, req); resp != nil {
		return resp, nil
	}
	return http.ReadResponse(br, req)
}

// parseResponse is readResponse's fast path; nil means it read nothing.
func parseResponse(br *bufio.Reader, req *http.Request) *http.Response {
	if _, err := br.Peek(1); err != nil || req.Method == http.MethodHead {
		return nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil // the header is not all here yet, or is not CRLF-terminated
	}
	block := string(buf[:end+2]) // every line with its CRLF
	const proto = "HTTP/1.1 "
	line, rest, _ := strings.Cut(block, "\r\n")
	if !strings.HasPrefix(line, proto) || len(line) < len(proto)+3 {
		return nil
	}
	status := line[len(proto):]
	code, ok := statusCode(status)
	if !ok || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil // interim answers and bodiless ones are rare: net/http has their rules
	}
	if !httpguts.ValidHeaderFieldValue(status) {
		return nil
	}

	h := parseFields(rest)
	if h == nil {
		return nil
	}

	resp := &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Request: req}
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	if h["Trailer"] != nil || len(cl) > 1 || len(te) > 1 || (te != nil && cl != nil) {
		return nil
	}
	if !closeOrKeepAlive(h["Connection"], &resp.Close) {
		return nil
	}
	if resp.Close {
		delete(h, "Connection") // as net/http does
	}
	switch {
	case te != nil:
		if !strings.EqualFold(te[0], "chunked") {
			return nil
		}
		delete(h, "Transfer-Encoding") // as net/http does: it is the transport's business
		resp.TransferEncoding, resp.ContentLength = []string{"chunked"}, -1
		resp.Body = &chunkedBody{br: br, cr: &chunkedReader{br: br}}
	case cl != nil:
		length, ok := contentLength(cl[0])
		if !ok {
			return nil
		}
		resp.ContentLength = length
		resp.Body = http.NoBody
		if length > 0 {
			resp.Body = &lengthBody{br: br, left: length}
		}
	default:
		return nil // delimited by the connection's close: rare, and net/http's
	}
	_, _ = br.Discard(end + 4)
	return resp
}

// parseFields reads a head's field lines, each with its CRLF, in place: one string
// holds every key and value, one slice every value. It returns nil for anything
// net/http should judge instead (folded lines, invalid names or values).
func parseFields(rest string) http.Header {
	n := strings.Count(rest, "\r\n")
	h := make(http.Header, n)
	values := make([]string, n)
	for i := 0; rest != ""; i++ {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		key, value, ok := strings.Cut(l, ":")
		if !ok || !httpguts.ValidHeaderFieldName(key) || !httpguts.ValidHeaderFieldValue(value) {
			return nil // a folded line starts with a space, which no valid name holds
		}
		if !canonical(key) {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
		values[i] = strings.Trim(value, " \t")
		if old := h[key]; old != nil {
			h[key] = append(old, values[i])
		} else {
			h[key] = values[i : i+1 : i+1]
		}
	}
	return h
}

// statusCode reads the three digits that start a status line's rest ("200 OK").
func statusCode(s string) (int, bool) {
	if len(s) > 3 && s[3] != ' ' {
		return 0, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, true
}

// canonical reports whether k is already in canonical form ("Content-Type").
func canonical(k string) bool {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// closeOrKeepAlive reads the Connection header of an HTTP/1.1 answer: close asks
// for the connection to end after this answer. It reports false for any other
// token, which the fast path leaves to net/http.
func closeOrKeepAlive(conn []string, close *bool) bool {
	for _, v := range conn {
		for _, tok := range strings.Split(v, ",") {
			switch tok = strings.TrimSpace(tok); {
			case strings.EqualFold(tok, "close"):
				*close = true
			case strings.EqualFold(tok, "keep-alive"), tok == "":
			default:
				return false
			}
		}
	}
	return true
}

// contentLength parses a Content-Length value as net/http does: digits only.
func contentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && v[0] != '+' && v[0] != '-'
}

// lengthBody is a body of a known length, an answer's or (Server) a request's. Its
// last bytes come with io.EOF, so the connection goes back to the pool, or on to
// the next request, without one more read.
type lengthBody struct {
	br   *bufio.Reader
	left int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }

// chunkedBody is a chunked body; at its end it reads the trailer section (dropped:
// the gateway uses no trailer), so the connection is left at the next answer.
type chunkedBody struct {
	br   *bufio.Reader
	cr   *chunkedReader
	done bool
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		if terr := b.readTrailer(); terr != nil {
			return n, terr
		}
		b.done = true
	}
	return n, err
}

func (b *chunkedBody) readTrailer() error {
	if crlf, err := b.br.Peek(2); err == nil && string(crlf) == "\r\n" {
		_, _ = b.br.Discard(2)
		return nil
	}
	// A trailer section must end within the read buffer: an upstream cannot make
	// the gateway hold an endless one.
	for size := 4; ; size++ {
		buf, err := b.br.Peek(size)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			break
		}
		if err != nil {
			return errors.New("h1: unterminated or oversized trailer after a chunked body")
		}
	}
	_, err := textproto.NewReader(b.br).ReadMIMEHeader()
	return err
}

func (b *chunkedBody) Close() error { return nil }

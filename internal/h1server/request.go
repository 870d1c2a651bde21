package h1server

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// headEnd waits until br holds a request's whole head and returns the index of the
// blank line that ends it. It reports false when the head does not fit the buffer
// (a rare, large head: net/http's to read) or the read failed (err says which).
func headEnd(br *bufio.Reader) (end int, ok bool, err error) {
	searched := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		from := max(searched-3, 0)
		if i := bytes.Index(buf[from:], []byte("\r\n\r\n")); i >= 0 {
			return from + i, true, nil
		}
		searched = len(buf)
		if len(buf) == br.Size() {
			return 0, false, nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return 0, false, err
		}
	}
}

// parseRequest reads a simple request whose head br holds whole, ending at end
// (headEnd): HTTP/1.1, GET or POST, a path the server serves itself (serves), one
// Host, a body framed by Content-Length or none, and nothing else that needs
// net/http's rules (Expect, Upgrade, Transfer-Encoding, folded lines). It returns
// nil, having read nothing, for every other request; FuzzParseRequest holds what it
// accepts to http.ReadRequest's reading of the same bytes.
func parseRequest(br *bufio.Reader, end int, serves func(method, path string) bool) *http.Request {
	buf, _ := br.Peek(end + 4)
	block := string(buf[:end+2]) // every line with its CRLF
	line, rest, _ := strings.Cut(block, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || (method != http.MethodGet && method != http.MethodPost) ||
		!strings.HasPrefix(target, "/") {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || !serves(method, u.Path) {
		return nil
	}

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
	for _, k := range [...]string{"Expect", "Upgrade", "Transfer-Encoding", "Trailer"} {
		if h[k] != nil {
			return nil
		}
	}
	hosts, lengths := h["Host"], h["Content-Length"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) || len(lengths) > 1 {
		return nil
	}
	req := &http.Request{Method: method, URL: u, Proto: proto, ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Host: hosts[0], RequestURI: target, Body: http.NoBody}
	delete(h, "Host") // as net/http's server does: it is in Request.Host
	if !closeOrKeepAlive(h["Connection"], &req.Close) {
		return nil
	}
	if lengths != nil {
		length, ok := contentLength(lengths[0])
		if !ok {
			return nil
		}
		req.ContentLength = length
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"} // as net/http does, for HTTP/1.0 caches
	}
	_, _ = br.Discard(end + 4)
	return req
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

// closeOrKeepAlive reads a Connection header: close asks for the connection to end
// after this exchange. It reports false for any other token (upgrade, a hop-by-hop
// header list), which the fast path leaves to net/http.
func closeOrKeepAlive(conn []string, close *bool) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
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

// body is a request body of a known length, read from the connection's reader.
// Its last bytes come with io.EOF.
type body struct {
	br   *bufio.Reader
	left int64
}

func (b *body) Read(p []byte) (int, error) {
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

func (b *body) Close() error { return nil }

// discard reads what the handler left of the body, when it is small enough to be
// worth keeping the connection for; it reports whether the connection can carry
// the client's next request.
func (b *body) discard() bool {
	if b.left <= 0 {
		return true
	}
	if b.left > maxDiscard {
		return false
	}
	n, err := b.br.Discard(int(b.left)) // #nosec G115 -- at most maxDiscard
	b.left -= int64(n)
	return err == nil
}

// maxDiscard is how much of a body a handler left unread the server reads past to
// keep the connection (net/http's figure); with more left it closes.
const maxDiscard = 256 << 10

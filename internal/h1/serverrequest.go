package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
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

	h := parseFields(rest)
	if h == nil {
		return nil
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

// discard reads what the handler left of the body, when it is small enough to be
// worth keeping the connection for; it reports whether the connection can carry
// the client's next request.
func (b *lengthBody) discard() bool {
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

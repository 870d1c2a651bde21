package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// answers are upstream answers as they come off the wire, each followed by the
// start of the next one on the connection.
var answers = []struct {
	name string
	raw  string
	fast bool // the fast path takes it
}{
	{"json", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-Request-Id: req_1\r\n\r\n{\"ok\":true}", true},
	{"stream", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"d\r\ndata: {\"a\":1}\r\n\r\n6\r\n\n\n\n\n\n\r\n0\r\n\r\n", true},
	{"trailer after the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", true},
	{"error", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 2\r\n\r\n{}", true},
	{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", true},
	{"lower-case keys, repeated key, spaces", "HTTP/1.1 200 OK\r\ncontent-length:  3 \r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nx-a_b: \tv\r\n\r\nabc", true},
	{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true},
	{"keep-alive", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok", true},
	{"chunked, upper case", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", true},
	{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true},

	{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	{"until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", false},
	{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	{"no content", "HTTP/1.1 204 No Content\r\n\r\n", false},
	{"both framings", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false},
	{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", false},
	{"gzip framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false},
	{"declared trailer", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 1\r\n\r\n", false},
	{"folded line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", false},
	{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", false},
	{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false},
	{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", false},
	{"upgrade", "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 0\r\n\r\n", false},
}

func TestReadResponseMatchesNetHTTP(t *testing.T) {
	next := "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			raw := []byte(a.raw + next)
			got := parseResponse(bufio.NewReader(bytes.NewReader(raw)), post())
			if (got != nil) != a.fast {
				t.Fatalf("fast path took it: %v, want %v", got != nil, a.fast)
			}
			if msg := compareWithNetHTTP(raw); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// FuzzReadResponse holds the fast path to net/http's reading of the same bytes:
// when it takes an answer, net/http must read the same status, header, framing and
// body, and leave the connection at the same byte.
func FuzzReadResponse(f *testing.F) {
	for _, a := range answers {
		f.Add([]byte(a.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if msg := compareWithNetHTTP(raw); msg != "" {
			t.Fatal(msg)
		}
	})
}

func post() *http.Request {
	req, _ := http.NewRequest(http.MethodPost, "http://upstream/v1/chat/completions", nil)
	return req
}

// compareWithNetHTTP reads raw with readResponse and with http.ReadResponse and
// describes the first difference, or returns "".
func compareWithNetHTTP(raw []byte) string {
	fastBR := bufio.NewReader(bytes.NewReader(raw))
	fast := parseResponse(fastBR, post())
	if fast == nil {
		return "" // net/http reads it: nothing to compare
	}
	slowBR := bufio.NewReader(bytes.NewReader(raw))
	slow, err := http.ReadResponse(slowBR, post())
	if err != nil {
		return "the fast path took an answer net/http refuses: " + err.Error()
	}
	type view struct {
		Status                string
		StatusCode            int
		Proto                 string
		ProtoMajor, ProtoMin  int
		Header                http.Header
		ContentLength         int64
		TransferEncoding      []string
		Close                 bool
		Body                  string
		BodyErr, Rest, RestEr string
	}
	see := func(r *http.Response, br *bufio.Reader) view {
		body, err := io.ReadAll(r.Body)
		rest, restErr := io.ReadAll(br)
		v := view{Status: r.Status, StatusCode: r.StatusCode, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMin: r.ProtoMinor,
			Header: r.Header, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Close: r.Close,
			Body: string(body), Rest: string(rest)}
		if err != nil {
			v.BodyErr = "error" // the wording differs; that there is one must not
		}
		if restErr != nil {
			v.RestEr = restErr.Error()
		}
		return v
	}
	f, s := see(fast, fastBR), see(slow, slowBR)
	if reflect.DeepEqual(f, s) {
		return ""
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(
		"the fast path and net/http differ on " + string(raw) + ":\n fast " + sprint(f) + "\n  net " + sprint(s))
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

// BenchmarkReadResponse reads a typical JSON answer's header and body: in place,
// and with net/http.
func BenchmarkReadResponse(b *testing.B) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Fri, 27 Nov 2026 15:00:00 GMT\r\n" +
		"X-Request-Id: req_fake1\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
	for _, c := range []struct {
		name string
		read func(*bufio.Reader, *http.Request) (*http.Response, error)
	}{{"in-place", readResponse}, {"net-http", http.ReadResponse}} {
		b.Run(c.name, func(b *testing.B) {
			rd := bytes.NewReader(raw)
			br := bufio.NewReaderSize(rd, readBufferSize)
			req := post()
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(raw)
				br.Reset(rd)
				resp, err := c.read(br, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

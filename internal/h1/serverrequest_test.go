package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func servesV1(_, path string) bool { return strings.HasPrefix(path, "/v1/") }

// parseFast runs the fast path on raw: the request, or nil when it is net/http's.
func parseFast(raw string) (*http.Request, *bufio.Reader) {
	br := bufio.NewReaderSize(strings.NewReader(raw), headBufferSize)
	end, whole, _ := headEnd(br)
	if !whole {
		return nil, br
	}
	return parseRequest(br, end, servesV1), br
}

func TestParseRequest(t *testing.T) {
	const body = `{"model":"m"}`
	req, br := parseFast("POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: gw:8080\r\ncontent-type: application/json\r\n" +
		"Content-Length: 13\r\nX-Two: a\r\nX-Two:  b \r\nConnection: keep-alive, close\r\n\r\n" + body + "GET /next")
	if req == nil {
		t.Fatal("a simple POST went to net/http")
	}
	if req.Method != "POST" || req.URL.Path != "/v1/chat/completions" || req.URL.RawQuery != "x=1" || req.Host != "gw:8080" ||
		req.RequestURI != "/v1/chat/completions?x=1" || req.ContentLength != 13 || !req.Close {
		t.Fatalf("request %+v", req)
	}
	want := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"13"}, "X-Two": {"a", "b"},
		"Connection": {"keep-alive, close"}}
	if !reflect.DeepEqual(req.Header, want) {
		t.Fatalf("header %v, want %v", req.Header, want)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != body+"GET /next" {
		t.Fatalf("left unread %q", rest)
	}

	for name, raw := range map[string]string{
		"HEAD":               "HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n",
		"HTTP/1.0":           "GET /v1/models HTTP/1.0\r\nHost: h\r\n\r\n",
		"not the API":        "GET /admin/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"absolute form":      "GET http://h/v1/models HTTP/1.1\r\nHost: h\r\n\r\n",
		"no Host":            "GET /v1/models HTTP/1.1\r\n\r\n",
		"two Hosts":          "GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"chunked":            "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"Expect":             "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
		"Upgrade":            "GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"two lengths":        "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		"signed length":      "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: +2\r\n\r\n{}",
		"folded line":        "GET /v1/models HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\n\r\n",
		"space before colon": "GET /v1/models HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n",
		"bare LF":            "GET /v1/models HTTP/1.1\nHost: h\n\n",
		"head too large":     "GET /v1/models HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", headBufferSize) + "\r\n\r\n",
		"bad Host":           "GET /v1/models HTTP/1.1\r\nHost: a b\r\n\r\n",
	} {
		if req, _ := parseFast(raw); req != nil {
			t.Errorf("%s: read by the fast path: %+v", name, req)
		}
	}
}

// FuzzParseRequest holds the fast path to net/http: every request it reads,
// http.ReadRequest reads the same way (and net/http's server accepts its Host);
// what it refuses is net/http's to answer.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}",
		"GET /v1/models?a=b HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer k\r\nPragma: no-cache\r\n\r\n",
		"GET /v1/%2e%2e/x HTTP/1.1\r\nhost: [::1]:80\r\nX-A: 1\r\nx-a: 2\r\nConnection: close\r\n\r\n",
		"POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /v1/x HTTP/1.1\r\nHost: h\r\nX: \x80\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fast, fbr := parseFast(raw)
		if fast == nil {
			return
		}
		slow, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("fast path read %q; net/http refuses it: %v", raw, err)
		}
		switch {
		case slow.Method != fast.Method || slow.RequestURI != fast.RequestURI || slow.URL.String() != fast.URL.String():
			t.Fatalf("request line: net/http %s %s, fast %s %s", slow.Method, slow.URL, fast.Method, fast.URL)
		case slow.Host != fast.Host || !httpguts.ValidHostHeader(slow.Host): // as net/http's server requires
			t.Fatalf("host: net/http %q, fast %q", slow.Host, fast.Host)
		case !reflect.DeepEqual(slow.Header, fast.Header):
			t.Fatalf("header: net/http %v, fast %v", slow.Header, fast.Header)
		case slow.ContentLength != fast.ContentLength || slow.Close != fast.Close || slow.TransferEncoding != nil:
			t.Fatalf("framing: net/http %d %v %v, fast %d %v", slow.ContentLength, slow.Close, slow.TransferEncoding,
				fast.ContentLength, fast.Close)
		}
		slowBody, _ := io.ReadAll(slow.Body)
		fastBody, _ := io.ReadAll(&lengthBody{br: fbr, left: fast.ContentLength})
		if !bytes.Equal(slowBody, fastBody) {
			t.Fatalf("body: net/http %q, fast %q", slowBody, fastBody)
		}
	})
}

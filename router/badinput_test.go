package router

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/store"
)

// badInput is one hostile or broken request and exactly what it must get back.
type badInput struct {
	name    string
	method  string
	path    string
	headers map[string][]string // replaces the default Authorization when it sets one
	noAuth  bool
	body    string
	status  int
	typ     string
	code    string
	param   string
}

// TestBadInput runs hostile and broken requests against a running gateway and checks
// the exact status and error body of each — and that none of them reached the
// upstream or moved the wallet.
func TestBadInput(t *testing.T) {
	h := newHarness(t, usd)
	ctx := context.Background()
	other, _ := h.store.CreateTenant(ctx, "other")
	_, otherKey, _ := h.store.CreateKey(ctx, storeNewKey(other.ID))
	revokedKey := h.revokedKey()

	valid := `{"model":"test-model","messages":[{"role":"user","content":"hi"}]}`
	withField := func(field, value string) string {
		return `{"model":"test-model","messages":[{"role":"user","content":"hi"}],"` + field + `":` + value + `}`
	}
	bearer := func(v string) map[string][]string { return map[string][]string{"Authorization": {v}} }
	const chat = "/v1/chat/completions"

	cases := []badInput{
		{name: "NoAuthorization", noAuth: true, body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "DuplicateAuthorization", headers: map[string][]string{"Authorization": {"Bearer " + h.key, "Bearer " + otherKey}}, body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "BasicScheme", headers: bearer("Basic dXNlcjpwYXNz"), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "EmptyBearer", headers: bearer("Bearer "), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "MalformedKey", headers: bearer("Bearer sk-tg-123"), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "BadChecksumKey", headers: bearer("Bearer " + h.key[:len(h.key)-1] + flip(h.key[len(h.key)-1])), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "UnknownWellFormedKey", headers: bearer("Bearer " + storeGenerateKey()), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "RevokedKey", headers: bearer("Bearer " + revokedKey), body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "KeyInQueryString", noAuth: true, path: chat + "?api_key=" + h.key, body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "KeyInQueryStringBesideHeader", path: chat + "?key=" + h.key, body: valid, status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{name: "BodyOverLimit", body: `{"model":"test-model","messages":[{"role":"user","content":"` + strings.Repeat("x", 17<<20) + `"}]}`, status: 413, typ: "invalid_request_error", code: "request_too_large"},
		{name: "EmptyBody", body: ``, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "TruncatedJSON", body: `{"model":"test-model","messages":[{"role":"us`, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "ConcatenatedJSON", body: valid + valid, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "TrailingGarbage", body: valid + " x", status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "ArrayNotObject", body: `[` + valid + `]`, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "NullBody", body: `null`, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "DeeplyNestedJSON", body: `{"model":"test-model","messages":[{"role":"user","content":"hi"}],"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "InvalidUTF8", body: "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "LoneSurrogate", body: `{"model":"test-model","messages":[{"role":"user","content":"\ud800"}]}`, status: 400, typ: "invalid_request_error", code: "invalid_request"},
		{name: "MaxTokensNegative", body: withField("max_tokens", "-1"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxTokensZero", body: withField("max_tokens", "0"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxTokensString", body: withField("max_tokens", `"100"`), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxTokensTwoToThe63", body: withField("max_tokens", "9223372036854775808"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxTokensMaxInt64", body: withField("max_tokens", "9223372036854775807"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxTokensFloat", body: withField("max_tokens", "10.5"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_tokens"},
		{name: "MaxCompletionTokensNegative", body: withField("max_completion_tokens", "-5"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "max_completion_tokens"},
		{name: "HugeN", body: withField("n", "1000000"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "n"},
		{name: "ZeroN", body: withField("n", "0"), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "n"},
		{name: "EmptyMessages", body: `{"model":"test-model","messages":[]}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "messages"},
		{name: "MessagesNotArray", body: `{"model":"test-model","messages":"hi"}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "messages"},
		{name: "MessageWithoutRole", body: `{"model":"test-model","messages":[{"content":"hi"}]}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "messages[0].role"},
		{name: "MissingModel", body: `{"messages":[{"role":"user","content":"hi"}]}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "model"},
		{name: "ModelNotString", body: `{"model":42,"messages":[{"role":"user","content":"hi"}]}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "model"},
		{name: "UnknownModel", body: `{"model":"gpt-9-ultra","messages":[{"role":"user","content":"hi"}]}`, status: 404, typ: "invalid_request_error", code: "model_not_found", param: "model"},
		{name: "UnpricedModel", body: `{"model":"unpriced-model","messages":[{"role":"user","content":"hi"}]}`, status: 400, typ: "invalid_request_error", code: "model_not_priced", param: "model"},
		{name: "PromptOverContextWindow", body: `{"model":"test-model","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 60000) + `"}]}`, status: 400, typ: "invalid_request_error", code: "context_length_exceeded", param: "messages"},
		{name: "StreamOptionsWithoutStream", body: withField("stream_options", `{"include_usage":true}`), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "stream_options"},
		{name: "StreamNotBool", body: withField("stream", `"yes"`), status: 400, typ: "invalid_request_error", code: "invalid_request", param: "stream"},
		{name: "EmbeddingsEmptyInput", path: "/v1/embeddings", body: `{"model":"test-embed","input":""}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "input"},
		{name: "EmbeddingsInputObject", path: "/v1/embeddings", body: `{"model":"test-embed","input":{"a":1}}`, status: 400, typ: "invalid_request_error", code: "invalid_request", param: "input"},
		{name: "PathTraversalToAdmin", method: "GET", path: "/v1/../admin/api/v1/tenants", status: 404, typ: "invalid_request_error", code: "unknown_url"},
		{name: "EncodedPathTraversalToAdmin", method: "GET", path: "/v1/%2e%2e/admin/api/v1/tenants", status: 404, typ: "invalid_request_error", code: "unknown_url"},
		{name: "IdempotencyKeyTooLong", headers: map[string][]string{"Idempotency-Key": {strings.Repeat("k", 300)}}, body: valid, status: 400, typ: "invalid_request_error", code: "invalid_request"},
	}
	if len(cases) < 30 {
		t.Fatalf("the suite must try at least 30 bad inputs, has %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = chat
			}
			req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(tc.body))
			if method == http.MethodGet {
				req.Body = nil
			}
			if !tc.noAuth {
				req.Header.Set("Authorization", "Bearer "+h.key)
			}
			for k, vs := range tc.headers {
				req.Header.Del(k)
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			var eb struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("not an OpenAI error body: %.300s", body)
			}
			if eb.Error.Type != tc.typ || eb.Error.Code == nil || *eb.Error.Code != tc.code {
				t.Fatalf("type/code %s/%v, want %s/%s: %s", eb.Error.Type, eb.Error.Code, tc.typ, tc.code, body)
			}
			gotParam := ""
			if eb.Error.Param != nil {
				gotParam = *eb.Error.Param
			}
			if gotParam != tc.param {
				t.Fatalf("param %q, want %q: %s", gotParam, tc.param, body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
			if strings.Contains(string(body), h.key) || strings.Contains(string(body), "sk-upstream-secret") {
				t.Fatal("an error body echoed a secret")
			}
		})
	}
	if n := h.upstream.CallCount(); n != 0 {
		t.Fatalf("bad inputs reached the upstream %d times", n)
	}
	if w := h.wallet(); w.Balance != usd || w.Held != 0 {
		t.Fatalf("bad inputs moved the wallet: %+v", w)
	}
}

// TestClientCannotSteerTheUpstream: fields and headers a client sends to redirect or
// re-authenticate the upstream call are neither honoured nor forwarded.
func TestClientCannotSteerTheUpstream(t *testing.T) {
	h := newHarness(t, usd)
	body := `{"model":"test-model","messages":[{"role":"user","content":"hi"}],"base_url":"http://169.254.169.254/latest","api_key":"sk-attacker","api_base":"http://evil","organization":"org-x","user":"kept-field"}`
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Connection", "X-Secret-Hop, keep-alive")
	req.Header.Set("X-Secret-Hop", "hop")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("OpenAI-Organization", "org-attacker")
	req.Host = "internal.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	up := h.upstream.Calls()[0]
	for _, field := range []string{"base_url", "api_key", "api_base", "organization", "sk-attacker"} {
		if bytes.Contains(up.Body, []byte(field)) {
			t.Errorf("upstream body carries %q: %s", field, up.Body)
		}
	}
	if !bytes.Contains(up.Body, []byte(`"user":"kept-field"`)) {
		t.Error("an ordinary OpenAI field was dropped")
	}
	if got := up.Header.Get("Authorization"); got != "Bearer sk-upstream-secret" {
		t.Errorf("upstream Authorization %q: must be the channel's key", got)
	}
	for _, hdr := range []string{"X-Secret-Hop", "Proxy-Authorization", "Cookie", "X-Forwarded-For", "OpenAI-Organization"} {
		if up.Header.Get(hdr) != "" {
			t.Errorf("client header %s was forwarded upstream", hdr)
		}
	}
	if strings.Contains(up.Header.Get("Host"), "internal.example") {
		t.Error("client Host forwarded")
	}
}

// TestHeaderInjectionRefusedByServer: CR/LF inside a header value never reaches a
// handler — Go's HTTP server refuses the request line itself (400, before routing).
func TestHeaderInjectionRefusedByServer(t *testing.T) {
	h := newHarness(t, usd)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.key + "\rX-Injected: 1\r\nContent-Length: 2\r\n\r\n{}"
	conn.Write([]byte(raw))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if h.upstream.CallCount() != 0 || len(h.calls()) != 0 {
		t.Fatal("an injected request got through")
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func storeNewKey(tenantID string) store.NewKey { return store.NewKey{TenantID: tenantID, Name: "k"} }

func storeGenerateKey() string { return store.GenerateKey() }

// revokedKey makes a key for the harness tenant and revokes it.
func (h *harness) revokedKey() string {
	h.t.Helper()
	k, secret, err := h.store.CreateKey(context.Background(), store.NewKey{TenantID: h.tenant.ID, Name: "revoked"})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.RevokeKey(context.Background(), k.ID); err != nil {
		h.t.Fatal(err)
	}
	return secret
}

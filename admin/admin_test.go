package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
)

const testToken = "admin-secret-token-0123456789"

func init() { gin.SetMode(gin.TestMode) }

// fakeNotifier counts what the API told the gateway, and can be made to fail reloads.
type fakeNotifier struct {
	mu        sync.Mutex
	reloads   int
	forgotten []string
	failWith  error
}

func (f *fakeNotifier) Reload(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return f.failWith
}

func (f *fakeNotifier) ForgetKey(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgotten = append(f.forgotten, id)
}

func (f *fakeNotifier) reloadCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}

func (f *fakeNotifier) forgottenKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.forgotten...)
}

// harness is an admin API on a fresh SQLite store, mounted on a gin engine.
type harness struct {
	t      *testing.T
	st     *store.Store
	notify *fakeNotifier
	engine *gin.Engine
	api    *API
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(t.TempDir(), "t.db"), SecretKey: secret})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	n := &fakeNotifier{}
	authorize := func(tok string) bool { return subtle.ConstantTimeCompare([]byte(tok), []byte(testToken)) == 1 }
	e := gin.New()
	api := New(st, n, authorize)
	api.Register(e)
	return &harness{t: t, st: st, notify: n, engine: e, api: api}
}

// response is a recorded answer with its body decoded (numbers kept as json.Number).
type response struct {
	code   int
	header http.Header
	raw    string
	body   map[string]any
}

// do sends a request with the admin token unless headers set Authorization
// themselves; headers come as name, value pairs.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, Prefix+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, req)
	r := response{code: w.Code, header: w.Header(), raw: w.Body.String()}
	if r.raw != "" {
		dec := json.NewDecoder(strings.NewReader(r.raw))
		dec.UseNumber()
		if err := dec.Decode(&r.body); err != nil {
			h.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, r.raw)
		}
	}
	return r
}

// must fails the test unless the answer has the wanted status.
func (r response) must(t *testing.T, code int) response {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.raw)
	}
	return r
}

// str reads a string field.
func (r response) str(t *testing.T, field string) string {
	t.Helper()
	v, ok := r.body[field].(string)
	if !ok {
		t.Fatalf("field %q is %#v, want a string; body %s", field, r.body[field], r.raw)
	}
	return v
}

// data returns the "data" array of a list answer.
func (r response) data(t *testing.T) []map[string]any {
	t.Helper()
	arr, ok := r.body["data"].([]any)
	if !ok {
		t.Fatalf("no data array in %s", r.raw)
	}
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i] = v.(map[string]any)
	}
	return out
}

// wantError checks an error answer's status and param, and that it carries a message.
func (r response) wantError(t *testing.T, code int, param string) string {
	t.Helper()
	r.must(t, code)
	e, ok := r.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.raw)
	}
	got, _ := e["param"].(string)
	if got != param {
		t.Fatalf("error param %q, want %q; body %s", got, param, r.raw)
	}
	msg, _ := e["message"].(string)
	if msg == "" {
		t.Fatalf("error without message: %s", r.raw)
	}
	return msg
}

// createTenant makes a tenant through the API and returns its id.
func (h *harness) createTenant(name string) string {
	h.t.Helper()
	return h.do("POST", "/tenants", `{"name":"`+name+`"}`).must(h.t, 201).str(h.t, "id")
}

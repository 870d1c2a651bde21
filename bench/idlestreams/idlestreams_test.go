package idlestreams

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenHoldsStreams: Open returns once every stream has its first content chunk,
// the streams stay open until Close, and an answer that is not 200 is an error.
func TestOpenHoldsStreams(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-ok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		open.Add(1)
		defer open.Add(-1)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {\"role\":\"assistant\"}\n\n"))
		w.(http.Flusher).Flush()
		time.Sleep(10 * time.Millisecond) // the content chunk comes in a later read
		w.Write([]byte("data: {\"content\":\"Hi\"}\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent until the client leaves
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	s, err := Open(addr, "/v1/chat/completions", "sk-ok", []byte(`{"stream":true}`), 300, 10*time.Second)
	if err != nil || s.Len() != 300 {
		t.Fatalf("opened %d of 300: %v", s.Len(), err)
	}
	if n := open.Load(); n != 300 {
		t.Fatalf("%d handlers running with 300 streams open", n)
	}
	s.Close()
	for deadline := time.Now().Add(5 * time.Second); open.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open after Close", open.Load())
		}
	}

	s, err = Open(addr, "/v1/chat/completions", "sk-wrong", nil, 2, 10*time.Second)
	s.Close()
	if err == nil || !strings.Contains(err.Error(), "401") || s.Len() != 0 {
		t.Fatalf("a 401 answer gave %v with %d streams", err, s.Len())
	}
}

func TestProcReadings(t *testing.T) {
	rss, err := RSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS %d, %v", rss, err)
	}
	streams, limit, open, err := Capacity(os.Getpid(), 10)
	if err != nil || limit < 1 || open < 3 || streams != max(0, (limit-open-10)/2) {
		t.Fatalf("Capacity: %d streams, limit %d, %d open, %v", streams, limit, open, err)
	}
}

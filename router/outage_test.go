package router

import (
	"context"
	"database/sql"
	"net/http"
	"testing"

	_ "github.com/mattn/go-sqlite3" // a second, independent connection that locks the database
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// lockDatabase takes SQLite's exclusive lock from another connection, as a backup
// tool or a stuck process would; unlock releases it.
func (h *harness) lockDatabase() (unlock func()) {
	h.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+h.dbPath+"?_busy_timeout=5000")
	if err != nil {
		h.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		h.t.Fatal(err)
	}
	return func() {
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
}

func TestStoreOutage(t *testing.T) {
	t.Run("LockedBeforeTheCall/503NoUpstreamCall", func(t *testing.T) {
		h := newHarness(t, usd)
		unlock := h.lockDatabase()
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		unlock()
		if resp.StatusCode != http.StatusServiceUnavailable || *errorOf(t, body).Code != "store_unavailable" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if h.upstream.CallCount() != 0 {
			t.Fatal("the upstream was called although nothing could be held")
		}
		if resp, _ := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
			t.Fatalf("after the outage: %d", resp.StatusCode)
		}
	})
	t.Run("LockedAfterServed/OutboxSettlesOnce", func(t *testing.T) {
		h := newHarness(t, usd)
		var unlock func()
		h.upstream.SetRespond(func(providertest.RecordedRequest) *providertest.Behavior {
			unlock = h.lockDatabase() // the hold is in; the settlement will find the store locked
			return &providertest.Behavior{PromptTokens: 10, CompletionTokens: 20}
		})
		resp, body := h.post("/v1/chat/completions", chatBody(nil))
		if resp.StatusCode != 200 {
			t.Fatalf("a served call must still reach the client: %d %s", resp.StatusCode, body)
		}
		if h.outbox.Len() != 1 {
			t.Fatalf("outbox holds %d settlements, want 1", h.outbox.Len())
		}
		unlock()
		n, err := h.store.DrainOutbox(context.Background(), h.outbox)
		if err != nil || n != 1 {
			t.Fatalf("drained %d: %v", n, err)
		}
		if n, _ := h.store.DrainOutbox(context.Background(), h.outbox); n != 0 {
			t.Fatalf("second drain settled %d more", n)
		}
		want := costOf(10, 20)
		if w := h.wallet(); w.Balance != usd-want || w.Held != 0 {
			t.Fatalf("balance %s held %s, want exactly one debit of %s", w.Balance, w.Held, want)
		}
	})
}

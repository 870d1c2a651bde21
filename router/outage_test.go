package router

import (
	"context"
	"database/sql"
	"net/http"
	"testing"
	"time"

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

// TestStoreOutage locks the database behind a running gateway. Settlements are
// written behind the answers, so the call served while the lock is taken still
// reaches its client; its settlement goes to the outbox once the write times out,
// the store then refuses new calls (503, no upstream call) until it can write
// again, and the outbox bills the served call exactly once.
func TestStoreOutage(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 10, CompletionTokens: 20})
	if resp, body := h.post("/v1/chat/completions", chatBody(nil)); resp.StatusCode != 200 {
		t.Fatalf("before the outage: %d %s", resp.StatusCode, body)
	}
	// The first call's settlement is written behind its answer: commit it before
	// the lock, so only the call served during the outage goes to the outbox.
	if err := h.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	unlock := h.lockDatabase()
	defer func() { unlock() }()
	resp, body := h.post("/v1/chat/completions", chatBody(nil))
	if resp.StatusCode != 200 {
		t.Fatalf("a served call must still reach the client: %d %s", resp.StatusCode, body)
	}
	waitFor(t, 10*time.Second, "the settlement to reach the outbox", func() bool { return h.outbox.Len() == 1 })

	calls := h.upstream.CallCount()
	resp, body = h.post("/v1/chat/completions", chatBody(nil))
	if resp.StatusCode != http.StatusServiceUnavailable || *errorOf(t, body).Code != "store_unavailable" {
		t.Fatalf("during the outage: status %d: %s", resp.StatusCode, body)
	}
	if h.upstream.CallCount() != calls {
		t.Fatal("the upstream was called although the store cannot write")
	}

	unlock()
	unlock = func() {}
	n, err := h.store.DrainOutbox(context.Background(), h.outbox)
	if err != nil || n != 1 {
		t.Fatalf("drained %d: %v", n, err)
	}
	if n, _ := h.store.DrainOutbox(context.Background(), h.outbox); n != 0 {
		t.Fatalf("second drain settled %d more", n)
	}
	waitFor(t, 10*time.Second, "the store to take calls again", func() bool {
		resp, _ := h.post("/v1/chat/completions", chatBody(nil))
		return resp.StatusCode == 200
	})
	want := 3 * costOf(10, 20) // before, during (from the outbox) and after the outage
	if w := h.wallet(); w.Balance != usd-want || w.Held != 0 {
		t.Fatalf("balance %s held %s, want exactly three debits of %s", w.Balance, w.Held, costOf(10, 20))
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

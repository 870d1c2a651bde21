package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// postgresForNodes gives a test its own PostgreSQL schema, or skips saying why.
func postgresForNodes(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("TOLLGATE_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TOLLGATE_TEST_POSTGRES_DSN is not set in CI: the multi-node suite must run")
		}
		t.Skip("multi-node PostgreSQL suite skipped: TOLLGATE_TEST_POSTGRES_DSN is not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "nodes_" + hex.EncodeToString(b[:])
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		sqlDB.Close()
	})
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func nodeEnv(dsn string, t *testing.T) map[string]string {
	return map[string]string{"TOLLGATE_DATABASE_URL": dsn, "TOLLGATE_DATA_DIR": t.TempDir(), "TOLLGATE_ADMIN_TOKEN": testAdminToken,
		"TOLLGATE_SECRET_KEY": strings.Repeat("ab", 32), "TOLLGATE_UPSTREAM_TIMEOUT": "2s", "TOLLGATE_SWEEP_INTERVAL": "1s"}
}

func plainCall(baseURL, key string) int {
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMultiNodeOnPostgres: two gateway processes on one PostgreSQL database share
// wallets exactly, see each other's configuration changes within a second, and sweep
// the holds of a node killed mid-load.
func TestMultiNodeOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresForNodes(t)
	up := providertest.NewOpenAI()
	defer up.Close()
	up.SetRecording(false)
	a := startProc(t, nodeEnv(dsn, t))
	b := startProc(t, nodeEnv(dsn, t))

	// Each call costs exactly its hold: input free, 10 output tokens at $1/M, and the
	// fake reports completion_tokens = max_tokens.
	if st := a.admin("PUT", "/prices/gpt-4o-mini", map[string]any{"input_usd_per_mtok": "0", "output_usd_per_mtok": "1"}, nil); st != 200 {
		t.Fatalf("price: %d", st)
	}
	const n = 120
	tenantID, key := setupProc(t, a, up.URL(), billing.Nanos(n*10*1000).String())

	t.Run("ExactlyNServedAcrossNodes", func(t *testing.T) {
		time.Sleep(time.Second) // node b picks up the channel and price
		var served, refused, other atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 24; i++ {
			node := []*proc{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 15; j++ {
					switch plainCall(node.url, key) {
					case 200:
						served.Add(1)
					case 402:
						refused.Add(1)
					default:
						other.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if served.Load() != n || other.Load() != 0 {
			t.Fatalf("served %d (want exactly %d), refused %d, other %d", served.Load(), n, refused.Load(), other.Load())
		}
		st := readLedger(b, tenantID)
		checkLedger(t, st)
		if st.balance != "0.000000000" || st.usageEntries != n {
			t.Fatalf("balance %s with %d debits", st.balance, st.usageEntries)
		}
	})

	t.Run("ChangesReachEveryNodeWithinASecond", func(t *testing.T) {
		a.admin("POST", "/tenants/"+tenantID+"/topups", map[string]any{"amount_usd": "1", "idempotency_key": "more"}, nil)
		var k struct{ ID, Key string }
		a.admin("POST", "/tenants/"+tenantID+"/keys", map[string]any{"name": "short-lived"}, &k)
		if st := plainCall(b.url, k.Key); st != 200 {
			t.Fatalf("new key on node b: %d", st)
		}
		a.admin("DELETE", "/keys/"+k.ID, nil, nil)
		revoked := time.Now()
		for plainCall(b.url, k.Key) != 401 {
			if time.Since(revoked) > time.Second {
				t.Fatal("node b still accepts a key revoked on node a after 1 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		a.admin("PUT", "/prices/gpt-4o-mini", map[string]any{"input_usd_per_mtok": "0", "output_usd_per_mtok": "2"}, nil)
		changed := time.Now()
		for {
			req, _ := http.NewRequest(http.MethodPost, b.url+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Header.Get("X-Tollgate-Cost-Usd") == "0.000020000" {
				break
			}
			if time.Since(changed) > time.Second {
				t.Fatalf("node b still bills %s a call after a price change on node a 1 s ago", resp.Header.Get("X-Tollgate-Cost-Usd"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("KilledNodesHoldsSweptByTheOther", func(t *testing.T) {
		up.SetBehavior(providertest.Behavior{Chunks: 40, ChunkDelay: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			node := []*proc{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					streamCall(ctx, node.url, key)
				}
			}()
		}
		time.Sleep(800 * time.Millisecond)
		a.kill()
		time.Sleep(300 * time.Millisecond)
		cancel()
		wg.Wait()
		deadline := time.Now().Add(40 * time.Second)
		var st ledgerState
		for {
			st = readLedger(b, tenantID)
			if st.held == "0.000000000" || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		checkLedger(t, st)
	})
}

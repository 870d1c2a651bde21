package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

// day0 is a fixed UTC midnight the dashboard tests place their calls around.
var day0 = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)

// seedFlows logs a small, known history: two tenants over two days, served, refused
// (402), rejected (404) and failed-on-every-channel (502) calls.
func seedFlows(t *testing.T, s *Store) (acme, globex Tenant) {
	t.Helper()
	ctx := context.Background()
	var err error
	if acme, err = s.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if globex, err = s.CreateTenant(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	at := func(d int, h int) int64 { return day0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour).UnixMilli() }
	served := func(ten, key, model, ch string, cost billing.Nanos, when int64) CallRecord {
		return CallRecord{RequestID: "r", TenantID: ten, KeyID: key, Endpoint: "chat", Model: model, ChannelID: ch, Provider: "openai",
			Status: 200, Usage: billing.Usage{PromptTokens: 10, CompletionTokens: 5}, Cost: cost, LatencyMs: 100, CreatedAt: when,
			Attempts: []Attempt{{ChannelID: ch, Provider: "openai", Status: 200, LatencyMs: 100}}}
	}
	recs := []CallRecord{
		served(acme.ID, "key_a", "gpt-4o", "ch_1", 1000, at(0, 1)),
		served(acme.ID, "key_a", "gpt-4o", "ch_1", 3000, at(0, 2)),
		served(acme.ID, "key_a", "gpt-4o-mini", "ch_2", 500, at(1, 3)),
		served(globex.ID, "key_g", "gpt-4o", "ch_1", 7000, at(1, 4)),
		{RequestID: "r402", TenantID: acme.ID, KeyID: "key_a", Endpoint: "chat", Model: "gpt-4o", Status: 402, ErrorCode: "insufficient_quota", CreatedAt: at(1, 5)},
		{RequestID: "r404", TenantID: globex.ID, KeyID: "key_g", Endpoint: "chat", Model: "nope", Status: 404, CreatedAt: at(1, 6)},
		{RequestID: "r502", TenantID: globex.ID, KeyID: "key_g", Endpoint: "chat", Model: "gpt-4o", Status: 502, CreatedAt: at(1, 7),
			Attempts: []Attempt{{ChannelID: "ch_1", Provider: "openai", Status: 500}, {ChannelID: "ch_2", Provider: "azure", Status: 503}}},
	}
	if err := s.RecordCalls(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return acme, globex
}

func TestDailyRollup(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, globex := seedFlows(t, s)

		t.Run("DaysSumTheirCalls", func(t *testing.T) {
			days, err := s.DailyTallies(ctx, RollupFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 2 || !days[0].Day.Equal(day0) || !days[1].Day.Equal(day0.AddDate(0, 0, 1)) {
				t.Fatalf("days = %+v", days)
			}
			want0 := Tally{Calls: 2, Served: 2, Cost: 4000, PromptTokens: 20, CompletionTokens: 10, LatencyMs: 200}
			if days[0].Tally != want0 {
				t.Errorf("day 0 = %+v, want %+v", days[0].Tally, want0)
			}
			want1 := Tally{Calls: 5, Served: 2, Refused: 1, Failed: 2, Cost: 7500, PromptTokens: 20, CompletionTokens: 10, LatencyMs: 200}
			if days[1].Tally != want1 {
				t.Errorf("day 1 = %+v, want %+v", days[1].Tally, want1)
			}
		})
		t.Run("TenantFilterAndDayBounds", func(t *testing.T) {
			// To in the middle of day 1 still counts day 1 in; From at day 1 drops day 0.
			got, err := s.Tally(ctx, RollupFilter{TenantID: acme.ID, From: day0.AddDate(0, 0, 1), To: day0.AddDate(0, 0, 1).Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if got.Calls != 2 || got.Served != 1 || got.Refused != 1 || got.Cost != 500 {
				t.Fatalf("acme on day 1 = %+v, want 2 calls: one served for 500, one 402", got)
			}
			none, err := s.Tally(ctx, RollupFilter{From: day0.AddDate(0, 0, 5)})
			if err != nil || none != (Tally{}) {
				t.Fatalf("empty range = %+v, %v", none, err)
			}
		})
		t.Run("GroupsRankBySpend", func(t *testing.T) {
			tenants, err := s.TallyBy(ctx, RollupFilter{}, ByTenant, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(tenants) != 2 || tenants[0].Group != globex.ID || tenants[0].Cost != 7000 || tenants[1].Cost != 4500 {
				t.Fatalf("by tenant = %+v", tenants)
			}
			models, err := s.TallyBy(ctx, RollupFilter{}, ByModel, 1)
			if err != nil || len(models) != 1 || models[0].Group != "gpt-4o" || models[0].Cost != 11000 || models[0].Calls != 5 {
				t.Fatalf("top model = %+v, %v", models, err)
			}
			if _, err := s.TallyBy(ctx, RollupFilter{}, "colour", 0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("unknown dimension: %v", err)
			}
		})
		t.Run("FailedEverywhereChartsUnderLastChannel", func(t *testing.T) {
			chans, err := s.TallyBy(ctx, RollupFilter{}, ByChannel, 0)
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]Tally{}
			for _, g := range chans {
				byID[g.Group] = g.Tally
			}
			if byID["ch_2"].Failed != 1 || byID["ch_2"].Served != 1 {
				t.Errorf("ch_2 = %+v, want the 502 (last tried there) and one served call", byID["ch_2"])
			}
			if byID[""].Refused != 1 || byID[""].Failed != 1 || byID[""].Calls != 2 {
				t.Errorf("no channel = %+v, want the 402 and the 404", byID[""])
			}
		})
		t.Run("FlowsFromRollupMatchFlowsFromLog", func(t *testing.T) {
			fromRollup, err := s.Flows(ctx, day0, day0.AddDate(0, 0, 2))
			if err != nil {
				t.Fatal(err)
			}
			fromLog, err := s.Flows(ctx, day0.Add(time.Millisecond), day0.AddDate(0, 0, 2))
			if err != nil {
				t.Fatal(err)
			}
			sortFlows(fromRollup)
			sortFlows(fromLog)
			if len(fromRollup) != 6 {
				t.Fatalf("%d flows from the rollup, want 6: %+v", len(fromRollup), fromRollup)
			}
			if !reflect.DeepEqual(fromRollup, fromLog) {
				t.Fatalf("rollup and log disagree:\n%+v\n%+v", fromRollup, fromLog)
			}
			var refused Flow
			for _, f := range fromLog {
				if f.Model == "gpt-4o" && f.ChannelID == "" {
					refused = f
				}
			}
			if refused.Refused != 1 || refused.KeyID != "key_a" {
				t.Fatalf("the 402 flow = %+v, want key_a → gpt-4o → no channel, refused 1", refused)
			}
			if _, err := s.Flows(ctx, day0, day0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("empty window: %v", err)
			}
		})
		t.Run("SettledCallsRollUp", func(t *testing.T) {
			if _, _, err := s.Topup(ctx, acme.ID, 10*billing.NanosPerUSD, "", "seed"); err != nil {
				t.Fatal(err)
			}
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: acme.ID, KeyID: "key_live", Amount: 5000, RequestID: "live"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Settle(ctx, h, CallRecord{RequestID: "live", KeyID: "key_live", Model: "m", ChannelID: "ch_9", Status: 200, Cost: 1234}); err != nil {
				t.Fatal(err)
			}
			keys, err := s.TallyBy(ctx, RollupFilter{From: time.Now().Add(-time.Hour)}, ByKey, 0)
			if err != nil || len(keys) != 1 || keys[0].Group != "key_live" || keys[0].Cost != 1234 || keys[0].Served != 1 {
				t.Fatalf("today's keys = %+v, %v", keys, err)
			}
		})
	})
}

func sortFlows(fs []Flow) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		return a.TenantID+a.KeyID+a.Model+a.ChannelID+a.Provider < b.TenantID+b.KeyID+b.Model+b.ChannelID+b.Provider
	})
}

func TestDashboardLookups(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, globex := seedFlows(t, s)
		t.Run("CallByID", func(t *testing.T) {
			page, err := s.Calls(ctx, CallFilter{Status: 502})
			if err != nil || len(page) != 1 {
				t.Fatalf("502s = %+v, %v", page, err)
			}
			c, err := s.Call(ctx, page[0].ID)
			if err != nil || c.RequestID != "r502" || len(c.Attempts) != 2 || c.Attempts[1].Provider != "azure" {
				t.Fatalf("call = %+v, %v", c, err)
			}
			if _, err := s.Call(ctx, 999999); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown call: %v", err)
			}
		})
		t.Run("TenantNames", func(t *testing.T) {
			names, err := s.TenantNames(ctx, []string{acme.ID, globex.ID, "ten_gone"})
			if err != nil || len(names) != 2 || names[acme.ID] != "acme" || names[globex.ID] != "globex" {
				t.Fatalf("names = %v, %v", names, err)
			}
			empty, err := s.TenantNames(ctx, nil)
			if err != nil || len(empty) != 0 {
				t.Fatalf("no ids: %v, %v", empty, err)
			}
		})
		t.Run("KeysByID", func(t *testing.T) {
			k, _, err := s.CreateKey(ctx, NewKey{TenantID: acme.ID, Name: "app"})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := s.KeysByID(ctx, []string{k.ID, "key_gone"})
			if err != nil || len(keys) != 1 || keys[k.ID].Name != "app" || keys[k.ID].TenantID != acme.ID {
				t.Fatalf("keys = %+v, %v", keys, err)
			}
		})
		t.Run("CountTenants", func(t *testing.T) {
			all, err := s.CountTenants(ctx, "")
			if err != nil || all != 2 {
				t.Fatalf("all = %d, %v", all, err)
			}
			some, err := s.CountTenants(ctx, "GLOB")
			if err != nil || some != 1 {
				t.Fatalf("search = %d, %v", some, err)
			}
		})
	})
}

// TestRollupBackfill: a database that logged calls before the dashboard's migration
// gets them rolled up when it migrates.
func TestRollupBackfill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := testKey()
	path := filepath.Join(dir, "tollgate.db")
	s, err := Open(ctx, Options{DSN: path, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	seedFlows(t, s)
	// Undo the dashboard's migration, as if the calls had been logged before it.
	version := 0
	for i, m := range migrations {
		if m == migrationDashboard {
			version = i + 1
		}
	}
	for _, stmt := range []string{`DROP TABLE usage_daily`, `DROP TABLE admin_sessions`, `DROP TABLE admin_users`,
		`DROP TABLE admin_login_failures`, `DROP INDEX usage_status`} {
		if err := s.w.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.w.Exec(`DELETE FROM schema_migrations WHERE version = ?`, version).Error; err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, Options{DSN: path, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Tally(ctx, RollupFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := Tally{Calls: 7, Served: 4, Refused: 1, Failed: 2, Cost: 11500, PromptTokens: 40, CompletionTokens: 20, LatencyMs: 400}
	if got != want {
		t.Fatalf("backfilled tally = %+v, want %+v", got, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

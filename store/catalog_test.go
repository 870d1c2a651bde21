package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
)

func ptr[T any](v T) *T { return &v }

func TestChannelKeyEncryptedAtRest(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const secret = "sk-upstream-very-secret-123"
		c, err := s.CreateChannel(ctx, ChannelInput{Name: ptr("main"), Provider: ptr("openai"), BaseURL: ptr("http://up/v1/"),
			APIKey: ptr(secret), Models: &[]string{"gpt-4o", " "}, ModelMap: &map[string]string{"gpt-4o": "gpt-4o-2024-08-06"}})
		if err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := s.r.Raw(`SELECT api_key_enc FROM channels WHERE id = ?`, c.ID).Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		if raw == "" || strings.Contains(raw, secret) {
			t.Fatalf("api key stored in clear or not at all: %q", raw)
		}
		got, err := s.Channel(ctx, c.ID)
		if err != nil || got.APIKey != secret || got.BaseURL != "http://up/v1" || len(got.Models) != 1 {
			t.Fatalf("read back %+v %v", got, err)
		}
		if got.UpstreamModel("gpt-4o") != "gpt-4o-2024-08-06" || got.UpstreamModel("other") != "other" {
			t.Fatal("model map not applied")
		}
		upd, err := s.UpdateChannel(ctx, c.ID, ChannelInput{Enabled: ptr(false), Priority: ptr(5)})
		if err != nil || upd.Enabled || upd.Priority != 5 || upd.APIKey != secret {
			t.Fatalf("update %+v %v", upd, err)
		}
		if _, err := s.CreateChannel(ctx, ChannelInput{Name: ptr("main"), Provider: ptr("openai"), Models: &[]string{"x"}}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := s.CreateChannel(ctx, ChannelInput{Name: ptr("nomodels"), Provider: ptr("openai")}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("no models: %v", err)
		}
		if err := s.DeleteChannel(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteChannel(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestChannelKeyNeedsTheSameSecretKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, Options{DSN: path, SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateChannel(ctx, ChannelInput{Name: ptr("c"), Provider: ptr("openai"), APIKey: ptr("k"), Models: &[]string{"m"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, Options{DSN: path, SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListChannels(ctx); err == nil || !strings.Contains(err.Error(), "TOLLGATE_SECRET_KEY") {
		t.Fatalf("want a decryption error naming the secret key, got %v", err)
	}
}

func TestKeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ten := mustTenant(t, s, "keys", 0)
		k, secret, err := s.CreateKey(ctx, NewKey{TenantID: ten.ID, Name: "prod", Models: []string{"gpt-4o"}, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if !WellFormedKey(secret) || !strings.HasPrefix(secret, "sk-tg-") {
			t.Fatalf("bad key %q", secret)
		}
		var stored int64
		s.r.Raw(`SELECT COUNT(*) FROM api_keys WHERE digest = ? OR hint = ?`, secret, secret).Scan(&stored)
		if stored != 0 {
			t.Fatal("the key itself must never be stored")
		}
		got, err := s.KeyByDigest(ctx, KeyDigest(secret))
		if err != nil || got.ID != k.ID || !got.Active(time.Now()) || !got.AllowsModel("gpt-4o") || got.AllowsModel("gpt-5") {
			t.Fatalf("lookup %+v %v", got, err)
		}
		if got.Active(time.Now().Add(2 * time.Hour)) {
			t.Fatal("expired key reported active")
		}
		if _, err := s.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = s.KeyByDigest(ctx, KeyDigest(secret))
		if got.Active(time.Now()) {
			t.Fatal("revoked key reported active")
		}
		if _, _, err := s.CreateKey(ctx, NewKey{TenantID: "ten_nope", Name: "x"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("key for missing tenant: %v", err)
		}
	})
}

func TestWellFormedKey(t *testing.T) {
	k := GenerateKey()
	cases := map[string]bool{
		k:                     true,
		k[:len(k)-1] + "0":    k[len(k)-1] == '0',
		"sk-tg-short":         false,
		"":                    false,
		strings.ToUpper(k):    false,
		"sk-xx-" + k[6:]:      false,
		k[:10] + "!" + k[11:]: false,
	}
	for key, want := range cases {
		if got := WellFormedKey(key); got != want {
			t.Errorf("WellFormedKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestPricesAndUsage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.PutPrice(ctx, billing.Price{Model: "m1", Input: 1, Output: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPrice(ctx, billing.Price{Model: "m1", Input: 3, Output: 4, MaxOutput: 100}); err != nil {
			t.Fatal(err)
		}
		ps, err := s.PriceOverrides(ctx)
		if err != nil || len(ps) != 1 || ps[0].Input != 3 || ps[0].MaxOutput != 100 {
			t.Fatalf("overrides %+v %v", ps, err)
		}
		if err := s.PutPrice(ctx, billing.Price{Model: "bad", Input: -1}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("negative price: %v", err)
		}

		ten := mustTenant(t, s, "usage", 1_000_000)
		for i, model := range []string{"a", "b", "a"} {
			h, err := s.Reserve(ctx, billing.HoldRequest{TenantID: ten.ID, Amount: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Settle(ctx, h, CallRecord{Model: model, Status: 200, Cost: billing.Nanos(100 * (i + 1)),
				Usage: billing.Usage{PromptTokens: 10, CompletionTokens: 5}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RecordCall(ctx, CallRecord{TenantID: ten.ID, Model: "a", Status: 402, ErrorCode: "insufficient_quota"}); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Usage(ctx, UsageQuery{TenantID: ten.ID, GroupBy: "model"})
		if err != nil || len(rows) != 2 || rows[0].Group != "a" || rows[0].Calls != 2 || rows[0].Cost != 400 || rows[1].PromptTokens != 10 {
			t.Fatalf("by model %+v %v", rows, err)
		}
		days, err := s.Usage(ctx, UsageQuery{TenantID: ten.ID, GroupBy: "day", From: time.Now().Add(-time.Hour)})
		if err != nil || len(days) != 1 || days[0].Group != time.Now().UTC().Format("2006-01-02") || days[0].Cost != 600 {
			t.Fatalf("by day %+v %v", days, err)
		}
		refused, err := s.Calls(ctx, CallFilter{TenantID: ten.ID, Status: 402})
		if err != nil || len(refused) != 1 {
			t.Fatalf("402 filter %+v %v", refused, err)
		}
		if _, err := s.Usage(ctx, UsageQuery{GroupBy: "weekday"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad group_by: %v", err)
		}
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	key := testKey()
	for i := 0; i < 2; i++ {
		s, err := Open(ctx, Options{DSN: path, SecretKey: key})
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		v, err := s.AppliedVersion(ctx)
		if err != nil || v != SchemaVersion() {
			t.Fatalf("version %d err %v, want %d", v, err, SchemaVersion())
		}
		s.Close()
	}
}

func TestIdempotencyKeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a, err := s.ClaimIdempotencyKey(ctx, "ten_a", "k1", "h1", time.Minute, time.Hour)
		if err != nil || a != nil {
			t.Fatalf("first claim: %v %v", a, err)
		}
		if _, err := s.ClaimIdempotencyKey(ctx, "ten_a", "k1", "h1", time.Minute, time.Hour); !errors.Is(err, ErrIdempotencyInFlight) {
			t.Fatalf("in flight: %v", err)
		}
		if _, err := s.ClaimIdempotencyKey(ctx, "ten_a", "k1", "h2", time.Minute, time.Hour); !errors.Is(err, ErrIdempotencyMismatch) {
			t.Fatalf("other body: %v", err)
		}
		if a, err := s.ClaimIdempotencyKey(ctx, "ten_b", "k1", "h1", time.Minute, time.Hour); err != nil || a != nil {
			t.Fatalf("keys must be scoped by tenant: %v %v", a, err)
		}
		if err := s.CompleteIdempotencyKey(ctx, "ten_a", "k1", IdempotentAnswer{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":1}`)}); err != nil {
			t.Fatal(err)
		}
		a, err = s.ClaimIdempotencyKey(ctx, "ten_a", "k1", "h1", time.Minute, time.Hour)
		if err != nil || a == nil || a.Status != 200 || string(a.Body) != `{"ok":1}` {
			t.Fatalf("replay: %+v %v", a, err)
		}
		// A claim whose owner died is taken over once its lease ends.
		if _, err := s.ClaimIdempotencyKey(ctx, "ten_a", "dead", "h", -time.Second, time.Hour); err != nil {
			t.Fatal(err)
		}
		if a, err := s.ClaimIdempotencyKey(ctx, "ten_a", "dead", "h", time.Minute, time.Hour); err != nil || a != nil {
			t.Fatalf("take-over: %v %v", a, err)
		}
		if err := s.AbandonIdempotencyKey(ctx, "ten_a", "dead"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.SweepIdempotencyKeys(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 2 {
			t.Fatalf("swept %d %v", n, err)
		}
	})
}

func TestRotateSecretKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	oldKey, newKey := testKey(), testKey()
	s, err := Open(ctx, Options{DSN: path, SecretKey: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := s.CreateChannel(ctx, ChannelInput{Name: ptr(name), Provider: ptr("openai"), APIKey: ptr("sk-" + name), Models: &[]string{"m"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.RotateSecretKey(ctx, newKey); err != nil || n != 2 {
		t.Fatalf("rotated %d: %v", n, err)
	}
	s.Close()
	if s, err = Open(ctx, Options{DSN: path, SecretKey: oldKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListChannels(ctx); err == nil {
		t.Fatal("the old key still opens the rotated channels")
	}
	s.Close()
	if s, err = Open(ctx, Options{DSN: path, SecretKey: newKey}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chs, err := s.ListChannels(ctx)
	if err != nil || len(chs) != 2 || chs[0].APIKey != "sk-"+chs[0].Name {
		t.Fatalf("after rotation: %+v %v", chs, err)
	}
}

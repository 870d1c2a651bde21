package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &out, &errOut)
	return code, strings.TrimSpace(out.String()), errOut.String()
}

func TestCLIScriptsTheCommonTasks(t *testing.T) {
	env := map[string]string{"TOLLGATE_DATA_DIR": t.TempDir()}
	code, tenantID, stderr := runCmd(t, env, "tenant", "create", "acme")
	if code != 0 || !strings.HasPrefix(tenantID, "ten_") {
		t.Fatalf("tenant create: %d %q %s", code, tenantID, stderr)
	}
	if code, out, stderr := runCmd(t, env, "topup", "--tenant", tenantID, "--amount", "12.5", "--idempotency-key", "inv-1"); code != 0 || !strings.Contains(out, "balance 12.500000000 USD") {
		t.Fatalf("topup: %d %q %s", code, out, stderr)
	}
	if code, out, _ := runCmd(t, env, "topup", "--tenant", tenantID, "--amount", "12.5", "--idempotency-key", "inv-1"); code != 0 || !strings.Contains(out, "already credited") {
		t.Fatalf("repeated topup: %d %q", code, out)
	}
	if code, _, stderr := runCmd(t, env, "topup", "--tenant", tenantID, "--amount", "abc"); code != 1 || !strings.Contains(stderr, "--amount") {
		t.Fatalf("bad amount: %d %s", code, stderr)
	}
	code, key, stderr := runCmd(t, env, "key", "create", "--tenant", tenantID, "--name", "ci", "--models", "gpt-4o,gpt-4o-mini", "--budget", "1")
	if code != 0 || !strings.HasPrefix(key, "sk-tg-") {
		t.Fatalf("key create: %d %q %s", code, key, stderr)
	}
	if code, out, stderr := runCmd(t, env, "channel", "add", "--name", "oa", "--provider", "openai", "--base-url", "https://api.openai.com/v1",
		"--api-key", "sk-x", "--models", "gpt-4o", "--priority", "2"); code != 0 || !strings.HasPrefix(out, "ch_") {
		t.Fatalf("channel add: %d %q %s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, env, "price", "set", "--model", "my-model", "--input", "0.5", "--output", "1.5"); code != 0 || !strings.Contains(out, "input 0.5, output 1.5") {
		t.Fatalf("price set: %d %q %s", code, out, stderr)
	}
	if code, out, _ := runCmd(t, env, "tenant", "list"); code != 0 || !strings.Contains(out, "12.500000000") {
		t.Fatalf("tenant list: %q", out)
	}
	if code, out, _ := runCmd(t, env, "price", "list"); code != 0 || !strings.Contains(out, "my-model") || !strings.Contains(out, "override") || !strings.Contains(out, "gpt-4o") {
		t.Fatalf("price list: %q", out)
	}
	if code, out, _ := runCmd(t, env, "channel", "list"); code != 0 || strings.Contains(out, "sk-x") {
		t.Fatalf("channel list shows the upstream key: %q", out)
	}
}

func TestServeHelpListsEveryEnvTwin(t *testing.T) {
	_, _, stderr := runCmd(t, nil, "serve", "--help")
	for _, s := range settings {
		if !strings.Contains(stderr, "--"+s.flag) || !strings.Contains(stderr, s.env) {
			t.Errorf("help lacks --%s / %s", s.flag, s.env)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"PostgresNeedsSecretKey": {map[string]string{"TOLLGATE_DATABASE_URL": "postgres://x@127.0.0.1/db"}, nil, "TOLLGATE_SECRET_KEY is required"},
		"BadSecretKey":           {map[string]string{"TOLLGATE_SECRET_KEY": "short"}, nil, "must be 32 bytes"},
		"BadLogLevel":            {nil, []string{"--log-level", "loud"}, "TOLLGATE_LOG_LEVEL"},
		"ShortAdminToken":        {map[string]string{"TOLLGATE_ADMIN_TOKEN": "abc"}, nil, "at least 16"},
		"NotPostgresURL":         {map[string]string{"TOLLGATE_DATABASE_URL": "mysql://x"}, nil, "postgres://"},
		"BadTrustedProxy":        {nil, []string{"--trusted-proxies", "10.0.0.1, 10.0.0.0/33"}, `TOLLGATE_TRUSTED_PROXIES: "10.0.0.0/33"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := ParseFlags("serve", tc.args, func(k string) string { return tc.env[k] }, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
	t.Run("FlagBeatsEnv", func(t *testing.T) {
		cfg, _, err := ParseFlags("serve", []string{"--addr", ":9999"}, func(k string) string {
			if k == "TOLLGATE_ADDR" {
				return ":7777"
			}
			return ""
		}, &bytes.Buffer{})
		if err != nil || cfg.Addr != ":9999" {
			t.Fatalf("addr %q %v", cfg.Addr, err)
		}
	})
}

func TestReadmeListsEveryEnvTwin(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !bytes.Contains(readme, []byte("`--"+s.flag+"` | `"+s.env+"`")) {
			t.Errorf("README's configuration table lacks --%s / %s", s.flag, s.env)
		}
	}
}

func TestSecretRotate(t *testing.T) {
	env := map[string]string{"TOLLGATE_DATA_DIR": t.TempDir()}
	if code, _, stderr := runCmd(t, env, "channel", "add", "--name", "oa", "--provider", "openai", "--base-url", "https://api.openai.com/v1",
		"--api-key", "sk-rotate-me", "--models", "gpt-4o"); code != 0 {
		t.Fatalf("channel add: %s", stderr)
	}
	before, _ := os.ReadFile(env["TOLLGATE_DATA_DIR"] + "/secret.key")
	if code, out, stderr := runCmd(t, env, "secret", "rotate"); code != 0 || !strings.Contains(out, "re-encrypted 1 upstream keys") {
		t.Fatalf("rotate: %d %q %s", code, out, stderr)
	}
	after, _ := os.ReadFile(env["TOLLGATE_DATA_DIR"] + "/secret.key")
	if bytes.Equal(before, after) || len(after) == 0 {
		t.Fatal("the key file was not replaced")
	}
	// The channel still decrypts with the new key file.
	if code, out, stderr := runCmd(t, env, "channel", "list"); code != 0 || !strings.Contains(out, "oa") {
		t.Fatalf("channel list after rotation: %d %q %s", code, out, stderr)
	}
}

func TestCLIChangesAreAudited(t *testing.T) {
	env := map[string]string{"TOLLGATE_DATA_DIR": t.TempDir()}
	_, tenantID, _ := runCmd(t, env, "tenant", "create", "acme")
	runCmd(t, env, "topup", "--tenant", tenantID, "--amount", "3")
	runCmd(t, env, "channel", "add", "--name", "oa", "--provider", "openai", "--base-url", "https://api.openai.com/v1", "--api-key", "sk-cli-secret", "--models", "m")
	runCmd(t, env, "tenant", "list")
	cfg, _, _ := ParseFlags("x", nil, func(k string) string { return env[k] }, &bytes.Buffer{})
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.AuditLog(context.Background(), 0, 10)
	if err != nil || len(entries) != 3 {
		t.Fatalf("%d audit entries, want 3 (lists are not changes): %v", len(entries), err)
	}
	if entries[0].Action != "channel add" || entries[0].Detail["api-key"] != "[redacted]" || entries[1].Detail["amount"] != "3" || entries[2].Actor != "cli" {
		t.Fatalf("entries %+v", entries)
	}
}

// TestCLIFlagsAfterArguments: flags count wherever they stand on the line. A flag
// after an argument once went unread: `tenant create acme --data-dir D` created the
// tenant in ./data instead of D.
func TestCLIFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(t.TempDir()) // where ./data would appear
	code, id, stderr := runCmd(t, nil, "tenant", "create", "acme", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(id, "ten_") {
		t.Fatalf("tenant create: %d %q %s", code, id, stderr)
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Fatalf("./data was created (%v): the --data-dir after the argument went unread", err)
	}
	if code, out, stderr := runCmd(t, nil, "tenant", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("tenant list in --data-dir: %d %q %s", code, out, stderr)
	}
	code, key, stderr := runCmd(t, nil, "key", "create", "--tenant", id, "--data-dir", dir, "--name", "k")
	if code != 0 || !strings.HasPrefix(key, "sk-tg-") {
		t.Fatalf("key create: %d %q %s", code, key, stderr)
	}
}

// TestCLIRefusesStrayArguments: a command that takes no argument says so instead of
// ignoring it, and one that takes one refuses a second.
func TestCLIRefusesStrayArguments(t *testing.T) {
	env := map[string]string{"TOLLGATE_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"tenant", "list", "acme"},
		{"topup", "ten_x", "--amount", "5"},
		{"tenant", "create", "acme", "extra"},
		{"key", "revoke", "key_1", "key_2"},
	} {
		code, _, stderr := runCmd(t, env, args...)
		if code != 2 || !strings.Contains(stderr, "unexpected argument") || !strings.Contains(stderr, "Usage: tollgate "+args[0]) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the unexpected argument named with the usage", args, code, stderr)
		}
	}
}

func TestCLIKeyUpdate(t *testing.T) {
	env := map[string]string{"TOLLGATE_DATA_DIR": t.TempDir()}
	_, tenantID, _ := runCmd(t, env, "tenant", "create", "acme")
	if code, _, stderr := runCmd(t, env, "key", "create", "--tenant", tenantID, "--name", "ci", "--models", "gpt-4o", "--budget", "1"); code != 0 {
		t.Fatalf("key create: %s", stderr)
	}
	cfg, _, _ := ParseFlags("x", nil, func(k string) string { return env[k] }, &bytes.Buffer{})
	key := func() store.APIKey {
		st, err := openStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		keys, err := st.ListKeys(context.Background(), tenantID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v %v", keys, err)
		}
		return keys[0]
	}
	id := key().ID

	if code, out, stderr := runCmd(t, env, "key", "update", id, "--budget", "2.5", "--models", "o3, gpt-4o-mini", "--expires", "720h"); code != 0 || !strings.Contains(out, "updated "+id) {
		t.Fatalf("key update: %d %q %s", code, out, stderr)
	}
	if k := key(); k.Budget == nil || *k.Budget != billing.NanosPerUSD*5/2 || len(k.Models) != 2 || k.ExpiresAt == 0 {
		t.Fatalf("after the update: %+v", k)
	}
	if code, _, stderr := runCmd(t, env, "key", "update", "--id", id, "--budget", "none", "--models", "all", "--expires", "never"); code != 0 {
		t.Fatalf("clearing: %s", stderr)
	}
	if k := key(); k.Budget != nil || len(k.Models) != 0 || k.ExpiresAt != 0 {
		t.Fatalf("after clearing: %+v", k)
	}
	for _, args := range [][]string{
		{"key", "update", id},
		{"key", "update", id, "--budget", "-1"},
		{"key", "update", id, "--expires", "2001-01-01T00:00:00Z"},
		{"key", "update", "key_missing", "--budget", "1"},
	} {
		if code, _, stderr := runCmd(t, env, args...); code != 1 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 1 and a reason", args, code, stderr)
		}
	}
	if code, _, _ := runCmd(t, env, "key", "revoke", id); code != 0 {
		t.Fatal("revoke failed")
	}
	if code, _, stderr := runCmd(t, env, "key", "update", id, "--budget", "1"); code != 1 || !strings.Contains(stderr, "revoked") {
		t.Fatalf("updating a revoked key: %d %q", code, stderr)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
)

// TestBackupAndRestoreCommands: backup works while the gateway serves; restore is
// refused while it runs, then puts the backup in place and keeps tollgate.db.bak.
func TestBackupAndRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TOLLGATE_DATA_DIR": dir}
	m, _ := startMain(t, dir, testAdminToken)
	up := providertest.NewOpenAI()
	defer up.Close()
	tenantID, _ := setupTenant(t, m, up.URL(), "3")

	backup := filepath.Join(t.TempDir(), "tollgate-backup.db")
	// The file first and the flags after it works too.
	code, out, stderr := runCmd(t, nil, "backup", backup, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "1 tenants") || !strings.Contains(out, "1 channels") {
		t.Fatalf("backup: %d %q %s", code, out, stderr)
	}
	if !strings.Contains(stderr, "secret.key") {
		t.Fatalf("backup does not remind of the secret key: %s", stderr)
	}
	if code, _, stderr := runCmd(t, env, "backup", backup); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("backup over an existing file: %d %s", code, stderr)
	}
	adminCall(t, m, testAdminToken, "POST", "/tenants/"+tenantID+"/topups", map[string]any{"amount_usd": "4"}, nil)

	if code, _, stderr := runCmd(t, env, "restore", backup); code != 1 || !strings.Contains(stderr, "in use") {
		t.Fatalf("restore while serving: %d %s", code, stderr)
	}
	m.Close()
	code, out, stderr = runCmd(t, map[string]string{}, "restore", "--data-dir", dir, backup)
	if code != 0 || !strings.Contains(out, "tollgate.db.bak") {
		t.Fatalf("restore: %d %q %s", code, out, stderr)
	}
	m2, _ := startMain(t, dir, testAdminToken)
	defer m2.Close()
	var ten struct {
		BalanceUSD string `json:"balance_usd"`
	}
	adminCall(t, m2, testAdminToken, "GET", "/tenants/"+tenantID, nil, &ten)
	if ten.BalanceUSD != "3.000000000" {
		t.Fatalf("balance after restore %s, want the backup's 3", ten.BalanceUSD)
	}
}

func TestBackupRestoreRefuse(t *testing.T) {
	pg := map[string]string{"TOLLGATE_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "TOLLGATE_SECRET_KEY": strings.Repeat("ab", 32)}
	t.Run("PostgresBackup", func(t *testing.T) {
		if code, _, stderr := runCmd(t, pg, "backup", filepath.Join(t.TempDir(), "b.db")); code != 1 || !strings.Contains(stderr, "pg_dump") {
			t.Fatalf("%d %s", code, stderr)
		}
	})
	t.Run("PostgresRestore", func(t *testing.T) {
		if code, _, stderr := runCmd(t, pg, "restore", filepath.Join(t.TempDir(), "b.db")); code != 1 || !strings.Contains(stderr, "pg_restore") {
			t.Fatalf("%d %s", code, stderr)
		}
	})
	t.Run("NoFileNamed", func(t *testing.T) {
		if code, _, stderr := runCmd(t, nil, "backup"); code != 2 || !strings.Contains(stderr, "Usage: tollgate backup") {
			t.Fatalf("%d %s", code, stderr)
		}
	})
	t.Run("NoDatabase", func(t *testing.T) {
		dir := t.TempDir()
		code, _, stderr := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": dir}, "backup", filepath.Join(dir, "b.db"))
		if code != 1 || !strings.Contains(stderr, "no database at") {
			t.Fatalf("%d %s", code, stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("backup of a missing database created files: %v", entries)
		}
	})
	// A backup with encrypted channel keys restored where there is no secret key would
	// start a gateway whose channels cannot decrypt: refused, with the way out.
	t.Run("RestoreWithoutSecretKey", func(t *testing.T) {
		src := t.TempDir()
		env := map[string]string{"TOLLGATE_DATA_DIR": src}
		if code, _, stderr := runCmd(t, env, "channel", "add", "--name", "oa", "--provider", "openai", "--base-url", "https://api.openai.com/v1",
			"--api-key", "sk-x", "--models", "gpt-4o"); code != 0 {
			t.Fatal(stderr)
		}
		backup := filepath.Join(t.TempDir(), "b.db")
		if code, _, stderr := runCmd(t, env, "backup", backup); code != 0 {
			t.Fatal(stderr)
		}
		fresh := t.TempDir()
		code, _, stderr := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": fresh}, "restore", backup)
		if code != 1 || !strings.Contains(stderr, "secret key") {
			t.Fatalf("%d %s", code, stderr)
		}
		key, _ := os.ReadFile(filepath.Join(src, "secret.key"))
		os.WriteFile(filepath.Join(fresh, "secret.key"), key, 0o600)
		if code, _, stderr := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": fresh}, "restore", backup); code != 0 {
			t.Fatalf("restore with the right key: %s", stderr)
		}
		if code, out, _ := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": fresh}, "channel", "list"); code != 0 || !strings.Contains(out, "oa") {
			t.Fatalf("restored channels: %q", out)
		}
	})
}

func TestHealthcheckCommand(t *testing.T) {
	m, _ := startMain(t, t.TempDir(), testAdminToken)
	defer m.Close()
	port := m.listener.Addr().(*net.TCPAddr).Port
	env := map[string]string{"TOLLGATE_ADDR": ":" + strconv.Itoa(port)} // as in the Dockerfile: no host
	if code, out, stderr := runCmd(t, env, "healthcheck"); code != 0 || !strings.Contains(out, "/healthz answered 200") {
		t.Fatalf("healthcheck: %d %q %s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, env, "healthcheck", "--ready"); code != 0 || !strings.Contains(out, "/readyz") {
		t.Fatalf("healthcheck --ready: %d %q %s", code, out, stderr)
	}

	t.Run("NotRunning", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		if code, _, _ := runCmd(t, map[string]string{"TOLLGATE_ADDR": addr}, "healthcheck", "--timeout", "1s"); code != 1 {
			t.Fatalf("exit %d for a closed port", code)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		code, _, stderr := runCmd(t, nil, "healthcheck", "--url", srv.URL+"/readyz")
		if code != 1 || !strings.Contains(stderr, "503") {
			t.Fatalf("exit %d %s", code, stderr)
		}
	})
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:9000":   "127.0.0.1:9000",
		"[::]:8080":      "127.0.0.1:8080",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"localhost:8080": "localhost:8080",
	} {
		if got, err := localAddr(in); err != nil || got != want {
			t.Errorf("localAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := localAddr("8080"); err == nil {
		t.Error("a port without a colon was accepted")
	}
}

// TestDoctor: a healthy installation passes with each channel's real answer shown; a
// channel with a wrong upstream key, a missing database, a bad setting or a lost
// secret key each fail with a message and exit 1.
func TestDoctor(t *testing.T) {
	up := providertest.NewOpenAI()
	defer up.Close()
	up.SetBehavior(providertest.Behavior{Text: "OK from upstream"})
	dir := t.TempDir()
	m, _ := startMain(t, dir, testAdminToken)
	defer m.Close()
	setupTenant(t, m, up.URL(), "1")
	env := map[string]string{"TOLLGATE_DATA_DIR": dir, "TOLLGATE_ADDR": m.listener.Addr().String(),
		"TOLLGATE_ADMIN_TOKEN": testAdminToken, "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS": "true"}

	code, out, stderr := runCmd(t, env, "doctor")
	if code != 0 || !strings.Contains(out, `answered "OK from upstream"`) || !strings.Contains(out, "no problems found") ||
		!regexp.MustCompile(`ok\s+gateway`).MatchString(out) {
		t.Fatalf("healthy doctor: %d\n%s\n%s", code, out, stderr)
	}
	calls := up.Calls()
	if last := calls[len(calls)-1]; last.MaxTokens != 1 {
		t.Fatalf("the test call asked for %d tokens, want 1: %s", last.MaxTokens, last.Body)
	}

	t.Run("SkipChannels", func(t *testing.T) {
		before := up.CallCount()
		if code, out, _ := runCmd(t, env, "doctor", "--skip-channels"); code != 0 || up.CallCount() != before || !strings.Contains(out, "skipped") {
			t.Fatalf("%d %q", code, out)
		}
	})
	t.Run("ChannelRefused", func(t *testing.T) {
		guarded := providertest.NewOpenAI()
		defer guarded.Close()
		guarded.RequireAPIKey("sk-right")
		var ch struct{ ID string }
		adminCall(t, m, testAdminToken, "POST", "/channels", map[string]any{"name": "guarded", "provider": "openai-compatible",
			"base_url": guarded.URL(), "api_key": "sk-wrong", "models": []string{"gpt-4o"}}, &ch)
		defer adminCall(t, m, testAdminToken, "DELETE", "/channels/"+ch.ID, nil, nil)
		code, out, stderr := runCmd(t, env, "doctor")
		if code != 1 || !regexp.MustCompile(`FAIL\s+channel "guarded".*401`).MatchString(out) || !strings.Contains(stderr, "1 problem") {
			t.Fatalf("%d\n%s\n%s", code, out, stderr)
		}
	})
	t.Run("PrivateUpstreamNotAllowed", func(t *testing.T) {
		strict := map[string]string{}
		for k, v := range env {
			strict[k] = v
		}
		delete(strict, "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS")
		if code, out, _ := runCmd(t, strict, "doctor"); code != 1 || !strings.Contains(out, "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS") {
			t.Fatalf("%d\n%s", code, out)
		}
	})
	t.Run("NoDatabase", func(t *testing.T) {
		empty := t.TempDir()
		code, out, _ := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": empty}, "doctor")
		if code != 1 || !strings.Contains(out, "no database at") {
			t.Fatalf("%d\n%s", code, out)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Fatalf("doctor created files in an empty data dir: %v", entries)
		}
	})
	t.Run("BadConfig", func(t *testing.T) {
		if code, out, _ := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": dir, "TOLLGATE_LOG_LEVEL": "loud"}, "doctor"); code != 1 ||
			!strings.Contains(out, "TOLLGATE_LOG_LEVEL") {
			t.Fatalf("%d\n%s", code, out)
		}
	})
	t.Run("SecretKeyLost", func(t *testing.T) {
		copyDir := t.TempDir()
		if code, _, stderr := runCmd(t, env, "backup", filepath.Join(copyDir, "tollgate.db")); code != 0 {
			t.Fatal(stderr)
		}
		code, out, _ := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": copyDir}, "doctor")
		if code != 1 || !strings.Contains(out, "secret.key is missing") {
			t.Fatalf("%d\n%s", code, out)
		}
		if _, err := os.Stat(filepath.Join(copyDir, "secret.key")); err == nil {
			t.Fatal("doctor generated a secret key")
		}
	})
}

func TestResolveBuild(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	for name, c := range map[string]struct {
		v, c, d string
		bi      *debug.BuildInfo
		want    buildInfo
	}{
		"LdflagsWin":       {"v1.2.3", "abc", "2026-01-01", vcs, buildInfo{"v1.2.3", "abc", "2026-01-01"}},
		"GoInstallVersion": {"dev", "none", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, buildInfo{"v1.4.0", "none", "unknown"}},
		"CheckoutBuild":    {"dev", "none", "unknown", vcs, buildInfo{"dev", "0123456789ab-dirty", "2026-01-02T03:04:05Z"}},
		"NoBuildInfo":      {"dev", "none", "unknown", nil, buildInfo{"dev", "none", "unknown"}},
	} {
		if got := resolveBuild(c.v, c.c, c.d, c.bi); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
	if code, out, _ := runCmd(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "tollgate ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// TestLogsCarryRequestID: whatever logs with the request's context during a request —
// the gin.Context or c.Request.Context() — names the request id the client saw.
func TestLogsCarryRequestID(t *testing.T) {
	var buf bytes.Buffer
	cfg := defaultConfig()
	log := newLogger(cfg, &buf)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.Use(router.RequestID, requestContext)
	e.GET("/x", func(c *gin.Context) {
		log.WarnContext(c, "from the gin context")
		log.ErrorContext(c.Request.Context(), "from the request context", "error", "boom")
		log.WarnContext(c, "already named", "request_id", "explicit")
		log.Info("no context")
		c.Status(http.StatusNoContent)
	})
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	id := w.Header().Get(router.RequestIDHeader)
	if id == "" {
		t.Fatal("no request id")
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		lines = append(lines, rec)
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, want := range []any{id, id, "explicit", nil} {
		if lines[i]["request_id"] != want {
			t.Errorf("line %d (%v): request_id %v, want %v", i, lines[i]["msg"], lines[i]["request_id"], want)
		}
	}
	if strings.Count(buf.String(), `"request_id"`) != 3 {
		t.Errorf("request_id duplicated: %s", buf.String())
	}

	// Errors handlers attach to the context are logged with the id: a 5xx at ERROR
	// (the client was told to look in the log), a client error only at DEBUG.
	buf.Reset()
	e.Use(logRequestErrors(log))
	e.GET("/fail/:status", func(c *gin.Context) {
		_ = c.Error(errors.New("database on fire"))
		code, _ := strconv.Atoi(c.Param("status"))
		c.Status(code)
	})
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/fail/503", nil))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["level"] != "ERROR" || rec["error"] == nil ||
		!strings.Contains(rec["error"].(string), "database on fire") || rec["request_id"] != w.Header().Get(router.RequestIDHeader) {
		t.Fatalf("5xx error log: %s", buf.String())
	}
	buf.Reset()
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fail/400", nil))
	if buf.Len() != 0 {
		t.Fatalf("a client error was logged above DEBUG: %s", buf.String())
	}

	// The wrapper survives With and WithGroup.
	buf.Reset()
	ctx := context.WithValue(context.Background(), requestIDKey{}, "req_1")
	log.With("component", "test").WithGroup("g").InfoContext(ctx, "grouped", "k", "v")
	if !strings.Contains(buf.String(), `"req_1"`) || !strings.Contains(buf.String(), `"component":"test"`) {
		t.Fatalf("With/WithGroup lost the request id: %s", buf.String())
	}
}

// TestReadyz: /healthz says the process is up whatever the store does; /readyz is
// 503 with a reason when the schema is behind or the database cannot be reached.
func TestReadyz(t *testing.T) {
	dir := t.TempDir()
	m, _ := startMain(t, dir, testAdminToken)
	defer m.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Status, Reason string }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Status + " " + body.Reason
	}
	if code, body := get("/readyz"); code != 200 || body != "ready " {
		t.Fatalf("/readyz %d %q", code, body)
	}

	db, err := sql.Open("sqlite3", filepath.Join(dir, "tollgate.db")) // the driver the store registered
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "migrations not applied") {
		t.Fatalf("/readyz with a migration missing: %d %q", code, body)
	}

	m.Store.Close() // the database goes away under a running gateway
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "store unreachable") {
		t.Fatalf("/readyz without a store: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d: the process is still up", code)
	}
}

// TestServeRefusesInvalidConfigAtStart: `tollgate serve` with bad settings exits 1
// before touching anything, naming every wrong setting at once.
func TestServeRefusesInvalidConfigAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, _, stderr := runCmd(t, map[string]string{"TOLLGATE_DATA_DIR": dir, "TOLLGATE_LOG_FORMAT": "xml",
		"TOLLGATE_ADMIN_TOKEN": "short", "TOLLGATE_SECRET_KEY": "not-a-key"}, "serve")
	if code != 1 || !strings.Contains(stderr, "invalid configuration") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"TOLLGATE_LOG_FORMAT", "TOLLGATE_ADMIN_TOKEN", "TOLLGATE_SECRET_KEY"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the refusal does not name %s: %s", want, stderr)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("serve created the data directory before validating its configuration")
	}
}

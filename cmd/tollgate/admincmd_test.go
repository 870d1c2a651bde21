package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// signInDashboard signs in through the served dashboard's form and reports the
// status of the sign-in answer and of the overview page after it.
func signInDashboard(t *testing.T, base, email, password string) (int, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-in form at /admin/login (%d): %s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"/admin/login", url.Values{"csrf_token": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	signIn := resp.StatusCode
	resp, err = c.Get(base + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return signIn, resp.StatusCode
}

// TestAdminCommand: `tollgate admin create` makes a dashboard user who can then sign
// in to the dashboard that `tollgate serve` mounts; passwd, list and delete manage it.
func TestAdminCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TOLLGATE_DATA_DIR": dir}
	m, _ := startMain(t, dir, testAdminToken)
	defer m.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("first long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("CreateFromPasswordFileThenSignIn", func(t *testing.T) {
		code, out, stderr := runCmd(t, env, "admin", "create", "--email", "Ops@Example.com", "--password-file", pwFile)
		if code != 0 || !strings.Contains(out, "ops@example.com") {
			t.Fatalf("create: %d %q %s", code, out, stderr)
		}
		if signIn, home := signInDashboard(t, m.URL(), "ops@example.com", "first long password"); signIn != http.StatusSeeOther || home != http.StatusOK {
			t.Fatalf("sign-in %d, overview %d; want 303 and 200", signIn, home)
		}
	})
	t.Run("WrongPasswordIsRefused", func(t *testing.T) {
		if signIn, home := signInDashboard(t, m.URL(), "ops@example.com", "not the password"); signIn != http.StatusUnauthorized || home != http.StatusSeeOther {
			t.Fatalf("sign-in %d, overview %d; want 401 and a redirect to the form", signIn, home)
		}
	})
	t.Run("DuplicateEmailFails", func(t *testing.T) {
		if code, _, stderr := runCmd(t, env, "admin", "create", "--email", "ops@example.com", "--password-file", pwFile); code != 1 || !strings.Contains(stderr, "already exists") {
			t.Fatalf("duplicate: %d %s", code, stderr)
		}
	})
	t.Run("PasswordFromEnvironment", func(t *testing.T) {
		env2 := map[string]string{"TOLLGATE_DATA_DIR": dir, adminPasswordEnv: "second long password"}
		if code, _, stderr := runCmd(t, env2, "admin", "create", "--email", "alice@example.com"); code != 0 {
			t.Fatalf("create: %d %s", code, stderr)
		}
		if signIn, _ := signInDashboard(t, m.URL(), "alice@example.com", "second long password"); signIn != http.StatusSeeOther {
			t.Fatalf("sign-in %d", signIn)
		}
	})
	t.Run("PasswordFromPipedPrompt", func(t *testing.T) {
		adminStdin = strings.NewReader("third long password\n")
		defer func() { adminStdin = os.Stdin }()
		if code, _, stderr := runCmd(t, env, "admin", "passwd", "--email", "alice@example.com"); code != 0 {
			t.Fatalf("passwd: %d %s", code, stderr)
		}
		if signIn, _ := signInDashboard(t, m.URL(), "alice@example.com", "third long password"); signIn != http.StatusSeeOther {
			t.Fatalf("sign-in with the new password: %d", signIn)
		}
	})
	t.Run("ShortPasswordRefusedBeforeWriting", func(t *testing.T) {
		env2 := map[string]string{"TOLLGATE_DATA_DIR": dir, adminPasswordEnv: "short"}
		if code, _, stderr := runCmd(t, env2, "admin", "create", "--email", "bob@example.com"); code != 1 || !strings.Contains(stderr, "at least 10") {
			t.Fatalf("short password: %d %s", code, stderr)
		}
	})
	t.Run("ListAndDelete", func(t *testing.T) {
		code, out, _ := runCmd(t, env, "admin", "list")
		if code != 0 || !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "ops@example.com") || strings.Contains(out, "bob@") {
			t.Fatalf("list: %d %q", code, out)
		}
		if code, _, stderr := runCmd(t, env, "admin", "delete", "--email", "alice@example.com"); code != 0 {
			t.Fatalf("delete: %d %s", code, stderr)
		}
		if signIn, _ := signInDashboard(t, m.URL(), "alice@example.com", "third long password"); signIn != http.StatusUnauthorized {
			t.Fatalf("deleted user signed in: %d", signIn)
		}
	})
	t.Run("UsageErrors", func(t *testing.T) {
		if code, _, _ := runCmd(t, env, "admin"); code != 2 {
			t.Fatalf("no subcommand: exit %d, want 2", code)
		}
		if code, _, stderr := runCmd(t, env, "admin", "create"); code != 2 || !strings.Contains(stderr, "--email") {
			t.Fatalf("no email: %d %s", code, stderr)
		}
		if code, _, _ := runCmd(t, env, "admin", "frobnicate"); code != 2 {
			t.Fatalf("unknown subcommand: exit %d", code)
		}
	})
}

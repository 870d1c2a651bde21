package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpstreamCAFile: a channel served over HTTPS by a private CA works only once
// TOLLGATE_UPSTREAM_CA_FILE trusts that CA; before, the call fails and costs nothing.
func TestUpstreamCAFile(t *testing.T) {
	t.Parallel()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	fakeURL := startFakeUpstream(t, "--tls-cert-out", ca)
	if !strings.HasPrefix(fakeURL, "https://") {
		t.Fatalf("the fake serves %s, want https", fakeURL)
	}

	untrusting := startProc(t, map[string]string{"TOLLGATE_DATA_DIR": t.TempDir(), "TOLLGATE_ADMIN_TOKEN": testAdminToken})
	tenantID, key := setupProc(t, untrusting, fakeURL, "1")
	if status := plainCall(untrusting.url, key); status == 200 || status == 0 {
		t.Fatalf("a call to an upstream with an unknown CA answered %d, want an upstream error", status)
	}
	if st := readLedger(untrusting, tenantID); st.usageEntries != 0 {
		t.Fatalf("the failed call was billed: %+v", st)
	}

	trusting := startProc(t, map[string]string{"TOLLGATE_DATA_DIR": t.TempDir(), "TOLLGATE_ADMIN_TOKEN": testAdminToken,
		"TOLLGATE_UPSTREAM_CA_FILE": ca})
	_, key = setupProc(t, trusting, fakeURL, "1")
	if status := plainCall(trusting.url, key); status != 200 {
		t.Fatalf("with the CA trusted the call answered %d\n%s", status, trusting.logs())
	}
}

func TestUpstreamCAFileMustHoldACertificate(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{notPEM: "holds no PEM certificate", notPEM + ".missing": "no such file"} {
		cfg := defaultConfig()
		cfg.UpstreamCAFile = path
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "TOLLGATE_UPSTREAM_CA_FILE") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming TOLLGATE_UPSTREAM_CA_FILE and %q", path, err, want)
		}
	}
}

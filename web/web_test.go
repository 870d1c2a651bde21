package web

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestChecksumChangesWithContent(t *testing.T) {
	sum := Checksum("tollgate.css")
	if len(sum) != 12 {
		t.Fatalf("checksum %q", sum)
	}
	if Checksum("missing.css") != "" {
		t.Fatal("checksum of a missing file")
	}
	if Checksum("tollgate.js") == sum {
		t.Fatal("two different files share a checksum")
	}
	if _, err := fs.ReadFile(Static(), "tollgate.css"); err != nil {
		t.Fatal(err)
	}
}

// TestVendoredAssets: every third-party file the dashboard loads is embedded, sits
// beside its licence, and is listed in VERSIONS with the pinned tarball integrity
// that scripts/vendor-assets.sh checks.
func TestVendoredAssets(t *testing.T) {
	versions, err := fs.ReadFile(Static(), "vendor/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../scripts/vendor-assets.sh")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(\S+)  (\S+)@(\d+\.\d+\.\d+)  (sha512-\S+)  (.+)$`)
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(versions))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("VERSIONS line %q is not: dir  package@version  integrity  files", sc.Text())
		}
		seen++
		dir, pkg, version, integrity := m[1], m[2], m[3], m[4]
		if !bytes.Contains(script, []byte(pkg+" "+version)) || !bytes.Contains(script, []byte(integrity)) {
			t.Errorf("%s@%s with %s is not the version the script pins", pkg, version, integrity)
		}
		lic, err := fs.ReadFile(Static(), path.Join("vendor", dir, "LICENSE"))
		if err != nil || len(lic) < 100 {
			t.Errorf("%s has no licence beside it: %v", dir, err)
		}
		for _, f := range strings.Fields(m[5]) {
			name := path.Join("vendor", dir, path.Base(f))
			if b, err := fs.ReadFile(Static(), name); err != nil || len(b) < 1000 {
				t.Errorf("%s is missing or truncated: %v", name, err)
			}
			if Checksum(name) == "" {
				t.Errorf("%s has no checksum", name)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d vendored packages listed, want htmx and uPlot", seen)
	}
}

func TestTemplatesEmbedded(t *testing.T) {
	for _, name := range []string{"layout.html", "partials/common.html", "pages/overview.html", "pages/topology.html"} {
		if b, err := fs.ReadFile(Templates(), name); err != nil || !bytes.Contains(b, []byte("{{define")) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

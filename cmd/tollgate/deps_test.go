package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tollgate-gw/tollgate"

type listedPackage struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

// TestDependencyRules keeps DESIGN.md §1: providers never see billing, store or gin;
// billing never sees gin, gorm or providers; web imports nothing of ours; only
// store imports gorm.
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []listedPackage
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 8 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	under := func(path, dir string) bool {
		return path == module+"/"+dir || strings.HasPrefix(path, module+"/"+dir+"/")
	}
	rules := []struct {
		pkg       string   // directory the rule applies to
		forbidden []string // import paths (or prefixes) that must not appear in its transitive deps
	}{
		{"providers", []string{module + "/billing", module + "/store", module + "/router", module + "/admin", "github.com/gin-gonic/gin", "gorm.io/"}},
		{"billing", []string{module + "/providers", module + "/store", module + "/router", module + "/admin", "github.com/gin-gonic/gin", "gorm.io/"}},
		{"web", []string{module + "/"}},
		{"internal", []string{module + "/"}}, // shared helpers (internal/jsonobj) depend on nothing of ours
		{"store", []string{module + "/router", module + "/admin", module + "/providers", "github.com/gin-gonic/gin"}},
		{"router", []string{module + "/admin", module + "/cmd"}},
		{"admin", []string{module + "/cmd", module + "/portal"}},
		{"webui", []string{module + "/admin", module + "/portal", module + "/cmd"}},
		{"portal", []string{module + "/admin", module + "/cmd"}},
		{"payment", []string{module + "/router", module + "/admin", module + "/portal", module + "/cmd", "github.com/gin-gonic/gin"}},
		{"alert", []string{module + "/admin", module + "/portal", module + "/cmd"}},
	}
	checked := 0
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.pkg) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				for _, f := range r.forbidden {
					if (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) || d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s must not depend on %s (DESIGN.md §1)", p.ImportPath, d)
					}
				}
			}
		}
		if !under(p.ImportPath, "store") {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, "gorm.io/") {
					t.Errorf("%s imports %s: only store may import gorm", p.ImportPath, imp)
				}
			}
		}
	}
	if checked < 6 {
		t.Fatalf("only %d packages were checked; the rules no longer match the layout", checked)
	}
}

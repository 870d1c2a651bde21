package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The release config, the installer, the compose file and the Makefile are read by
// tools CI cannot run here (goreleaser, docker compose); these tests hold them to
// the promises the others depend on.

func readRepoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goreleaserConfig is the part of .goreleaser.yaml the installer relies on.
type goreleaserConfig struct {
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID        string   `yaml:"id"`
		Main      string   `yaml:"main"`
		Binary    string   `yaml:"binary"`
		Goos      []string `yaml:"goos"`
		Goarch    []string `yaml:"goarch"`
		Ldflags   []string `yaml:"ldflags"`
		Overrides []struct {
			Goos   string   `yaml:"goos"`
			Goarch string   `yaml:"goarch"`
			Env    []string `yaml:"env"`
		} `yaml:"overrides"`
	} `yaml:"builds"`
	Archives []struct {
		Formats      []string `yaml:"formats"`
		NameTemplate string   `yaml:"name_template"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
	Release struct {
		GitHub struct{ Owner, Name string } `yaml:"github"`
	} `yaml:"release"`
}

// TestReleaseConfigMatchesInstaller: goreleaser builds every platform install.sh
// looks for, with cgo and a C compiler per target, names the archives and the
// checksum file the way install.sh fetches them, from the release page it uses.
func TestReleaseConfigMatchesInstaller(t *testing.T) {
	var cfg goreleaserConfig
	if err := yaml.Unmarshal(readRepoFile(t, ".goreleaser.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	install := string(readRepoFile(t, "install.sh"))

	built := map[string]bool{}
	for _, b := range cfg.Builds {
		if b.Main != "./cmd/tollgate" || b.Binary != "tollgate" {
			t.Errorf("build %s: main %q binary %q", b.ID, b.Main, b.Binary)
		}
		flags := strings.Join(b.Ldflags, " ")
		for _, v := range []string{"main.version", "main.commit", "main.date"} {
			if !strings.Contains(flags, "-X "+v+"=") {
				t.Errorf("build %s does not stamp %s", b.ID, v)
			}
		}
		for _, goos := range b.Goos {
			for _, goarch := range b.Goarch {
				target := goos + "/" + goarch
				built[target] = true
				var env []string
				for _, o := range b.Overrides {
					if o.Goos == goos && o.Goarch == goarch {
						env = o.Env
					}
				}
				if !slices.Contains(env, "CGO_ENABLED=1") || !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "CC=") }) {
					t.Errorf("%s: needs CGO_ENABLED=1 and its own CC (SQLite is cgo); env %v", target, env)
				}
			}
		}
	}
	for _, target := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		if !built[target] {
			t.Errorf("no release build for %s", target)
		}
	}

	if len(cfg.Archives) != 1 || !slices.Equal(cfg.Archives[0].Formats, []string{"tar.gz"}) {
		t.Fatalf("archives: %+v; install.sh unpacks one tar.gz per platform", cfg.Archives)
	}
	// {{ .ProjectName }}_{{ .Os }}_{{ .Arch }} must render to install.sh's asset name.
	name := regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`).ReplaceAllStringFunc(cfg.Archives[0].NameTemplate, func(m string) string {
		switch strings.Trim(m, "{} .") {
		case "ProjectName":
			return cfg.ProjectName
		case "Os":
			return "${os}"
		case "Arch":
			return "${arch}"
		}
		t.Errorf("archive name_template uses %s, which install.sh cannot know", m)
		return m
	})
	if !strings.Contains(install, "asset="+name+".tar.gz") {
		t.Errorf("install.sh does not fetch %s.tar.gz (the archive goreleaser names)", name)
	}
	if cfg.Checksum.NameTemplate != "checksums.txt" || cfg.Checksum.Algorithm != "sha256" ||
		!strings.Contains(install, `"$base/checksums.txt"`) || !strings.Contains(install, "sha256") {
		t.Errorf("checksum file %q (%s) is not what install.sh verifies against", cfg.Checksum.NameTemplate, cfg.Checksum.Algorithm)
	}
	page := "https://github.com/" + cfg.Release.GitHub.Owner + "/" + cfg.Release.GitHub.Name + "/releases"
	if !strings.Contains(install, "DEFAULT_RELEASE_URL="+page+"\n") {
		t.Errorf("install.sh's default release URL is not %s", page)
	}
}

// composeService is the part of a docker-compose service these checks read.
type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	EnvFile     []string          `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports []string `yaml:"ports"`
}

// TestComposeScaleOut: several gateway nodes share one PostgreSQL, the same secret
// key from the env file, wait for the database to be healthy, and check themselves
// with the binary's own healthcheck.
func TestComposeScaleOut(t *testing.T) {
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "docker-compose.yml"), &compose); err != nil {
		t.Fatal(err)
	}
	pg, ok := compose.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") || len(pg.Healthcheck.Test) == 0 {
		t.Fatalf("no healthy-checked postgres service: %+v", pg)
	}
	nodes, ports := 0, map[string]bool{}
	for name, s := range compose.Services {
		if !strings.HasPrefix(name, "tollgate") {
			continue
		}
		nodes++
		if s.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
		}
		if !strings.HasPrefix(s.Environment["TOLLGATE_DATABASE_URL"], "postgres://") || !strings.Contains(s.Environment["TOLLGATE_DATABASE_URL"], "@postgres:5432/") {
			t.Errorf("%s: TOLLGATE_DATABASE_URL %q is not the postgres service", name, s.Environment["TOLLGATE_DATABASE_URL"])
		}
		if !strings.HasPrefix(s.Environment["TOLLGATE_SECRET_KEY"], "${TOLLGATE_SECRET_KEY") || len(s.EnvFile) == 0 {
			t.Errorf("%s: the secret key must come from the shared env file", name)
		}
		if s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres", name)
		}
		if !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "tollgate healthcheck") {
			t.Errorf("%s healthcheck %v", name, s.Healthcheck.Test)
		}
		for _, p := range s.Ports {
			if ports[p] {
				t.Errorf("port %s published twice", p)
			}
			ports[p] = true
		}
	}
	if nodes < 2 {
		t.Fatalf("%d gateway nodes; the scale-out setup has at least two", nodes)
	}
}

// TestMakefileStampsVersion: `make build` stamps version, commit and date from git.
func TestMakefileStampsVersion(t *testing.T) {
	mk := string(readRepoFile(t, "Makefile"))
	for _, want := range []string{"-X main.version=$(VERSION)", "-X main.commit=$(COMMIT)", "-X main.date=$(DATE)", "git describe"} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
}

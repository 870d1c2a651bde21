# Tollgate's build and test entry points. CI (.ci/run) calls `make test`.
GO ?= go
PKGS := ./...

# The one Go toolchain for building, testing and releasing: the go command fetches
# go1.27.3 from the Go module proxy. Go 1.26.8's net/http, crypto/tls and crypto/x509
# have known vulnerabilities that 1.27.3 fixes (`make security` checks). The same
# pin is in .ci/run, the Dockerfile, install.sh and .goreleaser.yaml.
export GOTOOLCHAIN ?= go1.27.3

.PHONY: build test test-short bench loadbench fmt vet security vendor-assets install-test shellcheck docker release-snapshot

# Version stamping: `tollgate version` prints these. Override on the command line
# (make build VERSION=v1.2.3); release builds get them from .goreleaser.yaml.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo none)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

# cgo is required: SQLite is github.com/mattn/go-sqlite3 (needs gcc or clang).
build:
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o tollgate ./cmd/tollgate

# The whole suite with the race detector. Store and billing invariant tests also run
# against PostgreSQL when TOLLGATE_TEST_POSTGRES_DSN is set (CI sets it). Then the
# hot path's allocation budget, which only a build without the race detector counts,
# and the GC hook beside small live objects, which only such a build packs together.
test:
	$(GO) test -race -count=1 $(PKGS)
	$(GO) test -count=1 -run 'AllocationBudget' ./router/
	$(GO) test -count=1 -run 'OnEachGC' ./cmd/tollgate/

test-short:
	$(GO) test -count=1 $(PKGS)

# Hot-path micro-benchmarks (auth + hold + settle on SQLite).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./router/ ./store/ ./billing/ ./providers/...

# Load benchmark: fake upstream direct vs. through Tollgate.
loadbench:
	$(GO) run ./bench -duration 5s -concurrency 32

fmt:
	"$$($(GO) env GOROOT)/bin/gofmt" -l -w .

vet:
	$(GO) vet $(PKGS)

# govulncheck (against a database built from golang.org/x/vulndb) and gosec, at
# pinned versions; fails on any finding. See scripts/security-check.sh.
security:
	scripts/security-check.sh

# Re-vendor the dashboard's browser assets (htmx, uPlot) from npm at their pinned
# versions and integrity; only needed to change a version. Needs npm and openssl.
vendor-assets:
	bash scripts/vendor-assets.sh

# install.sh end to end: source and release installs into a temp prefix, a billed
# call through the installed binary, backup/restore/doctor, checksum refusal.
install-test:
	scripts/test-install.sh

shellcheck:
	shellcheck install.sh scripts/test-install.sh scripts/security-check.sh

# Needs a Docker engine (CI has none; cmd/tollgate/docker_test.go checks the Dockerfile).
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t tollgate:$(VERSION) .

# A local dry run of the release (dist/); see .goreleaser.yaml for the C cross compilers.
release-snapshot:
	goreleaser release --snapshot --clean

# Tollgate's build and test entry points. CI (.ci/run) calls `make test`.
GO ?= go
PKGS := ./...

.PHONY: build test test-short bench loadbench fmt vet

build:
	$(GO) build -o tollgate ./cmd/tollgate

# The whole suite with the race detector. Store and billing invariant tests also run
# against PostgreSQL when TOLLGATE_TEST_POSTGRES_DSN is set (CI sets it).
test:
	$(GO) test -race -count=1 $(PKGS)

test-short:
	$(GO) test -count=1 $(PKGS)

# Hot-path micro-benchmarks (auth + hold + settle on SQLite).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./router/ ./store/ ./billing/ ./providers/...

# Load benchmark: fake upstream direct vs. through Tollgate.
loadbench:
	$(GO) run ./bench -duration 5s -concurrency 32

fmt:
	gofmt -l -w .

vet:
	$(GO) vet $(PKGS)

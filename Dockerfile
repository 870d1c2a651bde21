# syntax=docker/dockerfile:1
#
# Tollgate container image.
#
#   docker build -t tollgate .
#   docker run -d -p 8080:8080 -v tollgate-data:/data --name tollgate tollgate
#   docker logs tollgate        # the first start prints the admin token (tga-…) once
#
# SQLite is github.com/mattn/go-sqlite3, a cgo package: the build stage compiles
# with gcc, and the final stage is distroless/base, which carries the glibc the
# binary links against (same Debian release as the builder), CA certificates and
# a non-root user — and no shell or curl, hence `tollgate healthcheck`.
#
# cmd/tollgate/docker_test.go runs the built binary with this file's ENTRYPOINT, ENV
# and HEALTHCHECK outside Docker; keep those instructions in their exec (JSON) form.

# The build runs on go1.27.3, the one toolchain of builds, tests and releases (as in
# the Makefile, .ci/run, install.sh and .goreleaser.yaml): Go 1.26.8's net/http,
# crypto/tls and crypto/x509 have known vulnerabilities that 1.27.3 fixes. The base
# image is Go 1.26.8's; GOTOOLCHAIN makes its go command fetch go1.27.3 from the Go
# module proxy (checksum-verified, into the module cache) and run that for every step.
# The golang image sets GOTOOLCHAIN=local, so the ENV below must stay.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
ENV GOTOOLCHAIN=go1.27.3
# The golang image already has gcc and libc6-dev; fail early and clearly if not.
RUN gcc --version >/dev/null
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go version && go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=none
ARG DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/tollgate ./cmd/tollgate \
 && mkdir -p /out/data

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/tollgate /usr/local/bin/tollgate
# The data directory belongs to the image's non-root user (65532), so a named
# volume mounted on /data starts out writable for it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TOLLGATE_ADDR=:8080
ENV TOLLGATE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["tollgate", "healthcheck"]
ENTRYPOINT ["tollgate", "serve"]

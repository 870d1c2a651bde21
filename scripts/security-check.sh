#!/usr/bin/env bash
# Security checks (make security; CI: .ci/run). Fails on any finding.
#
#   govulncheck  known vulnerabilities in the modules and the standard library that
#                Tollgate's code calls. The vulnerability database is built here from
#                the golang.org/x/vulndb module (its data/osv files, indexed by its
#                cmd/indexdb), fetched through the Go module proxy at a pinned
#                version, because the online database is not reachable from CI.
#                The standard library checked is that of the go command in use,
#                so GOTOOLCHAIN decides the result: go1.27.3, as for the builds.
#   gosec        static analysis of the non-test code. A finding that is intended or
#                a false positive is annotated where it is, `// #nosec G### -- why`;
#                the flags below reject annotations without a rule or a reason.
#
# Tools and the built database are cached under $TOLLGATE_SECURITY_CACHE (default
# ~/.cache/tollgate-security), one directory per pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

GOSEC_VERSION=v2.30.0
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cache=${TOLLGATE_SECURITY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate-security}
mkdir -p "$cache"

# install_tool DIR PACKAGE@VERSION: go install into DIR unless it is there already.
install_tool() {
  local dir=$1 pkg=$2
  if [ ! -x "$dir/$(basename "${pkg%@*}")" ]; then
    echo "installing $pkg"
    GOBIN=$dir go install "$pkg"
  fi
}

gosec_dir=$cache/gosec@$GOSEC_VERSION
govulncheck_dir=$cache/govulncheck@$GOVULNCHECK_VERSION
install_tool "$gosec_dir" "github.com/securego/gosec/v2/cmd/gosec@$GOSEC_VERSION"
install_tool "$govulncheck_dir" "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"

# The vulnerability database, built once per vulndb version.
db=$cache/vulndb@$VULNDB_VERSION
if [ ! -f "$db/index/db.json" ]; then
  echo "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
  # Outside any module, so that this module's go.mod is neither read nor changed.
  src=$(cd "$cache" && GOWORK=off go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$src/data/osv" ] || { echo "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (Dir: '$src')" >&2; exit 1; }
  tmp=$(mktemp -d "$cache/vulndb.tmp.XXXXXX")
  (cd "$src" && GOWORK=off go run ./cmd/indexdb -vulns data/osv -out "$tmp/db")
  rm -rf "$db"
  mv "$tmp/db" "$db"
  rmdir "$tmp"
fi

echo "$(go version); gosec $GOSEC_VERSION; govulncheck $GOVULNCHECK_VERSION; vulndb $VULNDB_VERSION"
status=0

echo
echo "--- govulncheck ./..."
"$govulncheck_dir/govulncheck" -db "file://$db" ./... || status=1

# Not scanned: test files (*_test.go; gosec leaves them out unless -tests), and the
# fakes that tests run in place of outside APIs: providers/providertest (the fake
# upstreams, also run by bench and cmd/fakeupstream; they misbehave on purpose:
# half-written bodies, dropped connections, unchecked writes) and payment/stripetest
# (a fake Stripe). They must stay out of the tollgate binary, which is checked here.
fakes=(providers/providertest payment/stripetest)
module=$(go list -m)
linked=$(go list -deps ./cmd/tollgate)
exclude=()
for dir in "${fakes[@]}"; do
  if grep -qx "$module/$dir" <<<"$linked"; then
    echo "$dir is linked into cmd/tollgate, so gosec must scan it" >&2
    status=1
  fi
  exclude+=("-exclude-dir=$dir")
done
echo
echo "--- gosec ./..."
"$gosec_dir/gosec" -quiet -color=false -nosec-require-rules -nosec-require-justification \
  "${exclude[@]}" ./... || status=1

echo
if [ "$status" -ne 0 ]; then
  echo "security check FAILED (findings above)"
else
  echo "security check passed: no govulncheck or gosec findings"
fi
exit "$status"

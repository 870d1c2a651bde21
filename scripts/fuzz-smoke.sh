#!/usr/bin/env bash
# A short run of every Go fuzz target (parsers of requests, SSE and keys; money
# arithmetic). Seeds live in each package's testdata/fuzz; a crash found here is
# written there too, and fails the run. FUZZTIME sets the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-4s}
count=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(printf '%s\n' "$line" | sed -E 's/.*func (Fuzz[A-Za-z0-9_]+).*/\1/')
  pkg=$(dirname "$file")
  printf '%-26s %-40s' "$name" "$pkg"
  if ! out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
    printf '\n%s\n' "$out"
    exit 1
  fi
  execs=$(printf '%s\n' "$out" | grep -Eo 'execs: [0-9]+' | tail -n 1 | grep -Eo '[0-9]+' || true)
  printf ' %s execs\n' "${execs:-0 (baseline corpus only)}"
  count=$((count + 1))
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort)
echo "$count fuzz targets run for $fuzztime each"

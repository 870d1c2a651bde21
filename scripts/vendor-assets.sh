#!/usr/bin/env bash
# Vendors the dashboard's third-party browser assets into web/static/vendor/ from
# their npm packages. Reproducible: each package is pinned to an exact version and to
# the sha512 integrity of its registry tarball, and only the files the dashboard
# loads are kept, with the package's licence beside them. The results are committed,
# so building or running Tollgate never needs Node or a network; run this only to
# change a version (update the pin below, run `make vendor-assets`, commit).
set -euo pipefail
cd "$(dirname "$0")/.."

dest=web/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

manifest="$tmp/VERSIONS"
{
  echo "# Third-party browser assets, vendored by scripts/vendor-assets.sh (make vendor-assets)."
  echo "# directory  npm package@version  tarball integrity  files"
} >"$manifest"

# vendor DIR PACKAGE VERSION INTEGRITY FILE... copies FILE (paths inside the
# package) and the package's LICENSE into $dest/DIR after checking the tarball.
vendor() {
  local dir=$1 pkg=$2 version=$3 integrity=$4
  shift 4
  echo "==> $pkg@$version"
  local tgz
  tgz=$(cd "$tmp" && npm pack --silent "$pkg@$version" | tail -n1)
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 | tr -d '\n')"
  if [ "$got" != "$integrity" ]; then
    echo "integrity mismatch for $pkg@$version:" >&2
    echo "  pinned $integrity" >&2
    echo "  got    $got" >&2
    exit 1
  fi
  local unpack="$tmp/unpack-$dir"
  mkdir -p "$unpack"
  tar -xzf "$tmp/$tgz" -C "$unpack" package/LICENSE "${@/#/package/}"
  rm -rf "${dest:?}/$dir"
  mkdir -p "$dest/$dir"
  cp "$unpack/package/LICENSE" "$dest/$dir/LICENSE"
  local f
  for f in "$@"; do
    cp "$unpack/package/$f" "$dest/$dir/$(basename "$f")"
  done
  echo "$dir  $pkg@$version  $integrity  $*" >>"$manifest"
}

vendor htmx htmx.org 2.0.11 \
  'sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==' \
  dist/htmx.min.js
vendor uplot uplot 1.6.32 \
  'sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==' \
  dist/uPlot.iife.min.js dist/uPlot.min.css

cp "$manifest" "$dest/VERSIONS"
echo "vendored into $dest:"
find "$dest" -type f | sort

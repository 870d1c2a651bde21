#!/usr/bin/env bash
# Tests install.sh end to end on this machine, with no outside network:
#
#   A. install from the local source tree into a temporary prefix; start the
#      installed gateway; set it up through its admin API and CLI against
#      cmd/fakeupstream; make one billed chat call with curl and check the balance;
#      a 402 and how to trace it; backup, doctor, restore; re-run = upgrade in place.
#   B. install a fake release (tarball + checksums.txt) served by python3's
#      http.server on 127.0.0.1, through `curl … | sh`; "latest"; a tampered tarball
#      must be refused; a release without this platform falls back to the source tree.
#
# Everything lives in a temporary directory; every process started here is stopped
# by its pid on exit. Run: scripts/test-install.sh (CI: .ci/run). Needs go, gcc,
# curl, jq, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-install-test.XXXXXX")
PIDS=()

cleanup() {
	local code=$?
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$code" -ne 0 ]; then
		echo "install test FAILED; logs:" >&2
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f" >&2
			tail -n 30 "$f" >&2
		done
	fi
	rm -rf "$WORK"
	exit "$code"
}
trap cleanup EXIT

step() { printf '\n--- %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
pass() { echo "ok: $*"; }

for tool in go curl jq python3 tar sha256sum; do
	command -v "$tool" >/dev/null || fail "$tool is needed"
done

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL waits up to 30s for URL to answer 200.
wait_http() {
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	fail "$1 did not answer within 30s"
}

# start_gateway ENV_FILE BIN LOG starts `tollgate serve` with the install's settings
# file, exactly as the installer tells the user to; sets GATEWAY_PID.
start_gateway() {
	# shellcheck source=/dev/null # the settings file the installer wrote
	(set -a && . "$1" && exec "$2" serve) >>"$3" 2>&1 &
	GATEWAY_PID=$!
	PIDS+=("$GATEWAY_PID")
	wait_http "$URL/healthz"
}

stop_gateway() {
	kill -TERM "$GATEWAY_PID"
	wait "$GATEWAY_PID" || fail "the gateway exited non-zero on SIGTERM"
}

case $(uname -m) in
x86_64 | amd64) ARCH=amd64 ;;
aarch64 | arm64) ARCH=arm64 ;;
*) ARCH=$(uname -m) ;;
esac
OS=$(uname -s | tr '[:upper:]' '[:lower:]')
ASSET="tollgate_${OS}_${ARCH}.tar.gz"

# ---------------------------------------------------------------------------------
step "A1. install from the local source tree"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
A="$WORK/a"
out=$(cd "$WORK" && sh "$ROOT/install.sh" --source "$ROOT" --prefix "$A" --data-dir "$A/data" \
	--config-dir "$A/etc" --addr "127.0.0.1:$PORT" --no-service 2>&1) || {
	echo "$out"
	fail "install.sh from source"
}
echo "$out"
BIN="$A/bin/tollgate"
ENV_FILE="$A/etc/tollgate.env"
[ -x "$BIN" ] || fail "no binary at $BIN"
"$BIN" version | grep -q '^tollgate ' || fail "tollgate version"
[ "$(stat -c %a "$ENV_FILE")" = 600 ] || fail "settings file mode is $(stat -c %a "$ENV_FILE"), want 600"
TOKEN=$(sed -n 's/^TOLLGATE_ADMIN_TOKEN=//p' "$ENV_FILE")
[[ $TOKEN =~ ^tga-[0-9a-f]{48}$ ]] || fail "no admin token in the settings file"
grep -qF "$TOKEN" <<<"$out" || fail "the installer did not print the admin token"
grep -qF "admin API  $URL/admin/api/v1" <<<"$out" || fail "the installer did not print the admin URL"
pass "installed $("$BIN" version)"

step "A2. start it; /healthz, /readyz, tollgate healthcheck"
# The fake upstream is on loopback, which channels may reach only when allowed.
echo "TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=true" >>"$ENV_FILE"
UP_PORT=$(free_port)
go build -o "$WORK/fakeupstream" "$ROOT/cmd/fakeupstream"
"$WORK/fakeupstream" --addr "127.0.0.1:$UP_PORT" --prompt-tokens 1000 --completion-tokens 500 \
	--text "Hello from the fake upstream" >"$WORK/fakeupstream.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/v1/models"
start_gateway "$ENV_FILE" "$BIN" "$WORK/gateway.log"
curl -fsS "$URL/readyz" | jq -e '.status == "ready"' >/dev/null || fail "/readyz"
TOLLGATE_ADDR="127.0.0.1:$PORT" "$BIN" healthcheck >/dev/null || fail "tollgate healthcheck"
TOLLGATE_ADDR="127.0.0.1:$PORT" "$BIN" healthcheck --ready >/dev/null || fail "tollgate healthcheck --ready"
if grep -q 'tga-' "$WORK/gateway.log"; then fail "the gateway printed a token although the settings file has one"; fi
pass "gateway up at $URL"

step "A3. channel + price (admin API), tenant + top-up + key (installed CLI)"
admin() { # METHOD PATH [JSON]: prints the answer; shows it and fails on an HTTP error
	local body
	if ! body=$(curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		"$URL/admin/api/v1$2" ${3:+-d "$3"}); then
		fail "admin API $1 $2: $body"
	fi
	printf '%s\n' "$body"
}
admin POST /channels "{\"name\":\"fake\",\"provider\":\"openai-compatible\",\"base_url\":\"http://127.0.0.1:$UP_PORT/v1\",\"models\":[\"gpt-4o-mini\"]}" >/dev/null
admin PUT /prices/gpt-4o-mini '{"input_usd_per_mtok":"0.15","output_usd_per_mtok":"0.6"}' >/dev/null
cli() { TOLLGATE_DATA_DIR="$A/data" "$BIN" "$@"; }
TENANT=$(cli tenant create acme)
cli topup --tenant "$TENANT" --amount 5 --idempotency-key install-test-1 | grep -q 'balance 5.000000000 USD' || fail "topup"
KEY=$(cli key create --tenant "$TENANT" --name app)
[[ $KEY == sk-tg-* ]] || fail "key create printed '$KEY'"
pass "tenant $TENANT with 5 USD and a key"

step "A4. backup while the gateway runs"
cli backup "$WORK/before-call.db" | tee "$WORK/backup.out"
grep -q '1 tenants' "$WORK/backup.out" || fail "backup summary"
[ "$(stat -c %a "$WORK/before-call.db")" = 600 ] || fail "backup file is not private"

step "A5. one billed chat call through the installed gateway"
status=$(curl -sS -o "$WORK/chat.json" -D "$WORK/chat.headers" -w '%{http_code}' "$URL/v1/chat/completions" \
	-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	-d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}')
[ "$status" = 200 ] || fail "chat call answered $status: $(cat "$WORK/chat.json")"
jq -e '.choices[0].message.content == "Hello from the fake upstream"' "$WORK/chat.json" >/dev/null || fail "answer: $(cat "$WORK/chat.json")"
grep -qi '^x-tollgate-channel: ' "$WORK/chat.headers" || fail "no X-Tollgate-Channel header"
grep -qi '^x-request-id: ' "$WORK/chat.headers" || fail "no X-Request-Id header"
balance=$(admin GET "/tenants/$TENANT" | jq -r .balance_usd)
# 1000 prompt tokens × 0.15 USD/M + 500 completion tokens × 0.60 USD/M = 0.00045 USD.
[ "$balance" = 4.999550000 ] || fail "balance after the call is $balance, want 4.999550000"
pass "served by $(grep -i '^x-tollgate-channel: ' "$WORK/chat.headers" | tr -d '\r' | cut -d' ' -f2); balance 5 → $balance USD"

step "A6. a 402, and how to trace it (README troubleshooting)"
POOR=$(cli tenant create poor)
POOR_KEY=$(cli key create --tenant "$POOR" --name app)
status=$(curl -sS -o "$WORK/402.json" -D "$WORK/402.headers" -w '%{http_code}' "$URL/v1/chat/completions" \
	-H "Authorization: Bearer $POOR_KEY" -H 'Content-Type: application/json' \
	-d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}')
[ "$status" = 402 ] || fail "no-credit call answered $status"
jq -e '.error.code == "insufficient_quota"' "$WORK/402.json" >/dev/null || fail "402 body: $(cat "$WORK/402.json")"
grep -qi '^x-should-retry: false' "$WORK/402.headers" || fail "402 without x-should-retry: false"
admin GET "/requests?status=402&tenant_id=$POOR" | jq -e 'tostring | contains("402")' >/dev/null || fail "GET /requests?status=402 does not show it"
admin GET /holds >/dev/null || fail "GET /holds"
pass "402 insufficient_quota, visible in the request log"

step "A7. tollgate doctor (real 1-token call through the channel)"
# shellcheck source=/dev/null # the settings file the installer wrote
(set -a && . "$ENV_FILE" && "$BIN" doctor) | tee "$WORK/doctor.out" || fail "doctor found problems"
grep -q 'answered' "$WORK/doctor.out" || fail "doctor made no channel call"

step "A8. restore: refused while running, then swapped in with the gateway stopped"
if cli restore "$WORK/before-call.db" 2>"$WORK/restore.err"; then fail "restore ran while the gateway had the database open"; fi
grep -q 'in use' "$WORK/restore.err" || fail "restore refusal: $(cat "$WORK/restore.err")"
stop_gateway
cli restore "$WORK/before-call.db"
[ -f "$A/data/tollgate.db.bak" ] || fail "no tollgate.db.bak kept"
start_gateway "$ENV_FILE" "$BIN" "$WORK/gateway.log"
balance=$(admin GET "/tenants/$TENANT" | jq -r .balance_usd)
[ "$balance" = 5.000000000 ] || fail "balance after restore is $balance, want the backup's 5.000000000"
pass "restored: balance back to $balance USD, previous database in tollgate.db.bak"
stop_gateway

step "A9. re-run the installer: upgrade in place, data and token kept"
out=$(cd "$WORK" && sh "$ROOT/install.sh" --source "$ROOT" --prefix "$A" --config-dir "$A/etc" --no-service 2>&1) || {
	echo "$out"
	fail "re-running install.sh"
}
echo "$out"
grep -q 'admin token unchanged' <<<"$out" || fail "the re-run did not keep the admin token"
grep -q 'Backing up the database before the upgrade' <<<"$out" || fail "no pre-upgrade backup"
ls "$A"/data/backups/tollgate-pre-upgrade-*.db >/dev/null || fail "pre-upgrade backup file missing"
[ "$(sed -n 's/^TOLLGATE_ADMIN_TOKEN=//p' "$ENV_FILE")" = "$TOKEN" ] || fail "the admin token changed"
grep -q "^TOLLGATE_DATA_DIR=$A/data\$" "$ENV_FILE" || fail "the data directory setting changed"
start_gateway "$ENV_FILE" "$BIN" "$WORK/gateway.log"
balance=$(admin GET "/tenants/$TENANT" | jq -r .balance_usd)
[ "$balance" = 5.000000000 ] || fail "balance after the upgrade is $balance"
stop_gateway
pass "upgraded in place; tenant, balance and admin token survived"

# ---------------------------------------------------------------------------------
step "B0. a fake release server on 127.0.0.1"
REL="$WORK/releases"
mkdir -p "$WORK/rel/good" "$WORK/rel/bad" "$REL/download/v9.9.9" "$REL/download/v6.6.6" "$REL/download/v9.9.8" "$REL/latest/download"
(cd "$ROOT" && CGO_ENABLED=1 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=v9.9.9 -X main.commit=release -X main.date=2026-01-01T00:00:00Z" \
	-o "$WORK/rel/good/tollgate" ./cmd/tollgate)
cp "$ROOT/README.md" "$WORK/rel/good/"
tar -czf "$REL/download/v9.9.9/$ASSET" -C "$WORK/rel/good" tollgate README.md
(cd "$REL/download/v9.9.9" && sha256sum "$ASSET" >checksums.txt && echo "0000000000000000000000000000000000000000000000000000000000000000  tollgate_plan9_amd64.tar.gz" >>checksums.txt)
cp "$REL/download/v9.9.9/"* "$REL/latest/download/"
# v6.6.6: the published checksum is of the real tarball; the served tarball is not it.
cp "$REL/download/v9.9.9/checksums.txt" "$REL/download/v6.6.6/"
printf '#!/bin/sh\necho pwned\n' >"$WORK/rel/bad/tollgate"
chmod +x "$WORK/rel/bad/tollgate"
tar -czf "$REL/download/v6.6.6/$ASSET" -C "$WORK/rel/bad" tollgate
# v9.9.8: a release that publishes nothing for this platform.
echo "1111111111111111111111111111111111111111111111111111111111111111  tollgate_plan9_amd64.tar.gz" >"$REL/download/v9.9.8/checksums.txt"
cp "$ROOT/install.sh" "$REL/install.sh"
REL_PORT=$(free_port)
RELEASE_URL="http://127.0.0.1:$REL_PORT"
python3 -m http.server "$REL_PORT" --bind 127.0.0.1 --directory "$REL" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
wait_http "$RELEASE_URL/install.sh"

step "B1. curl … | sh: release v9.9.9, checksum verified"
B="$WORK/b"
out=$(cd "$WORK" && curl -fsSL "$RELEASE_URL/install.sh" | sh -s -- --base-url "$RELEASE_URL" --version 9.9.9 \
	--prefix "$B" --data-dir "$B/data" --config-dir "$B/etc" --addr "127.0.0.1:$PORT" --no-service 2>&1) || {
	echo "$out"
	fail "release install"
}
echo "$out"
grep -q 'Verifying the checksum' <<<"$out" || fail "no checksum step"
grep -q 'matches' <<<"$out" || fail "checksum not reported as verified"
if grep -q 'Building' <<<"$out"; then fail "built from source although a release exists"; fi
"$B/bin/tollgate" version | grep -q 'tollgate v9.9.9 (commit release' || fail "installed version: $("$B/bin/tollgate" version)"
URL="http://127.0.0.1:$PORT"
start_gateway "$B/etc/tollgate.env" "$B/bin/tollgate" "$WORK/gateway-release.log"
stop_gateway
pass "release binary installed and serving"

step "B2. --version latest"
out=$(cd "$WORK" && sh "$REL/install.sh" --base-url "$RELEASE_URL" --prefix "$WORK/c" --data-dir "$WORK/c/data" \
	--config-dir "$WORK/c/etc" --no-service 2>&1) || {
	echo "$out"
	fail "latest install"
}
grep -q "latest/download" <<<"$out" || fail "did not use latest/download"
"$WORK/c/bin/tollgate" version | grep -q 'v9.9.9' || fail "latest installed $("$WORK/c/bin/tollgate" version)"
pass "latest resolved through $RELEASE_URL/latest/download"

step "B3. a tampered tarball is refused and nothing is replaced"
before=$(sha256sum "$B/bin/tollgate" | cut -d' ' -f1)
if out=$(cd "$WORK" && sh "$REL/install.sh" --base-url "$RELEASE_URL" --version 6.6.6 --prefix "$B" \
	--data-dir "$B/data" --config-dir "$B/etc" --no-service 2>&1); then
	echo "$out"
	fail "the installer accepted a tarball whose checksum does not match"
fi
echo "$out"
grep -q 'checksum mismatch' <<<"$out" || fail "no checksum mismatch message"
[ "$(sha256sum "$B/bin/tollgate" | cut -d' ' -f1)" = "$before" ] || fail "the installed binary was replaced"
if "$B/bin/tollgate" version | grep -q pwned; then fail "tampered binary installed"; fi
pass "tampered release refused"

step "B4. a release without this platform falls back to the source tree"
out=$(cd "$ROOT" && sh ./install.sh --base-url "$RELEASE_URL" --version 9.9.8 --prefix "$WORK/d" \
	--data-dir "$WORK/d/data" --config-dir "$WORK/d/etc" --no-service 2>&1) || {
	echo "$out"
	fail "fallback install"
}
grep -q "publishes no $ASSET" <<<"$out" || fail "no 'not published' note"
grep -q "Building from the source tree $ROOT" <<<"$out" || fail "did not build the local tree"
"$WORK/d/bin/tollgate" version >/dev/null || fail "fallback binary"
pass "fell back to building $ROOT"

echo
echo "install test passed"

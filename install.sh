#!/bin/sh
# Tollgate installer.
#
#   curl -fsSL https://raw.githubusercontent.com/tollgate-gw/tollgate/main/install.sh | sh
#   curl -fsSL …/install.sh | sh -s -- --version 1.2.0 --no-service
#
# What it does, one progress line per step:
#   1. detects the OS and CPU;
#   2. installs the release binary for them, verified against the release's
#      checksums.txt (a mismatch aborts; nothing unverified is ever installed) —
#      or, when no release is published for this platform, builds from source with
#      Go and a C compiler (SQLite needs cgo): the source tree this script sits in
#      or is run from, TOLLGATE_SOURCE=dir, or else the Go module at the version;
#   3. puts `tollgate` in <prefix>/bin and creates the data directory;
#   4. writes a settings file (mode 0600) with the listen address, the data
#      directory and a generated admin token, so the credential is known before
#      the first start and never passes through a log;
#   5. where systemd runs (and as root): installs and (re)starts tollgate.service
#      as the `tollgate` system user and waits for /healthz; otherwise prints how
#      to start it;
#   6. prints the URLs and, on a first install, the admin token.
#
# Running it again upgrades in place: the binary is replaced atomically, the data
# directory and settings file are kept (a SQLite database is backed up first into
# <data-dir>/backups/), and the service is restarted.
#
# POSIX sh; kept clean under shellcheck (scripts/test-install.sh runs it in CI).

set -eu

MODULE=github.com/tollgate-gw/tollgate
# Source builds use the Go toolchain of the release builds, whatever Go is installed:
# the go command (1.21 or newer) fetches it from the Go module proxy. Go 1.26.8's
# net/http, crypto/tls and crypto/x509 have known vulnerabilities that it fixes.
GO_TOOLCHAIN=go1.27.3
DEFAULT_RELEASE_URL=https://github.com/tollgate-gw/tollgate/releases
SERVICE=tollgate
SERVICE_USER=tollgate

usage() {
	cat <<'EOF'
Usage: install.sh [options]        (or: curl -fsSL <url>/install.sh | sh -s -- [options])

Options (each has an environment variable twin; an option wins):
  --version V        release to install: latest (default) or X.Y.Z        TOLLGATE_VERSION
  --prefix DIR       install DIR/bin/tollgate                              TOLLGATE_PREFIX
                     (default: /usr/local as root, else $HOME/.local)
  --data-dir DIR     database and secret key                               TOLLGATE_DATA_DIR
                     (default: /var/lib/tollgate as root, else ~/.local/share/tollgate)
  --config-dir DIR   where tollgate.env (the settings file) lives          TOLLGATE_CONFIG_DIR
                     (default: /etc/tollgate as root, else ~/.config/tollgate)
  --addr HOST:PORT   address the gateway listens on (default :8080)        TOLLGATE_ADDR
  --base-url URL     release server (default: the GitHub releases page)   TOLLGATE_RELEASE_URL
                     files are fetched from URL/download/vX.Y.Z/ or URL/latest/download/
  --source DIR       build this source tree instead of downloading        TOLLGATE_SOURCE
  --from-source      build from source even if a release exists           TOLLGATE_FROM_SOURCE=1
  --no-service       do not install or restart the systemd service        TOLLGATE_NO_SERVICE=1
  --no-backup        skip the SQLite backup taken before an upgrade       TOLLGATE_NO_BACKUP=1
  --reset-admin-token  write a new admin token into the settings file
  -h, --help         show this help
EOF
}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_true() {
	case ${1:-} in
	1 | true | TRUE | True | yes | YES | on | ON) return 0 ;;
	*) return 1 ;;
	esac
}

# ---- options ------------------------------------------------------------------

version=${TOLLGATE_VERSION:-latest}
prefix=${TOLLGATE_PREFIX:-}
data_dir=${TOLLGATE_DATA_DIR:-}
config_dir=${TOLLGATE_CONFIG_DIR:-}
addr=${TOLLGATE_ADDR:-}
release_url=${TOLLGATE_RELEASE_URL:-$DEFAULT_RELEASE_URL}
source_dir=${TOLLGATE_SOURCE:-}
from_source=${TOLLGATE_FROM_SOURCE:-}
no_service=${TOLLGATE_NO_SERVICE:-}
no_backup=${TOLLGATE_NO_BACKUP:-}
reset_token=
# Which settings were given explicitly: those overwrite an existing settings file.
explicit_data_dir=$data_dir
explicit_addr=$addr

need_value() {
	[ "$2" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
	case $1 in
	--version) need_value "$1" $#; version=$2; shift 2 ;;
	--version=*) version=${1#*=}; shift ;;
	--prefix) need_value "$1" $#; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--data-dir) need_value "$1" $#; data_dir=$2; explicit_data_dir=$2; shift 2 ;;
	--data-dir=*) data_dir=${1#*=}; explicit_data_dir=$data_dir; shift ;;
	--config-dir) need_value "$1" $#; config_dir=$2; shift 2 ;;
	--config-dir=*) config_dir=${1#*=}; shift ;;
	--addr) need_value "$1" $#; addr=$2; explicit_addr=$2; shift 2 ;;
	--addr=*) addr=${1#*=}; explicit_addr=$addr; shift ;;
	--base-url) need_value "$1" $#; release_url=$2; shift 2 ;;
	--base-url=*) release_url=${1#*=}; shift ;;
	--source) need_value "$1" $#; source_dir=$2; shift 2 ;;
	--source=*) source_dir=${1#*=}; shift ;;
	--from-source) from_source=1; shift ;;
	--no-service) no_service=1; shift ;;
	--no-backup) no_backup=1; shift ;;
	--reset-admin-token) reset_token=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option: $1 (see --help)" ;;
	esac
done

release_url=${release_url%/}
version=${version#v}
[ -n "$version" ] || version=latest

if [ "$(id -u)" -eq 0 ]; then
	as_root=1
	: "${prefix:=/usr/local}"
	: "${config_dir:=/etc/tollgate}"
	default_data_dir=/var/lib/tollgate
else
	as_root=
	[ -n "${HOME:-}" ] || die "HOME is not set; pass --prefix, --data-dir and --config-dir"
	: "${prefix:=$HOME/.local}"
	: "${config_dir:=${XDG_CONFIG_HOME:-$HOME/.config}/tollgate}"
	default_data_dir=${XDG_DATA_HOME:-$HOME/.local/share}/tollgate
fi
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
case $config_dir in /*) ;; *) config_dir=$(pwd)/$config_dir ;; esac
bin_dir=$prefix/bin
env_file=$config_dir/tollgate.env

# The settings file is read by systemd and by sh (`. tollgate.env`); keep its values
# to characters both read the same way.
check_plain() {
	case $2 in
	*[[:space:]\"\'\\\$\`]*) die "$1 must not contain spaces, quotes, backslashes or \$: '$2'" ;;
	esac
}

# ---- helpers ------------------------------------------------------------------

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t tollgate-install)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# fetch URL FILE downloads with curl or wget; it fails on HTTP errors.
fetch() {
	if have curl; then
		curl -fsSL --retry 2 --connect-timeout 10 -o "$2" "$1"
	elif have wget; then
		wget -q -T 30 -O "$2" "$1"
	else
		die "need curl or wget to download $1"
	fi
}

sha256_of() {
	if have sha256sum; then
		sha256sum "$1" | cut -d' ' -f1
	elif have shasum; then
		shasum -a 256 "$1" | cut -d' ' -f1
	elif have openssl; then
		openssl dgst -sha256 "$1" | sed 's/^.*= *//'
	else
		die "need sha256sum, shasum or openssl to verify the download; refusing to install unverified"
	fi
}

# env_get KEY prints KEY's value from the settings file (last one wins).
env_get() {
	[ -f "$env_file" ] || return 0
	sed -n "s/^$1=//p" "$env_file" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# env_set KEY VALUE replaces (or appends) KEY in the settings file, keeping mode 0600.
env_set() {
	(
		umask 077
		K=$1 V=$2 awk 'index($0, ENVIRON["K"] "=") == 1 { if (!done) print ENVIRON["K"] "=" ENVIRON["V"]; done = 1; next }
			{ print }
			END { if (!done) print ENVIRON["K"] "=" ENVIRON["V"] }' "$env_file" >"$env_file.tmp.$$"
	)
	mv -f "$env_file.tmp.$$" "$env_file"
}

new_admin_token() {
	hex=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
	[ ${#hex} -eq 48 ] || die "could not read 24 random bytes from /dev/urandom"
	printf 'tga-%s\n' "$hex"
}

# local_url turns the listen address into a URL on this machine (":8080" and
# "0.0.0.0:8080" become http://127.0.0.1:8080).
local_url() {
	port=${addr##*:}
	host=${addr%:*}
	case $host in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
	printf 'http://%s:%s\n' "$host" "$port"
}

is_source_tree() {
	[ -n "$1" ] && [ -f "$1/go.mod" ] && [ -d "$1/cmd/tollgate" ] &&
		grep -q "^module $MODULE\$" "$1/go.mod"
}

# ---- 1. platform --------------------------------------------------------------

say "Detecting platform"
os=$(uname -s)
arch=$(uname -m)
case $os in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) die "unsupported operating system '$os': Tollgate installs on Linux and macOS (on Windows, use WSL 2 or the Docker image)" ;;
esac
case $arch in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
esac
# A shell under Rosetta reports x86_64 on Apple silicon; the native build is better.
if [ "$os" = darwin ] && [ "$arch" = amd64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
	arch=arm64
fi
note "$os/$arch"

# An existing settings file holds the choices of the first install: keep them
# unless this run names new ones.
if [ -f "$env_file" ]; then
	[ -r "$env_file" ] || die "cannot read $env_file (run as the user who installed Tollgate, or as root)"
	[ -n "$data_dir" ] || data_dir=$(env_get TOLLGATE_DATA_DIR)
	[ -n "$addr" ] || addr=$(env_get TOLLGATE_ADDR)
fi
: "${data_dir:=$default_data_dir}"
: "${addr:=:8080}"
check_plain "the data directory" "$data_dir"
check_plain "the prefix" "$prefix"
check_plain "the config directory" "$config_dir"
check_plain "the listen address" "$addr"
case $addr in *:[0-9]*) ;; *) die "--addr must be HOST:PORT or :PORT, not '$addr'" ;; esac
case $data_dir in /*) ;; *) data_dir=$(pwd)/$data_dir ;; esac

# ---- 2. binary: release or source -----------------------------------------------

new_bin=
installed_from=

install_from_release() {
	asset=tollgate_${os}_${arch}.tar.gz
	if [ "$version" = latest ]; then
		base=$release_url/latest/download
	else
		base=$release_url/download/v$version
	fi
	say "Looking for release $version for $os/$arch at $base"
	if ! fetch "$base/checksums.txt" "$tmp/checksums.txt" 2>"$tmp/fetch.err"; then
		note "no release found there ($(tail -n 1 "$tmp/fetch.err" 2>/dev/null || true))"
		return 1
	fi
	expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/checksums.txt")
	if [ -z "$expected" ]; then
		note "the release publishes no $asset"
		return 1
	fi
	say "Downloading $asset"
	fetch "$base/$asset" "$tmp/$asset" || die "could not download $base/$asset (checksums.txt lists it)"
	say "Verifying the checksum against checksums.txt"
	actual=$(sha256_of "$tmp/$asset")
	if [ "$actual" != "$expected" ]; then
		die "checksum mismatch for $asset: checksums.txt says $expected, the download is $actual. The file is corrupt or was tampered with; nothing was installed."
	fi
	note "sha256 $actual matches"
	mkdir "$tmp/release"
	tar -xzf "$tmp/$asset" -C "$tmp/release" || die "could not unpack $asset"
	[ -f "$tmp/release/tollgate" ] || die "$asset has no tollgate binary"
	new_bin=$tmp/release/tollgate
	installed_from="release $version ($asset, checksum verified)"
}

check_build_tools() {
	have go || die "no release binary for $os/$arch, and Go is not installed to build one. Install Go 1.26 or newer (https://go.dev/dl/) and a C compiler, then run this again."
	gover=$(go env GOVERSION 2>/dev/null || true)
	minor=$(printf '%s\n' "$gover" | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p')
	if [ -z "$minor" ] || [ "$minor" -lt 21 ]; then
		die "Go ${gover:-(unknown version)} is too old to build Tollgate: install Go 1.26 or newer (https://go.dev/dl/)"
	fi
	# The first time, the go command fetches the toolchain (and says so on stderr).
	bgover=$(GOTOOLCHAIN=$GO_TOOLCHAIN go env GOVERSION) ||
		die "Go $gover could not get the $GO_TOOLCHAIN toolchain Tollgate builds with (output above): check that the Go module proxy ($(go env GOPROXY 2>/dev/null)) is reachable"
	cc=${CC:-$(go env CC 2>/dev/null || echo gcc)}
	cc_cmd=${cc%% *}
	if ! have "$cc_cmd"; then
		case $os in
		darwin) hint="xcode-select --install" ;;
		*) hint="apt-get install gcc (Debian/Ubuntu), dnf install gcc (Fedora/RHEL) or apk add build-base (Alpine)" ;;
		esac
		die "building from source needs a C compiler ('$cc_cmd' not found): Tollgate's SQLite driver (mattn/go-sqlite3) uses cgo. Install one with: $hint"
	fi
	note "building with Go $bgover (installed: $gover), C compiler $cc_cmd (cgo, for SQLite)"
}

build_from_tree() {
	dir=$(cd "$1" && pwd) || die "source directory $1 does not exist"
	is_source_tree "$dir" || die "$dir is not a Tollgate source tree (no go.mod for $MODULE with cmd/tollgate)"
	say "Building from the source tree $dir"
	check_build_tools
	bver=dev
	bcommit=none
	if have git && git -C "$dir" rev-parse --git-dir >/dev/null 2>&1; then
		bver=$(git -C "$dir" describe --tags --always --dirty 2>/dev/null || echo dev)
		bcommit=$(git -C "$dir" rev-parse --short=12 HEAD 2>/dev/null || echo none)
	fi
	bdate=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	(cd "$dir" && CGO_ENABLED=1 GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$tmp/bin" go install -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.version=$bver -X main.commit=$bcommit -X main.date=$bdate" ./cmd/tollgate) ||
		die "go install failed in $dir (compiler output above)"
	new_bin=$tmp/bin/tollgate
	installed_from="source tree $dir ($bver)"
}

build_from_module() {
	if [ "$version" = latest ]; then modver=latest; else modver=v$version; fi
	say "Building $MODULE/cmd/tollgate@$modver from source"
	check_build_tools
	CGO_ENABLED=1 GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$tmp/bin" go install -trimpath "$MODULE/cmd/tollgate@$modver" ||
		die "go install $MODULE/cmd/tollgate@$modver failed (output above): check the version, and that the Go module proxy ($(go env GOPROXY 2>/dev/null)) is reachable"
	new_bin=$tmp/bin/tollgate
	installed_from="Go module $MODULE@$modver"
}

# The source tree to fall back to: this script's own checkout, or the working directory.
script_dir=
case $0 in */*) script_dir=$(cd "$(dirname "$0")" 2>/dev/null && pwd) || script_dir= ;; esac
local_tree=
for d in "$script_dir" "$(pwd)"; do
	if is_source_tree "$d"; then
		local_tree=$d
		break
	fi
done

if [ -n "$source_dir" ]; then
	build_from_tree "$source_dir"
elif is_true "$from_source"; then
	if [ -n "$local_tree" ]; then build_from_tree "$local_tree"; else build_from_module; fi
elif install_from_release; then
	:
elif [ -n "$local_tree" ]; then
	note "building the source tree at $local_tree instead"
	[ "$version" = latest ] || note "(that is whatever version is checked out there, not necessarily $version)"
	build_from_tree "$local_tree"
else
	note "building from source instead"
	build_from_module
fi

"$new_bin" version >/dev/null 2>&1 ||
	die "the new binary does not run on this machine: $("$new_bin" version 2>&1 | head -n 1)"

# ---- 3. install the binary and the data directory ----------------------------------

say "Preparing the data directory $data_dir"
mkdir -p "$data_dir" || die "cannot create $data_dir (run as root, or choose --data-dir)"
chmod 700 "$data_dir"

database_url=$(env_get TOLLGATE_DATABASE_URL)
if [ -f "$data_dir/tollgate.db" ] && [ -z "$database_url" ] && ! is_true "$no_backup"; then
	backup=$data_dir/backups/tollgate-pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ).db
	say "Backing up the database before the upgrade"
	mkdir -p "$data_dir/backups"
	"$new_bin" backup --data-dir "$data_dir" "$backup" >/dev/null 2>"$tmp/backup.err" ||
		die "the pre-upgrade backup failed: $(cat "$tmp/backup.err") — fix that, or rerun with --no-backup"
	note "$backup"
	# Keep the three newest pre-upgrade backups.
	# shellcheck disable=SC2012 # our own file names: no spaces or newlines
	ls -1t "$data_dir"/backups/tollgate-pre-upgrade-*.db 2>/dev/null | tail -n +4 | while read -r old; do rm -f "$old"; done
fi

say "Installing $bin_dir/tollgate"
mkdir -p "$bin_dir" 2>/dev/null || die "cannot create $bin_dir: run as root (curl … | sudo sh) or choose --prefix \$HOME/.local"
[ -w "$bin_dir" ] || die "$bin_dir is not writable: run as root (curl … | sudo sh) or choose --prefix \$HOME/.local"
previous=
if [ -x "$bin_dir/tollgate" ]; then
	previous=$("$bin_dir/tollgate" version 2>/dev/null || echo "an unknown version")
fi
cp "$new_bin" "$bin_dir/.tollgate.new.$$"
chmod 755 "$bin_dir/.tollgate.new.$$"
mv -f "$bin_dir/.tollgate.new.$$" "$bin_dir/tollgate" # atomic: a running gateway keeps its old inode
bin=$bin_dir/tollgate
note "$("$bin" version)"
note "from $installed_from"
[ -z "$previous" ] || note "replaced $previous"

# ---- 4. settings file and admin credential --------------------------------------------

say "Writing settings to $env_file"
mkdir -p "$config_dir"
chmod 700 "$config_dir"
if [ ! -f "$env_file" ]; then
	(
		umask 077
		cat >"$env_file" <<EOF
# Tollgate settings: read by the tollgate service (systemd EnvironmentFile) or by
# \`set -a; . $env_file; set +a\` before \`tollgate serve\`. Any variable listed by
# \`tollgate serve --help\` may be set here. Keep this file private (mode 0600).
TOLLGATE_ADDR=$addr
TOLLGATE_DATA_DIR=$data_dir
EOF
	)
else
	[ -z "$explicit_addr" ] || env_set TOLLGATE_ADDR "$addr"
	[ -z "$explicit_data_dir" ] || env_set TOLLGATE_DATA_DIR "$data_dir"
fi
chmod 600 "$env_file"

new_token=
if [ -n "$reset_token" ]; then
	new_token=$(new_admin_token)
	env_set TOLLGATE_ADMIN_TOKEN "$new_token"
	token_note="a new admin token replaces the old one"
elif [ -n "$(env_get TOLLGATE_ADMIN_TOKEN)" ]; then
	token_note="admin token unchanged (it is in $env_file)"
elif [ -f "$data_dir/tollgate.db" ] || [ -n "$database_url" ]; then
	token_note="existing installation: the admin token printed at its first start stays valid (--reset-admin-token makes a new one)"
else
	new_token=$(new_admin_token)
	env_set TOLLGATE_ADMIN_TOKEN "$new_token"
	token_note="generated an admin token (kept in $env_file, readable only by its owner)"
fi
chmod 600 "$env_file"
note "$token_note"

# ---- 5. service --------------------------------------------------------------------

url=$(local_url)
service=
if is_true "$no_service"; then
	service_note="not installed (--no-service)"
elif [ -z "$as_root" ]; then
	service_note="not installed (the systemd service needs root; run with sudo to get one)"
elif [ ! -d /run/systemd/system ] || ! have systemctl; then
	service_note="not installed (systemd is not running here)"
else
	service=1
fi

if [ -n "$service" ]; then
	say "Installing the systemd service $SERVICE"
	if ! id "$SERVICE_USER" >/dev/null 2>&1; then
		nologin=$(command -v nologin || echo /usr/sbin/nologin)
		if have useradd; then
			useradd --system --user-group --home-dir "$data_dir" --no-create-home --shell "$nologin" "$SERVICE_USER"
		elif have adduser; then
			adduser --system --group --home "$data_dir" --no-create-home --shell "$nologin" "$SERVICE_USER"
		else
			die "cannot create the $SERVICE_USER user: neither useradd nor adduser exists"
		fi
		note "created system user $SERVICE_USER"
	fi
	chown -R "$SERVICE_USER:" "$data_dir"
	protect_home=yes
	case $data_dir in /home/* | /root/* | /run/user/*) protect_home=no ;; esac
	cat >"/etc/systemd/system/$SERVICE.service" <<EOF
# Written by Tollgate's install.sh; rerunning it rewrites this file.
# Local changes belong in an override: systemctl edit $SERVICE
[Unit]
Description=Tollgate LLM gateway
Documentation=https://$MODULE
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
EnvironmentFile=$env_file
ExecStart=$bin serve
Restart=on-failure
RestartSec=2s
# tollgate lets calls in flight finish for TOLLGATE_SHUTDOWN_GRACE (30s) on SIGTERM.
TimeoutStopSec=75s
LimitNOFILE=65536
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=$protect_home
ReadWritePaths=$data_dir

[Install]
WantedBy=multi-user.target
EOF
	systemctl daemon-reload
	systemctl enable --quiet "$SERVICE"
	systemctl restart "$SERVICE"
	say "Waiting for $url/healthz"
	tries=0
	until "$bin" healthcheck --addr "$addr" >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -ge 30 ]; then
			journalctl -u "$SERVICE" -n 30 --no-pager >&2 2>/dev/null || true
			die "the service did not answer $url/healthz within 30s (its log is above; systemctl status $SERVICE)"
		fi
		sleep 1
	done
	service_note="systemd unit $SERVICE, running (systemctl status $SERVICE; journalctl -u $SERVICE)"
fi

# ---- 6. summary --------------------------------------------------------------------

echo
echo "Tollgate is installed."
echo "  binary     $bin"
echo "  data       $data_dir  (back it up with: tollgate backup <file>)"
echo "  settings   $env_file"
echo "  service    $service_note"
echo "  API        $url/v1"
echo "  admin API  $url/admin/api/v1"
echo "  dashboard  $url/admin/  (its first sign-in asks for the admin token)"
if [ -n "$new_token" ]; then
	echo
	echo "  Admin token (use as 'Authorization: Bearer <token>'; it is also in $env_file):"
	echo
	echo "      $new_token"
fi
if [ -z "$service" ]; then
	echo
	if [ -n "$previous" ]; then
		echo "  Restart your running gateway to use the new binary. Start it with:"
	else
		echo "  Start the gateway with:"
	fi
	echo "      (set -a && . $env_file && exec $bin serve)"
fi
case ":${PATH:-}:" in
*":$bin_dir:"*) ;;
*)
	echo
	echo "  $bin_dir is not on your PATH; add it, e.g.:"
	echo "      echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.profile"
	;;
esac
echo
echo "  Next: add a channel, a tenant, credit and a key — see the README's \"First steps\"."

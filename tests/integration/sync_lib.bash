# Sourced by the tests/integration/sync_*.sh tests: several devices (databases
# and mounts) under one temporary directory, on loopback with random high
# ports; every mount is stopped and everything removed by the EXIT trap.
set -u
BLAZEFS=${BLAZEFS:-$(realpath "${BLAZEFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/blazefs}")}
T=$(mktemp -d /tmp/blazefs-sync.XXXXXX)
export HOME=$T/home
mkdir -p "$HOME"
declare -A PIDS=()  # device -> mount pid
BASE_PORT=$((20000 + RANDOM % 20000))

cleanup() {
	cd /
	for d in "${!PIDS[@]}"; do
		stop "$d"
	done
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[ -s "$f" ] && { echo "--- $f:" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}

expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got [$1], expected [$2]"
}

# port DEV: the listen port of device DEV (a single capital letter) this run.
port() {
	echo $((BASE_PORT + $(printf '%d' "'$1") - 65))
}

# start DEV [mount options...]: mounts $T/DEV on $T/DEV.mnt in the foreground.
start() {
	local d=$1
	shift
	mkdir -p "$T/$d.mnt"
	"$BLAZEFS" mount "$T/$d" "$T/$d.mnt" -f "$@" </dev/null >>"$T/$d.log" 2>&1 &
	PIDS[$d]=$!
	for _ in $(seq 100); do
		mountpoint -q "$T/$d.mnt" && return 0
		kill -0 "${PIDS[$d]}" 2>/dev/null || fail "mount of $d exited early"
		sleep 0.05
	done
	fail "mount of $d did not come up"
}

# stop DEV: unmounts (the daemon exits), or kills it after 5 s.
stop() {
	local d=$1 pid=${PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	fusermount3 -u "$T/$d.mnt" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		fusermount3 -uz "$T/$d.mnt" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "PIDS[$d]"
}

# init DEV NAME: a new database.
init() {
	"$BLAZEFS" init "$T/$1" --name "$2" >/dev/null || fail "init $1"
}

# pair INVITER JOINER NAME [join options]: the inviter must be mounted and
# listening; the joiner's database is made by join.
pair() {
	local code
	code=$("$BLAZEFS" invite "$T/$1" 2>/dev/null) || fail "invite on $1"
	"$BLAZEFS" join "$T/$2" "${code%@*}" --name "$3" --peer "127.0.0.1:$(port "$1")" \
		"${@:4}" >/dev/null || fail "join $2 via $1"
}

# wait_until SECONDS COMMAND...: polls every 50 ms; 0 once COMMAND succeeds.
wait_until() {
	local n=$(($1 * 20))
	shift
	for _ in $(seq "$n"); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# same FILE1 FILE2: both exist and hold the same JSON (jq -S .); a write
# reads back as written on its own device, canonical elsewhere.
same() {
	[ -f "$1" ] && [ -f "$2" ] && [ "$(jq -cS . "$1")" = "$(jq -cS . "$2")" ]
}

gone() {
	[ ! -e "$1" ]
}

# vv DEV: the version vector `blazefs status` reports.
vv() {
	"$BLAZEFS" status "$T/$1" | jq -cS .version_vector
}

same_vv() {
	[ "$(vv "$1")" = "$(vv "$2")" ]
}

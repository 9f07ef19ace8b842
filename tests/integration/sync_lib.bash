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

. "$(dirname "${BASH_SOURCE[0]}")/devices.bash"

# port DEV: the listen port of device DEV (a single capital letter) this run.
port() {
	echo $((BASE_PORT + $(printf '%d' "'$1") - 65))
}

# start DEV [mount options...]: mounts $T/DEV on $T/DEV.mnt in the foreground,
# with the VAR=value words of START_ENV (if set) in its environment.
start() {
	local d=$1
	shift
	mkdir -p "$T/$d.mnt"
	# shellcheck disable=SC2086 # START_ENV is a list of words
	env ${START_ENV:-} "$BLAZEFS" mount "$T/$d" "$T/$d.mnt" -f "$@" </dev/null >>"$T/$d.log" 2>&1 &
	PIDS[$d]=$!
	for _ in $(seq 100); do
		mountpoint -q "$T/$d.mnt" && return 0
		kill -0 "${PIDS[$d]}" 2>/dev/null || fail "mount of $d exited early"
		sleep 0.05
	done
	fail "mount of $d did not come up"
}

# pair INVITER JOINER NAME [invite options]: the inviter must be mounted and
# listening; the joiner's database is made by join.
pair() {
	local code
	code=$("$BLAZEFS" invite "$T/$1" "${@:4}" 2>/dev/null) || fail "invite on $1"
	"$BLAZEFS" join "$T/$2" "${code%@*}" --name "$3" --peer "127.0.0.1:$(port "$1")" \
		>/dev/null || fail "join $2 via $1"
}


# proxy NAME LISTEN_PORT TARGET_PORT [--rate BYTES_PER_S]: a tests/tools/netproxy
# from 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT, its pid in PROXY[NAME];
# stopped by the EXIT trap.  `kill -USR1 ${PROXY[NAME]}` makes it go silent.
NETPROXY=${NETPROXY:-$(dirname "$BLAZEFS")/tools/netproxy}
declare -A PROXY=()
proxy() {
	local name=$1 lport=$2 tport=$3
	shift 3
	[ -x "$NETPROXY" ] || fail "no $NETPROXY (make tools)"
	"$NETPROXY" "$lport" "127.0.0.1:$tport" "$@" >"$T/proxy-$name.out" 2>&1 &
	PROXY[$name]=$!
	wait_until 5 grep -q ready "$T/proxy-$name.out" || fail "proxy $name did not start"
}
stop_proxies() {
	for p in "${PROXY[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PROXY=()
}
trap 'stop_proxies; cleanup' EXIT

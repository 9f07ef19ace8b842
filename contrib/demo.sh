#!/bin/bash
# The README's first command: two devices of one database on this machine,
# paired by invite/join, mounted side by side and syncing over loopback.
# A record written through one mount is read back through the other.
# Everything lives under one temporary directory, removed at the end
# (KEEP=1 leaves both mounts up for you to play with; unmount them with
# fusermount3 -u).
set -euo pipefail
cd "$(dirname "$0")/.."
BLAZEFS=$(realpath "${BLAZEFS_BIN:-./blazefs}")
T=$(mktemp -d /tmp/blazefs-demo.XXXXXX)
PORT_A=$((20000 + RANDOM % 20000))
PORT_B=$((PORT_A + 1))
PIDS=()

cleanup() {
	[ "${KEEP:-0}" = 1 ] && { echo "kept: $T (A.mnt, B.mnt)"; return; }
	for m in "$T/A.mnt" "$T/B.mnt"; do
		mountpoint -q "$m" && fusermount3 -u "$m"
	done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
mount_dev() { # DEV PORT [options]
	local d=$1 port=$2
	shift 2
	mkdir -p "$T/$d.mnt"
	say "blazefs mount $d $d.mnt --listen 127.0.0.1:$port $*"
	"$BLAZEFS" mount "$T/$d" "$T/$d.mnt" -f --listen "127.0.0.1:$port" --no-mdns "$@" \
		</dev/null >>"$T/$d.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do mountpoint -q "$T/$d.mnt" && return; sleep 0.05; done
	echo "the mount of $d did not come up:" >&2
	cat "$T/$d.log" >&2
	exit 1
}
wait_for() { # FILE PATTERN: until FILE holds PATTERN (10 s at most)
	for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.05; done
	echo "did not sync: $1" >&2
	exit 1
}

cd "$T"
run "$BLAZEFS" init A --name laptop
mount_dev A "$PORT_A"
say "blazefs invite A"
code=$("$BLAZEFS" invite A)
echo "$code"
run "$BLAZEFS" join B "$code" --name desktop --peer "127.0.0.1:$PORT_A"
mount_dev B "$PORT_B" --peer "127.0.0.1:$PORT_A"

run mkdir A.mnt/bugs
say "echo '{\"title\": \"crash on start\", \"severity\": 2}' > A.mnt/bugs/b-1042.json"
echo '{"title": "crash on start", "severity": 2}' >A.mnt/bugs/b-1042.json
wait_for B.mnt/bugs/b-1042.json "crash on start"
run cat B.mnt/bugs/b-1042.json

say "jq '.severity = 1' B.mnt/bugs/b-1042.json > t && mv t B.mnt/bugs/b-1042.json"
jq '.severity = 1' B.mnt/bugs/b-1042.json >t && mv t B.mnt/bugs/b-1042.json
wait_for A.mnt/bugs/b-1042.json '"severity": 1'
run cat A.mnt/bugs/b-1042.json
run ls -l A.mnt/bugs B.mnt/bugs
# Both dialled each other: once the duplicate connection is closed, the
# session that stays is the one to show (twice in a row, 0.2 s apart).
synced=0
for _ in $(seq 100); do
	if "$BLAZEFS" status --json A.mnt | jq -e '[.peers[] | select(.state == "syncing")] | length == 1' >/dev/null; then
		synced=$((synced + 1))
		[ "$synced" -ge 2 ] && break
	else
		synced=0
	fi
	sleep 0.2
done
run "$BLAZEFS" status A.mnt
echo
echo "demo: a record written on one device was read back on the other, both ways."

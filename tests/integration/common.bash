# Sourced by every integration test: a private database and mountpoint under a
# temporary directory, mounted in the foreground in the background, unmounted
# and removed by the EXIT trap whatever happens.
set -u
BLAZEFS=${BLAZEFS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/blazefs}
T=$(mktemp -d /tmp/blazefs-test.XXXXXX)
DB=$T/db
MNT=$T/mnt
LOG=$T/log
PID=
export HOME=$T/home
mkdir -p "$HOME" "$MNT"

cleanup() {
	cd /
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	fi
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	if [ -s "$LOG" ]; then
		echo "--- daemon log:" >&2
		tail -n 20 "$LOG" >&2
	fi
	exit 1
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got [$1], expected [$2]"
}

init_db() {
	"$BLAZEFS" init "$DB" --name test >/dev/null || fail "blazefs init failed"
}

mount_fs() {
	"$BLAZEFS" mount "$DB" "$MNT" -f "$@" 2>>"$LOG" &
	PID=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$PID" 2>/dev/null || fail "blazefs mount exited early"
		sleep 0.1
	done
	fail "mount did not appear"
}

umount_fs() {
	fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
	wait "$PID" || fail "blazefs mount exited with status $?"
	PID=
}

# Unmounts and mounts again, staying in the same directory of the mount.
remount() {
	local d=$PWD
	cd /
	umount_fs
	mount_fs
	cd "$d" || fail "cd $d after remount"
}

# The version vector as compact JSON (changes journalled so far).
vv() {
	jq -c .version_vector "$MNT/.blazefs/status"
}

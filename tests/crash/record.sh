#!/bin/bash
# record.sh OUT [SEED] [STEPS]: records the crash explorer's workload.
#
# Device A (OUT/A) is made by `blazefs init`; device B (OUT/B) joins it, so
# that a peer receives A's changes while the workload runs (for D4).  A's
# database directory is copied to OUT/snap once nothing runs on it, then A is
# mounted under strace, which logs every write and sync made to its files
# (OUT/trace), and B is mounted with A as its peer.  tests/crash/workload.py
# writes through A's mount (OUT/wlog).  Then A is killed (kill -9) and
# mounted again under a second strace, B still running, and the workload
# goes on for half as many steps; the two traces are concatenated (their
# timestamps follow each other; the files are the same).  Then both are
# unmounted.
#
# Why strace rather than an LD_PRELOAD shim: it needs no code of ours in the
# traced process, sees every thread and every path to the kernel (LMDB calls
# pwrite/writev/fdatasync through libc, FUSE threads write the wal), and
# orders the calls of all threads as the kernel returned them, with
# timestamps on the same clock as the workload's log.  The cost (a slower
# mount while recording) does not matter: the images are built afterwards.
set -u
OUT=$1
SEED=${2:-1}
STEPS=${3:-150}
BURST=${CRASH_BURST:-100}    # records written by each of two threads at the end
RESTART=${CRASH_RESTART:-1} # kill -9 of A after the workload, restart, more of it
HERE=$(cd "$(dirname "$0")" && pwd)
BLAZEFS=${BLAZEFS:-$(realpath "$HERE/../../blazefs")}
export BLAZEFS
export HOME=$OUT/home
rm -rf "$OUT"
mkdir -p "$OUT/home" "$OUT/A.mnt" "$OUT/B.mnt"
PA=
PB=
PORT_A=$((20000 + RANDOM % 20000))
PORT_B=$((PORT_A + 1))

die() {
	echo "record.sh: $*" >&2
	for f in "$OUT"/*.log; do
		[ -s "$f" ] && { echo "--- $f:" >&2; tail -n 10 "$f" >&2; }
	done
	exit 1
}

stop() { # stop MNT PID
	[ -n "$2" ] || return 0
	fusermount3 -u "$1" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$2" 2>/dev/null && { kill -9 "$2"; fusermount3 -uz "$1" 2>/dev/null; }
	wait "$2" 2>/dev/null
}

cleanup() {
	stop "$OUT/B.mnt" "$PB"
	stop "$OUT/A.mnt" "$PA"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mounted() { # mounted MNT PID
	for _ in $(seq 200); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

"$BLAZEFS" init "$OUT/A" --name alpha >/dev/null || die "init A"
# Pairing needs A mounted and listening; it happens before the snapshot.
"$BLAZEFS" mount "$OUT/A" "$OUT/A.mnt" -f --listen "127.0.0.1:$PORT_A" --no-mdns \
	</dev/null >>"$OUT/A.log" 2>&1 &
PA=$!
mounted "$OUT/A.mnt" "$PA" || die "mount of A"
code=$("$BLAZEFS" invite "$OUT/A" 2>/dev/null) || die "invite"
"$BLAZEFS" join "$OUT/B" "${code%@*}" --name beta --peer "127.0.0.1:$PORT_A" >/dev/null ||
	die "join"
stop "$OUT/A.mnt" "$PA"
PA=

rm -f "$OUT/A/data.mdb-lock"
cp -a "$OUT/A" "$OUT/snap"

# What changes files, what names them, what syncs them (crashimg.py reads these).
CALLS=openat,open,creat,close,dup,dup2,dup3,fcntl,lseek,write,pwrite64,writev,pwritev,pwritev2
CALLS=$CALLS,ftruncate,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat

# trace_a N: mounts A under strace (-s: whole pages, never a truncated
# buffer), logging to OUT/trace.N.
trace_a() {
	strace -f -ttt -xx -s 4194304 -o "$OUT/trace.$1" -e trace="$CALLS" \
		"$BLAZEFS" mount "$OUT/A" "$OUT/A.mnt" -f --listen "127.0.0.1:$PORT_A" --no-mdns \
		</dev/null >>"$OUT/A.log" 2>&1 &
	PA=$!
	mounted "$OUT/A.mnt" "$PA" || die "traced mount of A"
}

trace_a 1
"$BLAZEFS" mount "$OUT/B" "$OUT/B.mnt" -f --listen "127.0.0.1:$PORT_B" \
	--peer "127.0.0.1:$PORT_A" --no-mdns </dev/null >>"$OUT/B.log" 2>&1 &
PB=$!
mounted "$OUT/B.mnt" "$PB" || die "mount of B"
python3 "$HERE/workload.py" "$OUT/A.mnt" "$OUT/wlog" "$SEED" "$STEPS" "$OUT/B" "$BURST" ||
	die "workload failed"
if [ "$RESTART" = 1 ]; then
	# kill -9 of A (the process strace runs, by its id), and a restart that
	# continues the workload while B reconnects: the same files, a second trace.
	child=$(ps -o pid= --ppid "$PA" | tr -d ' ')
	[ -n "$child" ] || die "no blazefs under strace"
	kill -9 "$child"
	wait "$PA" 2>/dev/null
	fusermount3 -uz "$OUT/A.mnt" 2>/dev/null
	trace_a 2
	python3 "$HERE/workload.py" "$OUT/A.mnt" "$OUT/wlog" "$((SEED + 1000))" "$((STEPS / 2))" \
		"$OUT/B" "$BURST" || die "workload after the restart failed"
fi
stop "$OUT/B.mnt" "$PB"
PB=
stop "$OUT/A.mnt" "$PA"
PA=
cat "$OUT"/trace.[0-9] >"$OUT/trace" && rm -f "$OUT"/trace.[0-9]
echo "$OUT/A" >"$OUT/dbpath"
exit 0

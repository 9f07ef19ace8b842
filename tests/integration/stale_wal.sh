#!/bin/bash
# A stale wal beside a newer database: the wal's emptying after a commit never
# reached the disk but a later sync did (what a power cut can leave).  The
# remount applies none of it: the fsync'd value stays, deletes stay deleted,
# and no change is minted (the version vector is unchanged).
. "$(dirname "$0")/common.bash"
command -v strace >/dev/null || fail "strace is missing (contrib/install-deps.sh)"
init_db

# The mount runs under strace, which records every append to DB/wal: the
# bytes the wal held before its first commit are rebuilt from the trace.
# (LeakSanitizer cannot run under ptrace: an ASan build checks leaks in the
# mounts after this one.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o "$T/trace" -P "$DB/wal" -e trace=write -xx -s 1000000 \
	"$BLAZEFS" mount "$DB" "$MNT" -f --no-listen --no-mdns 2>>"$LOG" &
PID=$!
for _ in $(seq 100); do
	mountpoint -q "$MNT" && break
	kill -0 "$PID" 2>/dev/null || fail "blazefs mount exited early"
	sleep 0.1
done
mountpoint -q "$MNT" || fail "mount did not appear"

mkdir "$MNT/c" || fail mkdir
echo '{"a": 1}' >"$MNT/c/A.json" || fail "write A=1"
echo '{"b": 1}' >"$MNT/c/B.json" || fail "write B=1"
sleep 0.3 # the batch commits (and the wal is emptied) within milliseconds
echo '{"a": 2}' >"$MNT/c/A.json" || fail "write A=2"
rm "$MNT/c/B.json" || fail "rm B"
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$MNT/c/A.json" ||
	fail "fsync"
want_vv=$(vv)
umount_fs

# The wal as it was before the first commit: every append up to the first
# write of A=2's entry (a file that was emptied starts again at 0).
python3 - "$T/trace" "$T/stale" <<'PY' || fail "no wal appends in the trace"
import re, sys
trace, out = sys.argv[1:]
appends = []
for line in open(trace):
    m = re.search(r'write\(\d+(?:<[^>]*>)?, "((?:\\x[0-9a-f]{2})*)"', line)
    if m:
        appends.append(bytes.fromhex(m.group(1).replace("\\x", "")))
stale = b""
for a in appends:
    if b'{"a": 2}' in a:
        break
    stale += a
if b'{"a": 1}' not in stale or b'{"b": 1}' not in stale:
    sys.exit("the trace lacks the first writes")
open(out, "wb").write(stale)
PY
cp "$T/stale" "$DB/wal" || fail "cannot put the stale wal back"
mount_fs --no-listen --no-mdns
expect_eq "$(jq -c . "$MNT/c/A.json")" '{"a":2}' "A after the stale wal"
[ -e "$MNT/c/B.json" ] && fail "B came back from the stale wal"
expect_eq "$(vv)" "$want_vv" "version vector (no change minted)"
echo '{"a": 3}' >"$MNT/c/A.json" || fail "write after the remount"
remount
expect_eq "$(jq -c . "$MNT/c/A.json")" '{"a":3}' "A after another remount"
echo "ok: a stale wal of $(stat -c %s "$T/stale") bytes applied nothing"

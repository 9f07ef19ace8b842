#!/bin/bash
# kill -9 of blazefs in the middle of a stream of writes: after a remount every
# write whose close() returned is there, and the LMDB environment is sound.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
mkdir "$MNT/c" || fail mkdir

# The writer logs (outside the mount) each record whose close() returned.
python3 - "$MNT/c" "$T/done" <<'PY' &
import os, sys
d, log = sys.argv[1], open(sys.argv[2], "w", buffering=1)
for i in range(1000000):
    try:
        with open(f"{d}/r{i}.json", "w") as f:
            f.write('{"i": %d, "pad": "%s"}\n' % (i, "x" * 150))
    except OSError:
        break
    log.write(f"{i}\n")
PY
writer=$!
sleep 2
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
wait "$writer"
fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
n=$(wc -l < "$T/done")
[ "$n" -gt 100 ] || fail "only $n writes before the kill"
echo "$n writes closed before kill -9"

mdb_stat -e "$DB" >/dev/null || fail "mdb_stat -e"
mdb_stat -a "$DB" >/dev/null || fail "mdb_stat -a"
mount_fs
last=$((n - 1))
for i in $(seq 0 "$last"); do
	printf '{"i": %d, "pad": "%s"}\n' "$i" "$(printf 'x%.0s' $(seq 150))"
done > "$T/expected"
for i in $(seq 0 "$last"); do cat "$MNT/c/r$i.json"; done > "$T/got" || fail "a record is missing"
cmp "$T/expected" "$T/got" || fail "records differ after the crash"
# The journal still takes writes.
echo '{"after": true}' > "$MNT/c/after.json" || fail "write after the crash"
exit 0

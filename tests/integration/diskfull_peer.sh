#!/bin/bash
# A full disk under a device with a live peer: the writes acknowledged before
# the disk filled stay readable and listed while it is full, new writes fail
# with ENOSPC, the log says ENOSPC (not EIO), and once space is freed
# everything commits and reaches the peer without a remount.
. "$(dirname "$0")/sync_lib.bash"

mkdir "$T/A"
mount -t tmpfs -o size=6m tmpfs "$T/A" || fail "cannot mount a small tmpfs"
cleanup_small() {
	cleanup_dirs=$T
	cd /
	for d in "${!PIDS[@]}"; do
		stop "$d"
	done
	umount "$cleanup_dirs/A" 2>/dev/null
	rm -rf "$cleanup_dirs"
}
trap cleanup_small EXIT

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
mkdir "$T/A.mnt/c"
wait_until 10 test -d "$T/B.mnt/c" || fail "collection A->B"
# A filler the test removes later to free space.
head -c 1500000 /dev/zero >"$T/A/filler" || fail "filler"

python3 "$(dirname "$0")/fill_disk.py" "$T/A.mnt/c" "$T/written" || fail "the writer failed"
n=$(jq length "$T/written")
[ "$n" -gt 100 ] || fail "only $n writes fit"

# While the disk is full: every acknowledged write is listed and reads back,
# and a new write gets ENOSPC.
check_all() {
	python3 - "$1" "$T/written" <<'PY'
import json, os, sys
d, written = sys.argv[1:]
want = json.load(open(written))
names = set(os.listdir(d))
for i in want:
    name = "r%05d.json" % i
    if name not in names:
        sys.exit("%s is not listed" % name)
    with open(os.path.join(d, name)) as f:
        if json.load(f) != {"i": i, "pad": "x" * 3000}:
            sys.exit("%s differs" % name)
PY
}
for round in 1 2 3; do
	check_all "$T/A.mnt/c" || fail "acknowledged writes unreadable while the disk is full (round $round)"
	python3 - "$T/A.mnt/c/more$round.json" <<'PY' || fail "a write while the disk is full did not fail with ENOSPC"
import errno, sys
try:
    with open(sys.argv[1], "w") as f:
        f.write('{"more": true, "pad": "%s"}' % ("y" * 20000))
except OSError as e:
    sys.exit(0 if e.errno == errno.ENOSPC else "failed with %s" % errno.errorcode[e.errno])
sys.exit("the write succeeded on a full disk")
PY
	sleep 0.3
done
grep -q "No space left on device" "$T/A.log" || fail "the log does not say ENOSPC"
grep -q "Input/output error" "$T/A.log" && fail "the log says EIO: $(grep 'Input/output' "$T/A.log" | head -2)"

# Free space: everything commits and reaches B, without a remount.
rm -f "$T/A/filler"
last=$(jq '.[-1]' "$T/written")
wait_until 20 test -f "$T/B.mnt/c/r$(printf %05d "$last").json" || fail "the last acknowledged write never reached B"
wait_until 10 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
check_all "$T/B.mnt/c" || fail "B lacks acknowledged writes"
check_all "$T/A.mnt/c" || fail "A lost acknowledged writes"
echo '{"after": true}' >"$T/A.mnt/c/after.json" || fail "cannot write once space is free"
wait_until 10 same "$T/A.mnt/c/after.json" "$T/B.mnt/c/after.json" || fail "after.json A->B"
kill -0 "${PIDS[A]}" || fail "A exited"
mdb_stat -n -e "$T/A/data.mdb" >/dev/null || fail "mdb_stat finds A's database damaged"
echo "ok: $n writes fit; readable, listed and then synced to B"

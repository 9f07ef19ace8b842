#!/bin/bash
# A full disk: the write that does not fit fails with ENOSPC (at write or
# close), every write whose close() returned 0 before it is still there after
# a remount, and once space is freed writing goes on.
. "$(dirname "$0")/common.bash"

SMALL=$(mktemp -d /tmp/blazefs-small.XXXXXX)
mount -t tmpfs -o size=6m tmpfs "$SMALL" || fail "cannot mount a small tmpfs"
cleanup_small() {
	cleanup
	umount "$SMALL" 2>/dev/null
	rmdir "$SMALL"
}
trap cleanup_small EXIT
DB=$SMALL/db
init_db
mount_fs -o noatime --no-listen --no-mdns
mkdir "$MNT/c" || fail "mkdir"
# A filler that the test removes later to free space.
head -c 1500000 /dev/zero >"$SMALL/filler" || fail "filler"

python3 "$(dirname "$0")/fill_disk.py" "$MNT/c" "$T/written" || fail "the writer failed"
n=$(jq length "$T/written")
[ "$n" -gt 100 ] || fail "only $n writes fit"

# Free space, remount: everything acknowledged is there, byte for byte.
rm -f "$SMALL/filler"
remount
python3 - "$MNT/c" "$T/written" <<'PY' || fail "acknowledged writes are missing after the disk filled"
import json, os, sys
d, written = sys.argv[1:]
for i in json.load(open(written)):
    with open(os.path.join(d, "r%05d.json" % i)) as f:
        if json.load(f) != {"i": i, "pad": "x" * 3000}:
            sys.exit("r%05d.json differs" % i)
PY
echo '{"after": true}' >"$MNT/c/after.json" || fail "cannot write once space is free"
expect_eq "$(jq -c . "$MNT/c/after.json")" '{"after":true}' "write after freeing space"
mdb_stat -n -e "$DB/data.mdb" >/dev/null || fail "mdb_stat finds the database damaged"
echo "ok: $n writes fit"
grep -h "journal\|ENOSPC\|space" "$LOG" | head -3

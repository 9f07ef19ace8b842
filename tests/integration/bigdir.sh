#!/bin/bash
# A collection of 100k records lists completely and in byte order (readdir
# streams from the journal, so the listing is never loaded whole).
. "$(dirname "$0")/common.bash"
N=${BIGDIR_N:-100000}
init_db
mount_fs
mkdir "$MNT/big" || fail mkdir

start=$(date +%s.%N)
python3 - "$MNT/big" "$N" <<'PY' || fail "writing $N records"
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{d}/r{i:06d}.json", "w") as f:
        f.write('{"i": %d}' % i)
PY
mid=$(date +%s.%N)
# Raw readdir order (ls -f does not sort), records only.
ls -f "$MNT/big" | grep '\.json$' > "$T/listed"
end=$(date +%s.%N)
echo "wrote $N records in $(echo "$mid - $start" | bc) s, listed in $(echo "$end - $mid" | bc) s"

seq -f 'r%06g.json' 0 $((N - 1)) > "$T/expected"
expect_eq "$(wc -l < "$T/listed")" "$N" "records listed"
cmp "$T/expected" "$T/listed" || fail "listing is not complete and in order"
expect_eq "$(jq .records "$MNT/.blazefs/status")" "$N" "status records"
# A second listing through a small buffer (find uses its own) agrees.
expect_eq "$(find "$MNT/big" -name '*.json' | wc -l)" "$N" "find count"
exit 0

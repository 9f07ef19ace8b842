# A device offline while the other writes 10k records catches up when it
# comes back; killed (-9) in the middle of that catch-up and restarted, it
# still converges with nothing lost or doubled.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta
mkdir "$T/A.mnt/bulk"
python3 - "$T/A.mnt/bulk" <<'PY'
import sys
for i in range(10000):
    with open("%s/r-%d.json" % (sys.argv[1], i), "w") as f:
        f.write('{"i": %d, "text": "record number %d"}\n' % (i, i))
PY

start B --no-listen --peer "127.0.0.1:$(port A)"
# kill it once part of the catch-up has arrived
partial() {
	local n
	n=$("$BLAZEFS" status --json "$T/B" | jq '[.version_vector[]] | add // 0')
	[ "$n" -gt 100 ]
}
wait_until 30 partial || fail "catch-up did not start"
kill -9 "${PIDS[B]}"
wait "${PIDS[B]}" 2>/dev/null
fusermount3 -uz "$T/B.mnt"
unset "PIDS[B]"
before=$("$BLAZEFS" status --json "$T/B" | jq '[.version_vector[]] | add')
echo "B had $before changes when killed"

start B --no-listen --peer "127.0.0.1:$(port A)"
t0=$(date +%s%N)
wait_until 120 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
echo "rest of the catch-up: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "$(ls "$T/B.mnt/bulk" | wc -l)" 10000 "records on B"
expect_eq "$("$BLAZEFS" status --json "$T/B" | jq .records)" "$("$BLAZEFS" status --json "$T/A" | jq .records)" "record counts"
for i in 0 1 4999 9998 9999; do
	same "$T/A.mnt/bulk/r-$i.json" "$T/B.mnt/bulk/r-$i.json" || fail "r-$i differs"
done
# every record, rendered, is identical
(cd "$T/B.mnt/bulk" && cat -- *.json | jq -c . | md5sum) >"$T/b.sum"
(cd "$T/A.mnt/bulk" && cat -- *.json | jq -c . | md5sum) >"$T/a.sum"
cmp -s "$T/a.sum" "$T/b.sum" || fail "records differ after convergence"

# Concurrent edits while apart: different fields both survive; the same field
# gets the same winner on both devices, and the loser is listed in
# .blazefs/conflicts on both.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta
start B --no-listen --peer "127.0.0.1:$(port A)"
mkdir "$T/A.mnt/c"
echo '{"v": 0, "x": 0, "y": 0}' >"$T/A.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "initial sync"

# B goes offline (mounted without peers) and both edit
stop B
start B --offline
echo '{"v": "from-a", "x": 1, "y": 0}' >"$T/A.mnt/c/r.json"
echo '{"v": "from-b", "x": 0, "y": 2}' >"$T/B.mnt/c/r.json"
stop B
start B --no-listen --peer "127.0.0.1:$(port A)"

wait_until 15 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
wait_until 5 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "records differ"
r=$T/A.mnt/c/r.json
expect_eq "$(jq -c '[.x, .y]' "$r")" "[1,2]" "different fields both survive"
v=$(jq -r .v "$r")
case $v in from-a | from-b) ;; *) fail "winner is [$v]" ;; esac
expect_eq "$(jq -r .v "$T/B.mnt/c/r.json")" "$v" "same winner on B"
for d in A B; do
	jq -e '[.. | objects | select(.field? == "v")] | length >= 1' "$T/$d.mnt/.blazefs/conflicts" >/dev/null ||
		fail "no conflict listed on $d: $(cat "$T/$d.mnt/.blazefs/conflicts")"
done
grep -q from-a "$T/B.mnt/.blazefs/conflicts" && grep -q from-b "$T/B.mnt/.blazefs/conflicts" ||
	fail "conflict on B does not show both values"

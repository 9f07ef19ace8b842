# Three devices in a line, A - B - C, with no A - C link: changes made at
# either end reach the other through B, and all three converge.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta --admin
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)"
# C joins through B (an admin once it knows it) and only ever talks to B
wait_until 15 has_role B beta admin || fail "B never learnt it is an admin"
pair B C gamma
start C --no-listen --peer "127.0.0.1:$(port B)"

mkdir "$T/A.mnt/items"
echo '{"from": "a"}' >"$T/A.mnt/items/a.json"
wait_until 15 same "$T/A.mnt/items/a.json" "$T/C.mnt/items/a.json" || fail "A -> C through B"
echo '{"from": "c"}' >"$T/C.mnt/items/c.json"
wait_until 15 same "$T/C.mnt/items/c.json" "$T/A.mnt/items/c.json" || fail "C -> A through B"
for i in $(seq 20); do
	echo "{\"a\": $i}" >"$T/A.mnt/items/a-$i.json"
	echo "{\"c\": $i}" >"$T/C.mnt/items/c-$i.json"
done
wait_until 20 same_vv A C || fail "A and C differ: $(vv A) vs $(vv C)"
wait_until 10 same_vv A B || fail "A and B differ"
for f in "$T"/A.mnt/items/*.json; do
	same "$f" "$T/C.mnt/items/$(basename "$f")" || fail "$(basename "$f") differs on C"
done
expect_eq "$(ls "$T/C.mnt/items" | wc -l)" 42 "records on C"
# nothing links A and C directly
"$BLAZEFS" status --json "$T/A" | jq -e '[.peers[] | select(.name == "gamma")] | length == 0' >/dev/null ||
	fail "A is connected to C"

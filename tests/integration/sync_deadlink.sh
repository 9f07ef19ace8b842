# A silently dead link: A - B runs through a proxy, and A - C - B directly.
# The proxy stops forwarding (no close, no reset): A notices within 3 s that
# B is gone, and what A writes keeps reaching B through C, nothing lost.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
pair A C gamma
stop A
PX=$(port P)
proxy AB "$PX" "$(port B)"
start B --listen "127.0.0.1:$(port B)" --no-mdns --peer "127.0.0.1:$(port C)"
start C --listen "127.0.0.1:$(port C)" --no-mdns --peer "127.0.0.1:$(port B)"
start A --listen "127.0.0.1:$(port A)" --no-mdns --peer "127.0.0.1:$PX" --peer "127.0.0.1:$(port C)"

in_sync_with() { # DEV NAME: DEV has a sync session with the device named NAME
	"$BLAZEFS" status --json "$T/$1" |
		jq -e --arg n "$2" 'any(.peers[]; .name == $n and .state == "syncing")' >/dev/null
}
wait_until 15 in_sync_with A beta || fail "A - B (through the proxy) never synced"
wait_until 15 in_sync_with A gamma || fail "A - C never synced"
wait_until 15 in_sync_with B gamma || fail "B - C never synced"
mkdir "$T/A.mnt/items"
echo '{"n": 0}' >"$T/A.mnt/items/r0.json"
wait_until 10 same "$T/A.mnt/items/r0.json" "$T/B.mnt/items/r0.json" || fail "A -> B"

kill -USR1 "${PROXY[AB]}"
t0=$(date +%s%N)
for i in $(seq 1 20); do
	echo "{\"n\": $i}" >"$T/A.mnt/items/r$i.json"
done
echo '{"from": "b"}' >"$T/B.mnt/items/b.json"
wait_until 10 same "$T/A.mnt/items/r20.json" "$T/B.mnt/items/r20.json" || fail "A -> B through C"
wait_until 10 same "$T/B.mnt/items/b.json" "$T/A.mnt/items/b.json" || fail "B -> A through C"
wait_until 10 same_vv A B || fail "A and B differ: $(vv A) vs $(vv B)"
t1=$(date +%s%N)
echo "converged $(((t1 - t0) / 1000000)) ms after the link went silent"
[ $(((t1 - t0) / 1000000)) -le 3500 ] || fail "took $(((t1 - t0) / 1000000)) ms (> 3 s)"
not_in_sync_with() { ! in_sync_with "$@"; }
wait_until 5 not_in_sync_with A beta ||
	fail "A still counts the silent link to B as live"
t2=$(date +%s%N)
echo "A dropped the silent link $(((t2 - t0) / 1000000)) ms after it went silent"
[ $(((t2 - t0) / 1000000)) -le 3500 ] || fail "silent link noticed after $(((t2 - t0) / 1000000)) ms (> 3 s)"
grep -q "dead: no traffic" "$T/A.log" || fail "A did not log the dead link"
for i in $(seq 0 20); do
	same "$T/A.mnt/items/r$i.json" "$T/B.mnt/items/r$i.json" || fail "r$i differs on B"
done

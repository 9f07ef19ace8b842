# Both devices dial each other at once: they converge over one connection
# (the one the lower device id dialled), every change crosses once, and a
# restart of either side reconnects and syncs again.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta
stop A
start A --listen "127.0.0.1:$(port A)" --peer "127.0.0.1:$(port B)"
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)"

syncing() { # DEV: number of peers in a sync session
	"$BLAZEFS" status --json "$T/$1" | jq '[.peers[] | select(.state == "syncing")] | length'
}
one_each() {
	[ "$(syncing A)" = 1 ] && [ "$(syncing B)" = 1 ]
}
mkdir "$T/A.mnt/d"
echo '{"x": 1}' >"$T/A.mnt/d/first.json"
wait_until 10 same "$T/A.mnt/d/first.json" "$T/B.mnt/d/first.json" || fail "first record"
wait_until 10 one_each || fail "not exactly one connection: A $(syncing A), B $(syncing B)"

for i in $(seq 300); do echo "{\"i\": $i}" >"$T/A.mnt/d/r-$i.json"; done
wait_until 30 same_vv A B || fail "no convergence"
# each change crossed once: B received at most what A made (plus the join's)
made=$("$BLAZEFS" status --json "$T/A" | jq "[.version_vector[]] | add")
got=$("$BLAZEFS" status --json "$T/B" | jq '[.peers[].changes_received] | add')
[ "$got" -le "$made" ] || fail "B received $got changes for $made made: doubled traffic"

# A restarts: the pair reconnects and syncs both ways
stop A
echo '{"while": "away"}' >"$T/B.mnt/d/away.json"
start A --listen "127.0.0.1:$(port A)" --peer "127.0.0.1:$(port B)"
wait_until 15 same "$T/B.mnt/d/away.json" "$T/A.mnt/d/away.json" || fail "after restart B -> A"
echo '{"back": 1}' >"$T/A.mnt/d/back.json"
wait_until 15 same "$T/A.mnt/d/back.json" "$T/B.mnt/d/back.json" || fail "after restart A -> B"
wait_until 10 one_each || fail "not exactly one connection after restart"

# A device that only dials (--no-listen, as a phone would) syncs both ways,
# and catches up on what was written while it was away.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
mkdir "$T/A.mnt/notes"
for i in 1 2 3; do echo "{\"i\": $i}" >"$T/A.mnt/notes/n-$i.json"; done
pair A P phone
start P --no-listen --peer "127.0.0.1:$(port A)"
a=$T/A.mnt p=$T/P.mnt

# catch-up of what A had before P existed
for i in 1 2 3; do
	wait_until 10 same "$a/notes/n-$i.json" "$p/notes/n-$i.json" || fail "catch-up n-$i"
done
# P -> A and A -> P live
echo '{"from": "phone"}' >"$p/notes/p-1.json"
wait_until 10 same "$p/notes/p-1.json" "$a/notes/p-1.json" || fail "phone -> A"
echo '{"from": "alpha"}' >"$a/notes/a-1.json"
wait_until 10 same "$a/notes/a-1.json" "$p/notes/a-1.json" || fail "A -> phone"

# P goes away; A writes; P comes back and catches up
stop P
for i in $(seq 50); do echo "{\"away\": $i}" >"$a/notes/w-$i.json"; done
start P --no-listen --peer "127.0.0.1:$(port A)"
wait_until 15 same "$a/notes/w-50.json" "$p/notes/w-50.json" || fail "catch-up after reconnect"
wait_until 10 same_vv A P || fail "version vectors differ: $(vv A) vs $(vv P)"
# P listens nowhere
"$BLAZEFS" status --json "$T/P" | jq -e '.listen == "none"' >/dev/null || fail "phone listens"

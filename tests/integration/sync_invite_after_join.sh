# Invite right after join: B joins A and invites C at once, before A's
# record of B has reached B, so B records itself too (with the name and
# priority it joined with).  The two records of B hold the same values: no
# conflict anywhere, and A, B and C converge.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta --priority 3
# B has no data of A yet: its invite writes its own device record.
code=$("$BLAZEFS" invite "$T/B" 2>/dev/null) || fail "invite on B right after its join"
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
"$BLAZEFS" join "$T/C" "${code%@*}" --name gamma --peer "127.0.0.1:$(port B)" >/dev/null ||
	fail "C cannot join through B"
start C --no-listen --peer "127.0.0.1:$(port B)" --no-mdns

mkdir "$T/A.mnt/c"
echo '{"from": "a"}' >"$T/A.mnt/c/a.json"
wait_until 15 same "$T/A.mnt/c/a.json" "$T/C.mnt/c/a.json" || fail "A -> C through B"
echo '{"from": "c"}' >"$T/C.mnt/c/c.json"
wait_until 15 same "$T/C.mnt/c/c.json" "$T/A.mnt/c/c.json" || fail "C -> A through B"
wait_until 15 same_vv A B || fail "A and B differ: $(vv A) vs $(vv B)"
wait_until 15 same_vv A C || fail "A and C differ: $(vv A) vs $(vv C)"
# B's device record was written by A (at the join) and by B (at its invite).
for d in A B C; do
	expect_eq "$(vv "$d" | jq 'length')" 3 "origins seen on $d"
done
for d in A B C; do
	expect_eq "$(jq -c . "$T/$d.mnt/.blazefs/conflicts")" "[]" "conflicts on $d"
	expect_eq "$("$BLAZEFS" status "$T/$d" | jq .conflicts)" 0 "conflicts in status of $d"
done
# B's priority is the one it joined with: it wins a concurrent edit over A.
stop C
stop B
start B --no-listen --no-mdns
echo '{"v": "from-b"}' >"$T/B.mnt/c/p.json"
echo '{"v": "from-a"}' >"$T/A.mnt/c/p.json"
stop B
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
wait_until 15 same "$T/A.mnt/c/p.json" "$T/B.mnt/c/p.json" || fail "p.json differs"
expect_eq "$(jq -r .v "$T/A.mnt/c/p.json")" from-b "B keeps the priority it joined with"
echo "ok"

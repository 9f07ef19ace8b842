# Membership has authority (DESIGN §4): the inviter sets the joiner's priority
# and role; only admins invite.  A joins B as an admin with priority 3; B can
# invite only once A's record of it has synced in (before, invite says why),
# then B invites C as a member: C cannot invite.  A, B and C converge, and
# B's priority (set by A) wins a concurrent edit over A.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta --priority 3 --admin
# B does not know yet that it is a member: its invite says so.
out=$("$BLAZEFS" invite "$T/B" 2>&1) && fail "invite on B before its membership synced"
case $out in *"not a member yet"*) ;; *) fail "invite before sync said [$out]" ;; esac
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
wait_until 15 has_role B beta admin || fail "B never learnt it is an admin"
code=$("$BLAZEFS" invite "$T/B" 2>/dev/null) || fail "invite on B (an admin)"
"$BLAZEFS" join "$T/C" "${code%@*}" --name gamma --peer "127.0.0.1:$(port B)" >/dev/null ||
	fail "C cannot join through B"
start C --no-listen --peer "127.0.0.1:$(port B)" --no-mdns
wait_until 15 has_role C gamma member || fail "C never learnt it is a member"
out=$("$BLAZEFS" invite "$T/C" 2>&1) && fail "a member (not an admin) invited"
case $out in *"not an admin"*) ;; *) fail "member invite said [$out]" ;; esac

mkdir "$T/A.mnt/c"
echo '{"from": "a"}' >"$T/A.mnt/c/a.json"
wait_until 15 same "$T/A.mnt/c/a.json" "$T/C.mnt/c/a.json" || fail "A -> C through B"
echo '{"from": "c"}' >"$T/C.mnt/c/c.json"
wait_until 15 same "$T/C.mnt/c/c.json" "$T/A.mnt/c/c.json" || fail "C -> A through B"
wait_until 15 same_vv A B || fail "A and B differ: $(vv A) vs $(vv B)"
wait_until 15 same_vv A C || fail "A and C differ: $(vv A) vs $(vv C)"
for d in A B C; do
	expect_eq "$(vv "$d" | jq 'length')" 3 "origins seen on $d"
	expect_eq "$("$BLAZEFS" devices "$T/$d" --json | jq -c '[.[] | [.name, .role, .priority]]')" \
		'[["alpha","admin",0],["beta","admin",3],["gamma","member",0]]' "members on $d"
	expect_eq "$(jq -c . "$T/$d.mnt/.blazefs/conflicts")" "[]" "conflicts on $d"
done
# B's priority is the one A gave it: it wins a concurrent edit over A.
stop C
stop B
start B --offline
echo '{"v": "from-b"}' >"$T/B.mnt/c/p.json"
echo '{"v": "from-a"}' >"$T/A.mnt/c/p.json"
stop B
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
wait_until 15 same "$T/A.mnt/c/p.json" "$T/B.mnt/c/p.json" || fail "p.json differs"
expect_eq "$(jq -r .v "$T/A.mnt/c/p.json")" from-b "B keeps the priority A gave it"
echo "ok"

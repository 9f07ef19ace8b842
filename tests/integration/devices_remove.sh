# Removing a device (blazefs devices DB remove ID): every member refuses it
# from then on, its open sessions end, and the content key is rotated, so
# what is written after the removal is sealed with a key it never gets; old
# changes stay readable, and a device that joins later reads old and new.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
pair A C gamma
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
start C --no-listen --peer "127.0.0.1:$(port A)" --peer "127.0.0.1:$(port B)" --no-mdns
mkdir "$T/A.mnt/c"
echo '{"v": "before"}' >"$T/A.mnt/c/before.json"
wait_until 15 same "$T/A.mnt/c/before.json" "$T/C.mnt/c/before.json" || fail "C never synced"
wait_until 15 same "$T/A.mnt/c/before.json" "$T/B.mnt/c/before.json" || fail "B never synced"
c=$("$BLAZEFS" status --json "$T/C" | jq -r .device)
b=$("$BLAZEFS" status --json "$T/B" | jq -r .device)

# An admin changes a priority later; every member sees it, and when it last
# saw each device.
"$BLAZEFS" devices "$T/A" priority "$b" 5 >/dev/null || fail "priority on A"
prio_on() { "$BLAZEFS" devices "$T/$1" --json | jq -e --arg d "$b" 'any(.[]; .device == $d and .priority == 5)' >/dev/null; }
wait_until 10 prio_on C || fail "C never saw B's new priority"
"$BLAZEFS" devices "$T/A" | grep -q "beta .* 5  20[0-9-]* [0-9:]* *member$" ||
	fail "A's listing: $("$BLAZEFS" devices "$T/A")"

# Only an admin removes, and B is a member.
out=$("$BLAZEFS" devices "$T/B" remove "$c" 2>&1) && fail "a member removed a device"
case $out in *"only an admin"*) ;; *) fail "member remove said [$out]" ;; esac
"$BLAZEFS" devices "$T/A" remove "$c" >/dev/null || fail "remove C on A"
expect_eq "$(stat -c %s "$T/A/content.key")" 64 "A's keyring after the removal"

# Both members drop C and refuse it from then on.
removed_on() { "$BLAZEFS" devices "$T/$1" --json | jq -e --arg d "$c" 'any(.[]; .device == $d and .removed)' >/dev/null; }
wait_until 10 removed_on B || fail "B never learnt of the removal"
wait_until 10 grep -q "gamma: removed from the database" "$T/A.log" || fail "A kept C's session"
wait_until 10 sh -c "test \"\$(stat -c %s '$T/B/content.key')\" = 64" || fail "B never got the new key"

echo '{"v": "after"}' >"$T/A.mnt/c/after.json"
wait_until 15 same "$T/A.mnt/c/after.json" "$T/B.mnt/c/after.json" || fail "B cannot read after the rotation"
echo '{"v": "from-b"}' >"$T/B.mnt/c/b.json"
wait_until 15 same "$T/B.mnt/c/b.json" "$T/A.mnt/c/b.json" || fail "A cannot read B's new changes"
sleep 2
[ -e "$T/C.mnt/c/after.json" ] && fail "the removed device got a change written after its removal"
expect_eq "$(stat -c %s "$T/C/content.key")" 32 "C's keyring (no new key)"
# C still writes locally; nobody takes it.
echo '{"v": "from-c"}' >"$T/C.mnt/c/c.json"
sleep 2
[ -e "$T/A.mnt/c/c.json" ] && fail "A took a change from the removed device"
[ -e "$T/B.mnt/c/c.json" ] && fail "B took a change from the removed device"
wait_until 10 grep -q "no longer) a member there" "$T/C.log" || fail "C was not told it is refused"

# A device that joins now gets both keys: it reads old and new.
pair A D delta
start D --no-listen --peer "127.0.0.1:$(port A)" --no-mdns
wait_until 15 same "$T/A.mnt/c/after.json" "$T/D.mnt/c/after.json" || fail "D cannot read new"
wait_until 15 same "$T/A.mnt/c/before.json" "$T/D.mnt/c/before.json" || fail "D cannot read old"
echo "ok"

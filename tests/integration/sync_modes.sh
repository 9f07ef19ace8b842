# Sync modes (blazefs mode), each with a concurrent edit on the other device:
# receive-only B applies A's changes, refuses writes through the mount with
# EROFS and one log line, and never sends what was made on it; send-only B
# sends its changes but applies none of A's (status says what it ignores);
# back to both, everything converges.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
a=$T/A.mnt b=$T/B.mnt
expect_eq "$("$BLAZEFS" mode "$T/B")" both "default mode"
"$BLAZEFS" mode "$T/B" sideways >/dev/null 2>&1 && fail "an unknown mode was taken"
syncing() { # DEV NAME
	"$BLAZEFS" status --json "$T/$1" |
		jq -e --arg n "$2" 'any(.peers[]; .name == $n and .state == "syncing")' >/dev/null
}

# B, offline, makes a record: it stays on B while B is receive-only
start B --offline
mkdir "$b/notes"
echo '{"made": "offline on b"}' >"$b/notes/b-offline.json"
stop B

# receive-only: A's changes come in, B's writes are refused, B's record stays
"$BLAZEFS" mode "$T/B" receive-only >/dev/null || fail "mode receive-only"
expect_eq "$("$BLAZEFS" mode "$T/B")" receive-only "mode shown"
start B --listen "127.0.0.1:$(port B)" --no-mdns --peer "127.0.0.1:$(port A)"
wait_until 10 syncing A beta || fail "B never synced"
expect_eq "$("$BLAZEFS" status --json "$T/B" | jq -r .mode)" receive-only "status mode"
"$BLAZEFS" status "$T/B" | grep -q "sync mode: receive-only" || fail "text status lacks the mode"
mkdir -p "$a/notes"
echo '{"v": "a1"}' >"$a/notes/shared.json" &
w=$!
echo '{"v": "b1"}' 2>"$T/err" >"$b/notes/shared.json" && fail "receive-only B took a write"
wait $w
grep -q "Read-only file system" "$T/err" || fail "not EROFS: $(cat "$T/err")"
touch "$b/notes/new.json" 2>/dev/null && fail "receive-only B created a record"
rm "$b/notes/b-offline.json" 2>/dev/null && fail "receive-only B deleted a record"
mkdir "$b/more" 2>/dev/null && fail "receive-only B made a collection"
wait_until 10 same "$a/notes/shared.json" "$b/notes/shared.json" ||
	fail "receive-only B did not get A's change"
expect_eq "$(grep -c "writes fail with EROFS" "$T/B.log")" 1 "EROFS log lines"
sleep 1
[ -e "$a/notes/b-offline.json" ] && fail "receive-only B sent a record made on it"

# send-only (switched while mounted): B's changes go out, A's are ignored
"$BLAZEFS" mode "$b" send-only >/dev/null || fail "mode send-only (by mountpoint)"
wait_until 10 same "$b/notes/b-offline.json" "$a/notes/b-offline.json" ||
	fail "send-only B's earlier record did not reach A"
echo '{"v": "a2"}' >"$a/notes/shared.json" &
w=$!
echo '{"from": "b, send-only"}' >"$b/notes/b2.json" || fail "send-only B refused a write"
wait $w
wait_until 10 same "$b/notes/b2.json" "$a/notes/b2.json" || fail "send-only B's change did not reach A"
ignored() { [ "$("$BLAZEFS" status --json "$T/B" | jq .ignored)" -ge "$1" ]; }
wait_until 10 ignored 1 || fail "send-only B's status shows nothing ignored"
"$BLAZEFS" status "$T/B" | grep -q "sync mode: send-only (others' changes are not applied here; ignoring [1-9]" ||
	fail "text status: $("$BLAZEFS" status "$T/B" | grep mode)"
sleep 1
grep -q a2 "$b/notes/shared.json" && fail "send-only B applied A's change"

# both again: everything converges, both ways
"$BLAZEFS" mode "$T/B" both >/dev/null
wait_until 10 grep -q a2 "$b/notes/shared.json" || fail "B in mode both did not get a2"
echo '{"from": "b, both"}' >"$b/notes/b3.json" || fail "B in mode both refused a write"
wait_until 10 same "$b/notes/b3.json" "$a/notes/b3.json" || fail "B -> A in mode both"
wait_until 10 same_vv A B || fail "A and B differ: $(vv A) vs $(vv B)"

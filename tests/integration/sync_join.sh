# Join codes: a wrong, malformed, expired or reused code fails with a clear
# error, a non-zero exit, and no database; a fresh code works once, and the
# priority the inviter gave (invite --priority) orders concurrent edits; the
# joiner cannot choose its own.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
peer=127.0.0.1:$(port A)

# malformed
"$BLAZEFS" join "$T/X1" not-a-code --peer "$peer" 2>"$T/err" && fail "malformed code accepted"
grep -q "not a join code" "$T/err" || fail "unclear error: $(cat "$T/err")"
[ -e "$T/X1" ] && fail "a database was made"

# wrong: the right shape, a random secret (with a pending invite on A)
code=$("$BLAZEFS" invite "$T/A") || fail "invite"
wrong=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')${code:64:64}
"$BLAZEFS" join "$T/X2" "$wrong" --peer "$peer" 2>"$T/err" && fail "wrong code accepted"
grep -q "refused the code" "$T/err" || fail "unclear error: $(cat "$T/err")"
[ -e "$T/X2" ] && fail "a database was made"

# the joiner cannot set its priority
"$BLAZEFS" join "$T/X0" "${code%@*}" --peer "$peer" --priority 9223372036854775807 2>"$T/err" &&
	fail "join took --priority"
grep -q "inviting device sets the priority" "$T/err" || fail "unclear error: $(cat "$T/err")"
[ -e "$T/X0" ] && fail "a database was made"
out=$("$BLAZEFS" invite "$T/A" --priority 9223372036854775807 2>&1) && fail "huge priority accepted"
case $out in *"integer from"*) ;; *) fail "huge priority said [$out]" ;; esac

# right, once
code=$("$BLAZEFS" invite "$T/A" --priority 5) || fail "invite"
"$BLAZEFS" join "$T/B" "${code%@*}" --peer "$peer" >/dev/null || fail "good code refused"
[ -f "$T/B/content.key" ] || fail "no content key after join"
expect_eq "$(stat -c %a "$T/B/content.key" "$T/B/device.key" "$T/B/sign.key" | sort -u)" 600 \
	"key file modes"
# reused
"$BLAZEFS" join "$T/X3" "${code%@*}" --peer "$peer" 2>"$T/err" && fail "reused code accepted"
grep -q "refused the code" "$T/err" || fail "unclear error: $(cat "$T/err")"
[ -e "$T/X3" ] && fail "a database was made"

# expired
code=$("$BLAZEFS" invite "$T/A" --ttl 0) || fail "invite"
sleep 0.1
"$BLAZEFS" join "$T/X4" "${code%@*}" --peer "$peer" 2>"$T/err" && fail "expired code accepted"
[ -e "$T/X4" ] && fail "a database was made"

# the joined device is a member with its priority, and syncs
start B --no-listen --peer "$peer"
mkdir "$T/A.mnt/x"
echo '{"ok": 1}' >"$T/A.mnt/x/r.json"
wait_until 10 same "$T/A.mnt/x/r.json" "$T/B.mnt/x/r.json" || fail "joined device does not sync"

# B was invited with --priority 5 (A has 0): B wins a concurrent edit of one field,
# even when A writes last.
stop B
start B --offline
echo '{"ok": "from-b"}' >"$T/B.mnt/x/r.json"
sleep 0.05
echo '{"ok": "from-a"}' >"$T/A.mnt/x/r.json"
stop B
start B --no-listen --peer "$peer"
wait_until 15 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
wait_until 5 same "$T/A.mnt/x/r.json" "$T/B.mnt/x/r.json" || fail "records differ"
expect_eq "$(jq -r .ok "$T/A.mnt/x/r.json")" from-b "the higher priority wins"

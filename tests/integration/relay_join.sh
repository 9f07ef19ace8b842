# Joining through the relay while the inviter is offline: A (paired with the
# relay) makes an invite with --relay, which registers the new device and
# leaves its box at the relay sealed to the code, and goes offline; B joins
# with the code alone and converges through the relay.  The code works once;
# a box the relay holds opens only with the code.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

init A alpha
"$BLAZEFS" relay init "$T/R" >/dev/null || fail "relay init"
relay_start
start A --listen "127.0.0.1:$(port A)" --no-mdns
"$BLAZEFS" relay add "$T/A" "127.0.0.1:$(port R)" >/dev/null || fail "relay add"
mkdir "$T/A.mnt/plans"
echo '{"goal": "ship it"}' >"$T/A.mnt/plans/p-1.json"
wait_until 15 relay_has A || fail "the relay did not get A's changes"
code=$("$BLAZEFS" invite "$T/A" --relay --name beta 2>"$T/invite.err") ||
	fail "invite --relay: $(cat "$T/invite.err")"
case $code in *"@127.0.0.1:$(port R)") ;; *) fail "the code does not name the relay: $code" ;; esac
# More invites at once (each a session that sends the relay a roster and a
# box with its handshake's last message): all kept.
for i in 2 3 4; do
	"$BLAZEFS" invite "$T/A" --relay --name "more-$i" >"$T/code$i" 2>"$T/invite.err" ||
		fail "invite --relay #$i: $(cat "$T/invite.err")"
done
stop A # the inviter is offline from here on

"$BLAZEFS" join "$T/B" "$code" >/dev/null 2>"$T/join.err" || fail "join through the relay: $(cat "$T/join.err")"
start B --no-listen --no-mdns
wait_until 15 same_vv A B || fail "B did not converge through the relay: $(vv A) vs $(vv B)"
expect_eq "$(jq -r .goal "$T/B.mnt/plans/p-1.json")" "ship it" "A's record on B"
has_role B beta member || fail "B does not see itself as member beta"
echo '{"goal": "from b"}' >"$T/B.mnt/plans/p-2.json"
wait_until 15 relay_has B || fail "the relay did not take B's change (is B in its roster?)"

# Another box, another device: D joins with the fourth code.
"$BLAZEFS" join "$T/D" "$(cat "$T/code4")" >/dev/null 2>"$T/join.err" || fail "join D: $(cat "$T/join.err")"
start D --no-listen --no-mdns
wait_until 15 test -f "$T/D.mnt/plans/p-2.json" || fail "D did not get B's change through the relay"
stop D

# The box was handed out once: the code does not work again.
if "$BLAZEFS" join "$T/C" "$code" >/dev/null 2>&1; then
	fail "a used code joined again"
fi
[ ! -e "$T/C" ] || fail "a refused join left a database behind"
# Nothing the relay wrote holds the names or values.
stop B
relay_stop
for s in "ship it" "from b" plans p-1 beta alpha; do
	grep -rqa -- "$s" "$T/R" && fail "the relay's files hold '$s'"
done
echo "relay_join: ok"

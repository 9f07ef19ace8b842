# Two devices never online together converge through a blind relay: A pairs
# the database with the relay (relay add), B joins (and is told of the relay
# by the invite's WELCOME), A writes and goes away, B comes up with no flags,
# gets A's records from the relay and answers, A comes back and gets the
# answer.  Nothing the relay wrote holds a record value, a record name or a
# collection name.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

relay_with_a
a=$T/A.mnt b=$T/B.mnt

mkdir "$a/hiddencoll-q7"
echo '{"secretfield": "SECRETVALUE-7f3a", "n": 1}' >"$a/hiddencoll-q7/secretrec-k9.json"
wait_until 15 relay_has A || fail "the relay did not get A's changes ($(relay_changes) of $(total A))"
relay_connected() {
	"$BLAZEFS" status --json "$T/$1" | jq -e '.relays[0].connected' >/dev/null
}
wait_until 5 relay_connected A || fail "A's status does not show the relay connected"
stop A

# B never ran with A: it dials the relay it learnt at its join, with no flags.
start B --no-listen --no-mdns
wait_until 15 same_vv A B || fail "B did not converge through the relay: $(vv A) vs $(vv B)"
expect_eq "$(jq -r .secretfield "$b/hiddencoll-q7/secretrec-k9.json")" "SECRETVALUE-7f3a" \
	"A's record on B"
echo '{"answer": "REPLYVALUE-55c1"}' >"$b/hiddencoll-q7/replyrec-m2.json"
wait_until 15 relay_has B || fail "the relay did not get B's answer"
stop B

# A comes back (B is gone): it dials the relay from its .devices record.
start A --no-listen --no-mdns
wait_until 15 same_vv A B || fail "A did not get B's answer: $(vv A) vs $(vv B)"
expect_eq "$(jq -r .answer "$a/hiddencoll-q7/replyrec-m2.json")" "REPLYVALUE-55c1" "B's answer on A"
stop A

# The relay is blind: none of its files holds a value or a name.
relay_stop
for s in SECRETVALUE-7f3a REPLYVALUE-55c1 secretfield secretrec-k9 replyrec-m2 hiddencoll-q7 \
	alpha beta; do
	if grep -rqa -- "$s" "$T/R"; then
		fail "the relay's files hold '$s': $(grep -rla -- "$s" "$T/R")"
	fi
done
ls "$T/R/db/"*/changes.log >/dev/null || fail "no store for the database"
echo "relay_two: ok ($(relay_changes) changes relayed)"

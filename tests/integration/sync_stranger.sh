# A stranger (a database initialised separately, with its own keys) that
# dials a member is refused right after the handshake: neither side learns
# or injects anything.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
# A also dials the stranger: each side, as the first to finish the handshake,
# must refuse the other.
start A --listen "127.0.0.1:$(port A)" --peer "127.0.0.1:$(port S)"
mkdir "$T/A.mnt/secret"
echo '{"pin": 1234}' >"$T/A.mnt/secret/s.json"
"$BLAZEFS" invite "$T/A" >/dev/null || fail "invite" # A records itself as a member

init S stranger
start S --listen "127.0.0.1:$(port S)" --peer "127.0.0.1:$(port A)"
mkdir "$T/S.mnt/junk"
echo '{"evil": true}' >"$T/S.mnt/junk/j.json"

# A has seen the stranger and refused it
wait_until 10 grep -q "refused: not a member" "$T/A.log" || fail "A did not refuse the stranger"
wait_until 10 grep -q "refused: not a member" "$T/S.log" || fail "the stranger did not refuse A"
sleep 1
[ -e "$T/S.mnt/secret" ] && fail "the stranger got A's collection"
[ -e "$T/A.mnt/junk" ] && fail "the stranger injected a collection"
expect_eq "$("$BLAZEFS" status --json "$T/S" | jq -c '.version_vector | keys | length')" 1 "origins the stranger knows"
expect_eq "$("$BLAZEFS" status --json "$T/A" | jq -c '[.peers[] | select(.state == "syncing")] | length')" 0 "A's sync sessions"
# and the stranger's database never saw A's plaintext
grep -rq 1234 "$T/S" && fail "A's data is in the stranger's files"
# the refusals do not wedge A: a handshake timeout would mean A stopped answering
sleep 3
grep -q "timed out" "$T/S.log" "$T/A.log" && fail "a handshake hung"
exit 0

# A relay that lies is caught: one that flips a byte of every change it hands
# out (BLAZEFS_RELAY_TAMPER=flip, a test knob) gets its changes refused by
# the member as forged and nothing of them applied; one that replays old
# changes (=replay) changes nothing; a byte flipped in the relay's store on
# disk is found when the relay reads it back (the store is cut there), and
# the writer sends the rest again.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

relay_with_a
mkdir "$T/A.mnt/notes"
for i in 1 2 3; do
	echo "{\"text\": \"note $i\"}" >"$T/A.mnt/notes/n-$i.json"
done
wait_until 15 relay_has A || fail "the relay did not get A's changes"
stop A
relay_stop

# A relay that flips bytes: B refuses every change it hands out.
BLAZEFS_RELAY_TAMPER=flip relay_start
start B --no-listen --no-mdns
wait_until 15 grep -q "refused: forged" "$T/B.log" || fail "B did not catch a flipped byte"
[ ! -e "$T/B.mnt/notes" ] || fail "B applied something a lying relay handed out"
expect_eq "$(total B)" 0 "changes B holds"
stop B
relay_stop

# A relay that replays: B takes what it lacks once, and the replays change nothing.
BLAZEFS_RELAY_TAMPER=replay relay_start
skip=$(wc -l <"$T/B.log")
start B --no-listen --no-mdns
wait_until 15 same_vv A B || fail "B did not converge through the replaying relay"
sleep 3 # several replays of everything
same_vv A B || fail "replays moved B's version vector: $(vv B) vs $(vv A)"
expect_eq "$(jq -r .text "$T/B.mnt/notes/n-2.json")" "note 2" "n-2 on B"
tail -n +"$((skip + 1))" "$T/B.log" | grep -q "change .* refused" && fail "B refused a replayed (valid) change"
stop B
relay_stop

# A byte flipped on the relay's disk: found at load, the store cut there.
before=$(relay_changes)
python3 - "$T"/R/db/*/changes.log <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) * 2 // 3] ^= 0x01
open(p, "wb").write(bytes(b))
PY
relay_start
wait_until 5 grep -q "a record that does not check" "$T/R.log" ||
	fail "the relay did not catch its altered store"
after=$(relay_changes)
[ "$after" -lt "$before" ] || fail "the altered store was not cut ($after of $before)"
# The writer comes back and sends what the relay lost.
start A --no-listen --no-mdns
wait_until 15 relay_has A || fail "A did not send the lost changes again"
echo "relay_tamper: ok (store cut from $before to $after changes, refilled)"

# A member this device learns of late is still pulled from an idle peer: D
# was offline while A added E and E wrote; A and E are gone, C (idle) holds
# it all.  C's HELLO names E's origin before D knows E is a member (A's change
# saying so comes in the same session); once it does, D pulls E's records from
# C, which writes nothing more (no announcement would tell D again).
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A C gamma
pair A D delta
start C --listen "127.0.0.1:$(port C)" --peer "127.0.0.1:$(port A)" --no-mdns
start D --no-listen --peer "127.0.0.1:$(port A)" --no-mdns
wait_until 10 same_vv A D || fail "D did not join: $(vv A) vs $(vv D)"
stop D

pair A E epsilon
start E --no-listen --peer "127.0.0.1:$(port A)" --no-mdns
mkdir "$T/E.mnt/e" || fail "mkdir on E"
for i in 1 2 3; do echo "{\"from\": \"E\", \"i\": $i}" >"$T/E.mnt/e/r$i.json"; done
wait_until 10 same "$T/E.mnt/e/r3.json" "$T/C.mnt/e/r3.json" || fail "E's records did not reach C"
wait_until 10 same_vv A C || fail "A and C differ: $(vv A) vs $(vv C)"
stop E
stop A

start D --no-listen --peer "127.0.0.1:$(port C)" --no-mdns
wait_until 10 same_vv C D || fail "D never pulled E's changes from an idle C: $(vv C) vs $(vv D)"
expect_eq "$(jq -c . "$T/D.mnt/e/r2.json")" '{"from":"E","i":2}' "E's record on D"
echo ok

# Every member learns the relay, strangers are refused, one port serves two
# databases, the quota holds:
# C joined before A paired the database with the relay and learns it from
# A's .devices record; a device of another database and a removed member are
# refused by the relay; writes past the database's quota are refused with a
# clear line on the writer, and the relay's store stays within the quota.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

relay_connected() {
	"$BLAZEFS" status --json "$T/$1" | jq -e '.relays[0].connected' >/dev/null
}

init A alpha
"$BLAZEFS" relay init "$T/R" >/dev/null || fail "relay init"
RELAY_ARGS=(--quota 60000)
relay_start
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A C gamma
start C --listen "127.0.0.1:$(port C)" --no-mdns --peer "127.0.0.1:$(port A)"
wait_until 10 same_vv A C || fail "C did not sync with A"
"$BLAZEFS" relay add "$T/A" "127.0.0.1:$(port R)" >/dev/null || fail "relay add"

# C learns the relay from A's .devices record and dials it, no flag.
wait_until 10 relay_connected C || fail "C did not learn the relay"
"$BLAZEFS" status "$T/C" | grep -q "relays: 127.0.0.1:$(port R) (connected)" ||
	fail "C's status text does not show the relay"

# A stranger: a device of another database dials the relay.
init X xray
start X --no-listen --no-mdns --peer "127.0.0.1:$(port R)"
wait_until 10 grep -q "refused: did not prove the key of any database here" "$T/R.log" ||
	fail "the relay did not refuse a stranger"
# Paired too, X is served on the same port (its own network key), beside A.
"$BLAZEFS" relay add "$T/X" "127.0.0.1:$(port R)" >/dev/null || fail "relay add X"
wait_until 15 relay_connected X || fail "the relay does not serve a second database"
relay_connected A || fail "A lost the relay when X was paired"
expect_eq "$(ls -d "$T"/R/db/*/ | wc -l)" 2 "databases the relay stores"
stop X

# A removed member: its session ends and it is refused from then on.
cid=$("$BLAZEFS" devices "$T/A" --json | jq -r '.[] | select(.name == "gamma") | .device')
"$BLAZEFS" devices "$T/A" remove "$cid" >/dev/null || fail "remove C"
wait_until 15 grep -q "refused: not a member of the database whose key it proved" "$T/R.log" ||
	fail "the relay did not refuse the removed member"
stop C

# The quota: A writes past it and is told.
mkdir "$T/A.mnt/big"
pad=$(head -c 12000 /dev/zero | tr '\0' x)
for i in 1 2 3 4 5 6; do
	echo "{\"pad\": \"$pad\", \"i\": $i}" >"$T/A.mnt/big/r-$i.json"
	sleep 0.2
done
wait_until 10 grep -q "its quota for this database is full" "$T/A.log" ||
	fail "A was not told the relay's quota is full"
grep -q "database quota full" "$T/R.log" || fail "the relay did not log its quota"
size=$(stat -c %s "$T/R/db/$("$BLAZEFS" status --json "$T/A" | jq -r .database)/changes.log") ||
	fail "no store for A's database"
[ "$size" -le 60000 ] || fail "the relay stores $size bytes, past its quota of 60000"
echo "relay_members: ok (relay store $size bytes)"

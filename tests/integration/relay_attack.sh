# A relay under attack stays bounded and keeps relaying: A and B sync only
# through the relay (neither listens) while a stranger (from 127.0.0.2) and a
# hostile member M (joined, never mounted) attack the relay with the attack
# client: half-open sockets, a connect/close flood, a PING flood, a giant ACK,
# changes forged under A's origin, made-up origins, an over-size record.
# Each phase asserts the one-edit latency A -> relay -> B stays within
# max(2 x quiet, quiet + 50 ms), the relay's peak RSS stays under
# RELAY_RSS_MAX_MB, and the relay refused what it had to.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

ATTACK=${ATTACK:-$(dirname "$BLAZEFS")/tests/attack/attacker}
[ -x "$ATTACK" ] || fail "no attack client at $ATTACK (make attack)"
LAT=$(dirname "$0")/latency.py
RSS_MAX=${RELAY_RSS_MAX_MB:-100}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4
ATT=
stop_attack() {
	[ -n "$ATT" ] && kill "$ATT" 2>/dev/null && wait "$ATT" 2>/dev/null
	ATT=
}
trap 'stop_attack; relay_stop; cleanup' EXIT

relay_with_a
pair A M mallory
mkdir "$T/A.mnt/lat"
echo '{"v": 0}' >"$T/A.mnt/lat/r.json"
wait_until 15 relay_has A || fail "the relay did not get A's changes"
stop A
# From here on the relay is the only path.
start A --no-listen --no-mdns
start B --no-listen --no-mdns
wait_until 15 test -f "$T/B.mnt/lat/r.json" || fail "A's record did not reach B through the relay"
RP=127.0.0.1:$(port R)

latency() {
	python3 "$LAT" "$T/A.mnt/lat/r.json" "$T/B.mnt/lat/r.json" 10 "$1" || fail "latency ($1)"
}
reset_peak() {
	echo 5 >"/proc/$RELAY_PID/clear_refs"
}
peak_mb() {
	awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$RELAY_PID/status"
}
quiet=$(latency quiet)
limit=$(python3 -c "print(max(2 * $quiet, $quiet + 50))")
echo "quiet: A -> relay -> B ${quiet} ms (limit ${limit} ms)"
phase() {
	local l m
	l=$(latency "$1")
	m=$(peak_mb)
	kill -0 "$RELAY_PID" 2>/dev/null || fail "$1: the relay died"
	echo "$1: latency ${l} ms, relay peak RSS ${m} MB"
	python3 -c "import sys; sys.exit(0 if $l <= $limit else 1)" || fail "$1: latency ${l} ms > ${limit} ms"
	[ "$m" -le "$RSS_MAX" ] || fail "$1: relay peak RSS ${m} MB > ${RSS_MAX} MB"
}

# A stranger: half-open sockets and a connect/close flood.
reset_peak
ATTACK_SRC=127.0.0.2 "$ATTACK" halfopen "$RP" 300 >"$T/halfopen.out" 2>&1 &
ATT=$!
sleep 1
phase halfopen
stop_attack
reset_peak
ATTACK_SRC=127.0.0.2 "$ATTACK" connflood "$RP" 20 >"$T/connflood.out" 2>&1 &
ATT=$!
sleep 1
phase connflood
stop_attack

# A member floods PINGs and never reads the PONGs; sends a giant ACK.
reset_peak
"$ATTACK" pingflood "$T/M" "$RP" 20 >"$T/pingflood.out" 2>&1 &
ATT=$!
sleep 1
phase pingflood
stop_attack
reset_peak
"$ATTACK" giantack "$T/M" "$RP" 200000 >"$T/giantack.out" 2>&1 &
ATT=$!
sleep 1
phase giantack
stop_attack

# again NAME ARGS...: the attack client over and over until stopped.
again() {
	local name=$1
	shift
	(while :; do "$ATTACK" "$name" "$T/M" "$RP" "$@" >>"$T/$name.out" 2>&1; done) &
	ATT=$!
	sleep 0.5
}
a_dev=$("$BLAZEFS" status --json "$T/A" | jq -r .device)
reset_peak
again forge "$a_dev"
phase forge
stop_attack
grep -q "accepted" "$T/forge.out" && fail "forge: the relay accepted a forged change"
grep -q "change refused: forged or malformed" "$T/R.log" || fail "forge: the relay did not log it"
reset_peak
again fakeorigins 40000
phase fakeorigins
stop_attack
grep -q "accepted" "$T/fakeorigins.out" && fail "fakeorigins: accepted"
grep -q "change refused: its origin is not a member" "$T/R.log" || fail "fakeorigins: not logged"
reset_peak
"$ATTACK" bigrecord "$T/M" "$RP" >"$T/bigrecord.out" 2>&1
phase bigrecord
# Whatever M sent, A and B still agree, and the store holds only members' changes.
wait_until 10 same_vv A B || fail "A and B diverged"
echo "relay_attack: ok"

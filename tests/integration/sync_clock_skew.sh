# Clock skew: one of three devices runs an hour ahead (libfaketime), then an
# hour behind.  Concurrent edits of one field made while apart get the same
# winner and the same conflict entries on every device, the skewed device
# does not win by its skew, nothing is dropped, the skew is reported on the
# skewed device and on its peers, and no healthy device shows a future mtime.
. "$(dirname "$0")/sync_lib.bash"

FT_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
[ -n "$FT_LIB" ] || fail "libfaketime is missing (contrib/install-deps.sh installs faketime)"

# start_skewed DEV OFFSET [mount options...]: start, with the wall clock of
# that one process moved by OFFSET (monotonic time left alone).  ASan wants
# to be first in the link order: the preload is let through.
start_skewed() {
	local d=$1 off=$2
	shift 2
	START_ENV="LD_PRELOAD=$FT_LIB FAKETIME=$off FAKETIME_DONT_FAKE_MONOTONIC=1
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" start "$d" "$@"
}

st() { "$BLAZEFS" status --json "$T/$1"; }
# setf DEV FIELD VALUE: writes one field of c/r.json on DEV, the others as shown.
setf() {
	jq -c --arg v "$3" ".$2 = \$v" "$T/$1.mnt/c/r.json" >"$T/new.json" || fail "read r.json on $1"
	cat "$T/new.json" >"$T/$1.mnt/c/r.json" || fail "write r.json on $1"
}
offset() { st "$1" | jq '.clock.offset_ms // 0'; }
offset_above() { [ "$(offset "$1")" -gt "$2" ]; }
offset_zero() { [ "$(offset "$1")" -eq 0 ]; }
devid() { st "$1" | jq -r .device; }
pa=127.0.0.1:$(port A) pb=127.0.0.1:$(port B)

init A alpha
start A --listen "$pa" --no-mdns
pair A B beta
pair A S sigma
start B --listen "$pb" --peer "$pa" --no-mdns
mkdir "$T/A.mnt/c"
echo '{"v": 0, "w": 0, "x": 0}' >"$T/A.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "A -> B"
S=$(devid S)

# S, an hour ahead, writes a record before it has met anyone: that change
# carries its skew.
start_skewed S +1h --offline
mkdir -p "$T/S.mnt/c"
echo '{"early": true}' >"$T/S.mnt/c/early.json"
stop S
start_skewed S +1h --no-listen --peer "$pa" --peer "$pb" --no-mdns
wait_until 15 same "$T/A.mnt/c/r.json" "$T/S.mnt/c/r.json" || fail "A -> S"
wait_until 15 test -f "$T/A.mnt/c/early.json" || fail "S -> A"

# Reported: on the skewed device (it corrects its stamps) and on its peers.
wait_until 10 offset_above S 3500000 || fail "S does not correct its clock: $(st S | jq -c .clock)"
grep -q "this device's clock is 3[56][0-9][0-9] s ahead of every peer" "$T/S.log" || fail "S does not log its skew"
jq -e 'any(.[]; .error | test("this device.s clock is .* ahead"))' "$T/S.mnt/.blazefs/errors" >/dev/null ||
	fail "S's errors: $(cat "$T/S.mnt/.blazefs/errors")"
wait_until 5 grep -q "(${S}): its clock is 3[56][0-9][0-9] s ahead of ours" "$T/A.log" || fail "A does not log S's skew"
wait_until 5 grep -q "changes of device ${S} carry a clock" "$T/A.log" || fail "A does not log S's early change"
jq -e --arg s "$S" 'any(.[]; .device == $s)' "$T/A.mnt/.blazefs/errors" >/dev/null ||
	fail "A's errors do not list S: $(cat "$T/A.mnt/.blazefs/errors")"
st A | jq -e --arg s "$S" 'any(.peers[]; .device == $s and .clock_skew_ms > 3500000)' >/dev/null ||
	fail "A's status does not show S's skew"
jq -e '.clock.offset_ms > 3500000' "$T/S.mnt/.blazefs/status" >/dev/null ||
	fail "S's .blazefs/status: $(cat "$T/S.mnt/.blazefs/status")"
jq -e --arg s "$S" 'any(.clock.skewed_peers[]; .device == $s)' "$T/B.mnt/.blazefs/status" >/dev/null ||
	fail "B's .blazefs/status does not show S: $(cat "$T/B.mnt/.blazefs/status")"
expect_eq "$(offset A)" 0 "A's offset"
expect_eq "$(offset B)" 0 "B's offset"
# A healthy device shows no future mtime, and its clock was not dragged.
now=$(date +%s)
[ "$(stat -c %Y "$T/A.mnt/c/early.json")" -le $((now + 1)) ] || fail "future mtime on A"

# conflict 1: B apart; S edits first, B a moment later (B's edit is the
# later one: S would win it only by its skew)
stop B
start B --offline
setf S v from-s
wait_until 10 grep -q from-s "$T/A.mnt/c/r.json" || fail "S -> A"
sleep 0.3
setf B v from-b
stop B
start B --listen "$pb" --peer "$pa" --no-mdns

# conflict 2: S apart (its correction is kept across the restart); S edits
# first, A later.
stop S
start_skewed S +1h --offline
setf S w from-s
sleep 0.3
setf A w from-a
stop S
start_skewed S +1h --no-listen --peer "$pa" --peer "$pb" --no-mdns

converged() {
	same_vv A B && same_vv A S && same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" &&
		same "$T/A.mnt/c/r.json" "$T/S.mnt/c/r.json"
}
wait_until 20 converged || fail "no convergence: $(vv A) $(vv B) $(vv S)"
# the same winner and the same conflict entries everywhere
for d in B S; do
	expect_eq "$(jq -cS . "$T/$d.mnt/.blazefs/conflicts")" "$(jq -cS . "$T/A.mnt/.blazefs/conflicts")" \
		"conflicts on $d and A"
done
expect_eq "$(jq -r .v "$T/A.mnt/c/r.json")" from-b "v: the later edit wins, not the skewed one"
expect_eq "$(jq -r .w "$T/A.mnt/c/r.json")" from-a "w: the later edit wins, not the skewed one"
# nothing dropped: the losers are listed
for f in v w; do
	jq -e --arg f $f 'any(.[]; .field == $f and any(.entries[]; .value == "from-s"))' \
		"$T/A.mnt/.blazefs/conflicts" >/dev/null || fail "S's value of $f not listed"
done
now=$(date +%s)
for d in A B; do
	[ "$(stat -c %Y "$T/$d.mnt/c/r.json")" -le $((now + 1)) ] || fail "future mtime on $d"
done

# An hour behind: nobody corrects, S's edits simply lose; nothing dropped.
stop S
start_skewed S -1h --offline
wait_until 5 grep -q "saved clock was [0-9]* s ahead .* not carried forward" "$T/S.log" || fail "S does not log its dropped clock"
setf S x slow-s
sleep 0.3
setf A x from-a
stop S
start_skewed S -1h --no-listen --peer "$pa" --peer "$pb" --no-mdns
wait_until 20 converged || fail "no convergence (-1h): $(vv A) $(vv B) $(vv S)"
for d in B S; do
	expect_eq "$(jq -cS . "$T/$d.mnt/.blazefs/conflicts")" "$(jq -cS . "$T/A.mnt/.blazefs/conflicts")" \
		"conflicts on $d and A (-1h)"
done
expect_eq "$(jq -r .x "$T/A.mnt/c/r.json")" from-a "x: the slow device's edit loses"
jq -e 'any(.[]; .field == "x" and any(.entries[]; .value == "slow-s"))' \
	"$T/A.mnt/.blazefs/conflicts" >/dev/null || fail "S's slow value not listed"
wait_until 5 offset_zero S || fail "S still corrects: $(st S | jq -c .clock)"
for d in A B; do
	expect_eq "$(offset "$d")" 0 "$d's offset (-1h)"
done
wait_until 5 grep -q "(${S}): its clock is 3[56][0-9][0-9] s behind ours" "$T/B.log" || fail "B does not log S's slow clock"
echo ok

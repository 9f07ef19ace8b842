# Three hosts on one bridge.  A and B (one database) and C (another database,
# same link, also announcing): A and B converge; C is never synced with and
# matches nothing (its table of discovered members stays empty).  A replayed
# announcement of A's tag pointing at a closed port, and another pointing at
# C (a hostile responder), cost failed dials and nothing more.
. "$(dirname "$0")/netns.bash"

hosts 3
init A alpha
init C gamma
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
start B h2 --listen "$(addr h2):$PORT"
start C h3 --listen "$(addr h3):$PORT"

# The attacker on h3 replays the TXT it sees in A's announcement.
txt() {
	in_host h3 avahi-browse -rpt _blazefs._tcp 2>/dev/null |
		awk -F';' -v a="$(addr h1)" '$1 == "=" && $8 == a { print $10; exit }'
}
wait_until 10 test -n "$(txt)" || true
tag=""
for _ in $(seq 100); do
	tag=$(txt | grep -o 't=[0-9a-f]*')
	[ -n "$tag" ] && break
	sleep 0.1
done
[ -n "$tag" ] || fail "A's announcement not seen from h3"
in_host h3 avahi-publish -s spoof-closed _blazefs._tcp 9 v=1 "$tag" >/dev/null 2>&1 &
SPOOF1=$!
in_host h3 avahi-publish -s spoof-hostile _blazefs._tcp "$PORT" v=1 "$tag" >/dev/null 2>&1 &
SPOOF2=$!
trap 'kill $SPOOF1 $SPOOF2 2>/dev/null; cleanup' EXIT

mkdir "$T/A.mnt/n" "$T/C.mnt/n"
echo '{"a": 1}' >"$T/A.mnt/n/a.json"
echo '{"c": 1}' >"$T/C.mnt/n/c.json"
wait_until 20 same "$T/A.mnt/n/a.json" "$T/B.mnt/n/a.json" || fail "A and B do not converge"
echo '{"b": 1}' >"$T/B.mnt/n/b.json"
wait_until 10 same "$T/A.mnt/n/b.json" "$T/B.mnt/n/b.json" || fail "B's record did not reach A"
# A dials the spoofed entries (they carry a valid tag) and gets nowhere.
spoofed() {
	jq -e --arg c "$(addr h3)" '[.discovered[] | select(.address == $c)] | length == 2' \
		"$T/A/peers.json" >/dev/null
}
wait_until 10 spoofed || fail "A did not see the spoofed announcements: $(jq -c .discovered "$T/A/peers.json")"
sleep 3

[ -e "$T/C.mnt/n/a.json" ] && fail "C received A's record"
[ -e "$T/A.mnt/n/c.json" ] && fail "A received C's record"
[ -e "$T/B.mnt/n/c.json" ] && fail "B received C's record"
expect_eq "$(jq -c .discovered "$T/C/peers.json")" "[]" "what C discovered"
expect_eq "$(jq '[.peers[] | select(.state == "syncing")] | length' "$T/C/peers.json")" 0 "C's sync sessions"
for d in A B; do
	expect_eq "$(jq '[.peers[] | select(.state == "syncing")] | length' "$T/$d/peers.json")" 1 "$d's sync sessions"
done
# Backoff: a handful of dials to the closed port in these seconds, not a storm.
n=$(grep -c "$(addr h3):9: Connection refused" "$T/A.log")
[ "$n" -ge 1 ] || fail "no dial to the spoofed closed port was logged: $(cat "$T/A.log")"
[ "$n" -le 8 ] || fail "$n dials to the spoofed closed port"
kill -0 "${PIDS[A]}" || fail "A died"

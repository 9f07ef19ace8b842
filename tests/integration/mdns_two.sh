# Two hosts on one link, two devices of one database, no --peer anywhere:
# join finds the inviter by mDNS, the mounts find each other by mDNS, a record
# written on either side appears on the other, and status says "mdns".
. "$(dirname "$0")/netns.bash"

hosts 2
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
start B h2 --listen "$(addr h2):$PORT"

mkdir "$T/A.mnt/notes"
echo '{"from": "a"}' >"$T/A.mnt/notes/one.json"
wait_until 20 same "$T/A.mnt/notes/one.json" "$T/B.mnt/notes/one.json" ||
	fail "A's record did not reach B by mDNS discovery"
echo '{"from": "b"}' >"$T/B.mnt/notes/two.json"
wait_until 10 same "$T/A.mnt/notes/two.json" "$T/B.mnt/notes/two.json" ||
	fail "B's record did not reach A"

# How each found the other: both list the other's address as discovered by
# mDNS, and the session runs on an address mDNS found (B's join remembered
# where it found A by mDNS, so B's dial may say "remembered").
sources() {
	jq -r '[.peers[] | select(.state == "syncing") | .source] | sort | unique | join(",")' \
		"$T/A/peers.json" "$T/B/peers.json" | sort -u | tr '\n' ' '
}
via_mdns() {
	case $(sources) in *mdns* | *remembered*) return 0 ;; esac
	return 1
}
# peers.json is rewritten within a tick of a change: give it that long.
wait_until 5 via_mdns || fail "no connection made through mDNS: sources [$(sources)]"
wait_until 5 jq -e --arg a "$(addr h2)" '.discovered | map(.address) | index($a)' "$T/A/peers.json" >/dev/null ||
	fail "A does not list B as discovered: $(jq -c .discovered "$T/A/peers.json")"
wait_until 5 jq -e --arg a "$(addr h1)" '.discovered | map(.address) | index($a)' "$T/B/peers.json" >/dev/null ||
	fail "B does not list A as discovered: $(jq -c .discovered "$T/B/peers.json")"
"$BLAZEFS" status --json "$T/A" | jq -e '.peers | map(.source) | length > 0' >/dev/null ||
	fail "status shows no peer source"
grep -q "mDNS: no avahi\|cannot reach avahi" "$T/A.log" "$T/B.log" && fail "mDNS warning with a daemon up"

# Unmount withdraws: h1 sees A's announcement only once B is gone.
announced() {
	in_host "$1" avahi-browse -pt _blazefs._tcp 2>/dev/null | grep -c '^+;eth0;IPv4;'
}
only_one() {
	[ "$(announced "$1")" = 1 ]
}
wait_until 5 test "$(announced h1)" = 2 || fail "h1 does not see both announcements"
stop B
wait_until 10 only_one h1 || fail "after unmount of B, h1 still sees $(announced h1) services"

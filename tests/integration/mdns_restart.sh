# The avahi daemon killed and restarted under a running mount: the mount says
# so once, then re-announces and browses again; a device that appears after the
# restart is found and synced with, in both directions.
. "$(dirname "$0")/netns.bash"

hosts 2
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
start B h2 --listen "$(addr h2):$PORT"
mkdir "$T/A.mnt/n"
echo '{"v": 1}' >"$T/A.mnt/n/before.json"
wait_until 20 same "$T/A.mnt/n/before.json" "$T/B.mnt/n/before.json" || fail "no first sync"
stop B

avahi_stop h1
wait_until 10 grep -q "mDNS: no avahi daemon\|mDNS: avahi failed" "$T/A.log" ||
	fail "A did not notice the daemon going"
avahi_start h1

announced() {
	in_host "$1" avahi-browse -pt _blazefs._tcp 2>/dev/null | grep -c '^+;eth0;IPv4;'
}
a_back() {
	[ "$(announced h2)" -ge 1 ]
}
wait_until 15 a_back || fail "A is not announced again after the daemon restart"

start B h2 --listen "$(addr h2):$PORT"
a_found_b() {
	jq -e --arg a "$(addr h2)" '.discovered | map(.address) | index($a)' "$T/A/peers.json" >/dev/null
}
wait_until 15 a_found_b || fail "A does not browse again: $(jq -c .discovered "$T/A/peers.json")"
echo '{"v": 2}' >"$T/A.mnt/n/after.json"
wait_until 15 same "$T/A.mnt/n/after.json" "$T/B.mnt/n/after.json" || fail "no sync after the restart"
echo '{"v": 3}' >"$T/B.mnt/n/back.json"
wait_until 10 same "$T/A.mnt/n/back.json" "$T/B.mnt/n/back.json" || fail "no sync back"
n=$(grep -c "mDNS: no avahi daemon\|mDNS: avahi failed\|cannot reach avahi" "$T/A.log")
expect_eq "$n" 1 "warnings about the daemon going (one per outage)"

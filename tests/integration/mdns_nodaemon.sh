# A host with no avahi daemon (and no system bus): the mount says so in one
# line and keeps working with static peers; --no-mdns says nothing at all.
. "$(dirname "$0")/netns.bash"

hosts 2
avahi_stop h1
avahi_stop h2
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta --peer "$(addr h1):$PORT"
start B h2 --no-listen --no-mdns --peer "$(addr h1):$PORT"
mkdir "$T/A.mnt/n"
echo '{"a": 1}' >"$T/A.mnt/n/a.json"
wait_until 15 same "$T/A.mnt/n/a.json" "$T/B.mnt/n/a.json" || fail "static peer does not sync without avahi"
sleep 3 # retries in the background stay quiet
expect_eq "$(grep -c 'mDNS:' "$T/A.log")" 1 "mDNS lines in A's log"
grep 'mDNS:' "$T/A.log" | grep -q 'static --peer still works' || fail "unclear warning: $(grep mDNS "$T/A.log")"
expect_eq "$(grep -c 'mDNS:' "$T/B.log")" 0 "mDNS lines with --no-mdns"

# No bus at all either (a fresh namespace with nothing): still one line.
kill "${DBUS[h1]}"
unset "DBUS[h1]"
stop A
: >"$T/A.log"
start A h1 --listen "$(addr h1):$PORT"
echo '{"a": 2}' >"$T/A.mnt/n/a.json"
wait_until 15 same "$T/A.mnt/n/a.json" "$T/B.mnt/n/a.json" || fail "no sync without a bus"
sleep 3
expect_eq "$(grep -c 'mDNS:' "$T/A.log")" 1 "mDNS lines without a bus"

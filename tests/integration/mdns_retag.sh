# The hourly retag, with the "hour" shortened to 6 s (BLAZEFS_TEST_HOUR_SECONDS,
# a test knob): a browser on another host sees A's service under a new name
# with new t= and j= every hour, and no field of one hour (but the protocol
# version every blazefs shows) in the next; the old name is withdrawn.  A
# pending invite shows in j= only; join finds it by mDNS across retags, and
# the pair keeps syncing.
. "$(dirname "$0")/netns.bash"

export BLAZEFS_TEST_HOUR_SECONDS=6
hosts 2
init A alpha
start A h1 --listen "$(addr h1):$PORT"

# ann: A's announcement as seen from h2: "NAME TXT...", one line per service.
ann() {
	in_host h2 timeout 5 avahi-browse -rpt _blazefs._tcp 2>/dev/null |
		awk -F';' -v a="$(addr h1)" '$1 == "=" && $3 == "IPv4" && $8 == a { print $4, $10 }' |
		sort -u
}
# fields LINE: the name and the TXT strings, one per line, quotes removed.
fields() {
	echo "$1" | tr ' ' '\n' | tr -d '"' | grep -v '^$'
}
# within SECONDS COMMAND...: like wait_until, by the clock (ann takes a while).
within() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
# (Each browse is taken once: under load a second one may time out empty.)
first=
seen() {
	first=$(ann)
	[ -n "$first" ]
}
within 15 seen || fail "A's announcement not seen from h2"
expect_eq "$(echo "$first" | wc -l)" 1 "services of A"
echo "$first" | grep -q '"v=1"' || fail "no v=1: $first"
echo "$first" | grep -q '"t=[0-9a-f]\{32\}"' || fail "no t=: $first"
echo "$first" | grep -q '"j=[0-9a-f]\{32\}"' || fail "no j=: $first"

# The next hour: a new name and new tags, and the old name gone.
second=
changed() {
	second=$(ann)
	[ -n "$second" ] && [ "$(echo "$second" | wc -l)" = 1 ] &&
		[ "${second%% *}" != "${first%% *}" ]
}
within 20 changed || fail "A's name did not change with the hour: $second"
shared=$(comm -12 <(fields "$first" | sort) <(fields "$second" | sort) | grep -v '^v=1$')
[ -z "$shared" ] || fail "fields shared by two hours: $shared"

# An invite: j= becomes the invite's tag, and join (which matches j= only)
# finds A by it over mDNS.
code=$("$BLAZEFS" invite "$T/A" 2>/dev/null) || fail "invite"
in_host h2 timeout 60 "$BLAZEFS" join "$T/B" "${code%@*}" --name beta >/dev/null 2>"$T/join.err" ||
	fail "join by mDNS: $(cat "$T/join.err")"
start B h2 --listen "$(addr h2):$PORT"
mkdir "$T/A.mnt/n"
echo '{"k": 1}' >"$T/A.mnt/n/r.json"
wait_until 20 same "$T/A.mnt/n/r.json" "$T/B.mnt/n/r.json" || fail "A and B do not sync"
# Across two more retags, they still do.
sleep 12
echo '{"k": 2}' >"$T/B.mnt/n/r.json"
wait_until 20 same "$T/A.mnt/n/r.json" "$T/B.mnt/n/r.json" || fail "no sync after retags"
exit 0

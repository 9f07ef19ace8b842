# blazefs status reads like `wg show`: every member with its role and
# priority, connected (where, how, the suite, what each side lacks) or
# offline with when it was last seen and how much it lacks; --json for scripts; no stale "mounted"
# after a kill -9.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --no-listen --no-mdns
mkdir "$T/A.mnt/c"
echo '{"v": 1}' >"$T/A.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "no sync"
# The status is a snapshot the network rebuilds each second: wait for the
# one that has seen B's acknowledgement, not just any with "we lack 0".
wait_until 10 eval '"$BLAZEFS" status "$T/A" | grep -q "it lacks 0 changes; we lack 0"' ||
	fail "no in-sync line: $("$BLAZEFS" status "$T/A")"
out=$("$BLAZEFS" status "$T/A")
for want in "mounted: yes" "this device: alpha" "device: beta" "role: member, priority 0" \
	"connected: 127.0.0.1:" "suite " "it lacks 0 changes; we lack 0"; do
	case $out in *"$want"*) ;; *) fail "status text lacks [$want]: $out" ;; esac
done
"$BLAZEFS" status --json "$T/A" | jq -e '.mounted and (.devices | length == 2)' >/dev/null ||
	fail "status --json"
# B goes away: still listed, offline, with when it was last seen.
stop B
wait_until 10 eval '"$BLAZEFS" status "$T/A" | grep -q "offline: last seen [0-9]* s ago"' ||
	fail "offline device: $("$BLAZEFS" status "$T/A")"
# What it will lack when it comes back: nothing then, three edits made since.
"$BLAZEFS" status "$T/A" | grep -q "offline: .*; lacks 0 changes" ||
	fail "offline device's lag: $("$BLAZEFS" status "$T/A")"
for i in 1 2 3; do echo "{\"v\": $((i + 1))}" >"$T/A.mnt/c/r.json"; done
"$BLAZEFS" status "$T/A" | grep -q "offline: .*; lacks 3 changes" ||
	fail "offline device's lag after 3 edits: $("$BLAZEFS" status "$T/A")"
"$BLAZEFS" status --json "$T/A" |
	jq -e '.devices[] | select(.name == "beta") | .lacks_since_seen == 3' >/dev/null ||
	fail "json lacks_since_seen: $("$BLAZEFS" status --json "$T/A" | jq -c .devices)"
# A killed with -9: not "mounted" any more.
# (Checked before the test reaps it too: a zombie is no mount.)
kill -9 "${PIDS[A]}"
sleep 0.2
"$BLAZEFS" status "$T/A" | grep -q "mounted: no" || fail "mounted after kill -9: $("$BLAZEFS" status "$T/A")"
wait "${PIDS[A]}" 2>/dev/null
unset "PIDS[A]"
fusermount3 -uz "$T/A.mnt"
"$BLAZEFS" status --json "$T/A" | jq -e '.mounted == false' >/dev/null || fail "json mounted after kill -9"
echo "ok"

# Known addresses are remembered: after a join, a plain mount (no --peer, no
# mDNS) dials the inviter where the join reached it; an address a session
# ran on is dialled again by the next mount; status says what it dials.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
# No --peer, no mDNS: the join's address is enough.
start B --listen "127.0.0.1:$(port B)" --no-mdns
mkdir "$T/A.mnt/c"
echo '{"v": 1}' >"$T/A.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "B did not dial the inviter's address"
"$BLAZEFS" status --json "$T/B" | jq -e --arg p "$(port A)" \
	'any(.dialling[]; .port == $p and .source == "remembered" and .connected)' >/dev/null ||
	fail "B's status does not show the remembered address: $("$BLAZEFS" status --json "$T/B" | jq -c .dialling)"
# A dials B once by --peer: a later mount of A dials B with no flag.  (B
# redials A too: whichever of the two connections goes as the duplicate,
# A reached B at its --peer address.)
stop A
start A --listen "127.0.0.1:$(port A)" --no-mdns --peer "127.0.0.1:$(port B)"
a_reached_b() {
	"$BLAZEFS" status --json "$T/A" | jq -e --arg p "$(port B)" \
		'any(.dialling[]; .port == $p and .source == "static" and .device != "")' >/dev/null
}
wait_until 10 a_reached_b || fail "A did not reach B at its --peer address"
stop A
start A --listen "127.0.0.1:$(port A)" --no-mdns
"$BLAZEFS" status --json "$T/A" | jq -e --arg p "$(port B)" 'any(.dialling[]; .port == $p and .source == "remembered")' >/dev/null ||
	fail "A does not dial B's remembered address: $("$BLAZEFS" status --json "$T/A" | jq -c .dialling)"
# Both remount with no flags (B not listening: it dials A) and sync.
stop B
start B --no-listen --no-mdns
echo '{"v": 2}' >"$T/B.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "no sync after a flagless remount"
echo "ok"

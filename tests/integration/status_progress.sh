# A catch-up in progress, as the catching-up device's status shows it: over a
# link capped at 96 KB/s (tests/tools/netproxy), B pulls 2000 records from A;
# each snapshot of status --json shows more received and less lacking, the
# text shows "catching up: X of Y changes (… MB)", and status --watch through
# a pipe prints one screen a second with the rate and time left.
. "$(dirname "$0")/sync_lib.bash"
NETPROXY=$(dirname "$BLAZEFS")/tools/netproxy
[ -x "$NETPROXY" ] || fail "no $NETPROXY (make builds it)"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
for i in $(seq 2000); do
	printf '{"collection": "c", "id": "r%d", "record": {"n": %d, "text": "%0200d"}}\n' "$i" "$i" "$i"
done | "$BLAZEFS" import "$T/A" >/dev/null || fail "import"
proxy=$(port P)
"$NETPROXY" "$proxy" "127.0.0.1:$(port A)" --rate 96000 >"$T/proxy.out" 2>&1 &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; cleanup' EXIT
wait_until 5 grep -q ready "$T/proxy.out" || fail "netproxy did not start"
start B --no-listen --no-mdns --peer "127.0.0.1:$proxy"

# Sample B's view of A while it catches up: received rises, lacking falls.
timeout 20 "$BLAZEFS" status --watch "$T/B" >"$T/watch.out" 2>&1 &
WATCH=$!
prev_got=-1 prev_lack=-1 moves=0
for _ in $(seq 200); do
	s=$("$BLAZEFS" status --json "$T/B" |
		jq -r '[.peers[] | select(.state == "syncing")][0] // empty |
		       "\(.changes_received) \(.lacking) \(.bytes_received)"')
	if [ -n "$s" ]; then
		read -r got lack bytes <<<"$s"
		[ "$lack" = 0 ] && break
		if [ "$prev_got" -ge 0 ] && [ "$got" -gt "$prev_got" ] && [ "$lack" -lt "$prev_lack" ]; then
			moves=$((moves + 1))
			[ "$bytes" -gt 0 ] || fail "changes received but no bytes: $s"
		fi
		[ "$prev_got" -ge 0 ] && [ "$got" -lt "$prev_got" ] && fail "received went back: $prev_got -> $got"
		prev_got=$got prev_lack=$lack
		text=$("$BLAZEFS" status "$T/B")
		case $text in
		*"catching up: "*" of "*" changes ("*" MB), "*"/s, "*" s left"*) caught=1 ;;
		esac
	fi
	sleep 0.2
done
[ "$moves" -ge 2 ] || fail "progress moved $moves times in the catch-up"
[ "${caught:-}" = 1 ] || fail "no catching-up line in the text status"
wait_until 30 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
grep -Eq 'catching up: [0-9]+ of [0-9]+ changes .*\[[#.]{32}\], [0-9]+/s, [0-9]+ s left' "$T/watch.out" ||
	fail "status --watch shows no bar, rate and time left: $(grep 'catching' "$T/watch.out" | head -3)"
[ "$(grep -c '^database ' "$T/watch.out")" -ge 3 ] || fail "--watch did not redraw"
echo ok

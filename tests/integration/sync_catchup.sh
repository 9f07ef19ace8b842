# Parallel catch-up: A, B and C each wrote records while D and E were away.
# E catches up through one bandwidth-capped proxy (to A), D through three
# (to A, B and C, the same cap each): D pulls a disjoint part (by origin)
# from each, so it receives no change twice and its rate is at least twice
# E's.
. "$(dirname "$0")/sync_lib.bash"
N=${CATCHUP_RECORDS:-150}
RATE=${CATCHUP_RATE:-150000} # bytes/s per proxy

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
# CATCHUP_TWO=1 (bench/gossip.sh) also times F through two proxies.
TWO=${CATCHUP_TWO:-0}
EXTRA=()
[ "$TWO" = 1 ] && EXTRA=(F)
for d in B C D E "${EXTRA[@]}"; do
	pair A "$d" "dev-$d"
done
start B --listen "127.0.0.1:$(port B)" --no-mdns --peer "127.0.0.1:$(port A)"
start C --listen "127.0.0.1:$(port C)" --no-mdns --peer "127.0.0.1:$(port A)" --peer "127.0.0.1:$(port B)"
# D and E learn the members once, then go away
start D --no-listen --no-mdns --peer "127.0.0.1:$(port A)"
start E --no-listen --no-mdns --peer "127.0.0.1:$(port A)"
[ "$TWO" = 1 ] && start F --no-listen --no-mdns --peer "127.0.0.1:$(port A)"
mkdir "$T/A.mnt/c"
wait_until 15 bash -c "for d in B C D E ${EXTRA[*]}; do [ -d $T/\$d.mnt/c ] || exit 1; done" || fail "first sync"
members_on() { [ "$("$BLAZEFS" devices "$T/$1" --json | jq length)" = $((5 + TWO)) ]; }
for d in D E "${EXTRA[@]}"; do
	wait_until 10 members_on "$d" || fail "$d does not know every member"
	stop "$d"
done

pad=$(head -c 1200 /dev/zero | tr '\0' x)
pids=()
for d in A B C; do
	(for i in $(seq "$N"); do echo "{\"d\": \"$d\", \"i\": $i, \"pad\": \"$pad\"}" >"$T/$d.mnt/c/$d-$i.json"; done) &
	pids+=($!)
done
wait "${pids[@]}"
wait_until 20 same_vv A B || fail "A and B differ"
wait_until 20 same_vv A C || fail "A and C differ"

total() { "$BLAZEFS" status --json "$T/$1" | jq '[.version_vector[]] | add // 0'; }
received() { "$BLAZEFS" status --json "$T/$1" | jq '[.peers[].changes_received] | add // 0'; }
# catchup DEV PROXIED...: mounts DEV dialling the given devices through
# capped proxies; sets MS to the ms until it has what A has
catchup() {
	local d=$1 peers=() e t0
	shift
	for e in "$@"; do
		PX=$((PX + 1))
		proxy "$d$e" "$PX" "$(port "$e")" --rate "$RATE"
		peers+=(--peer "127.0.0.1:$PX")
	done
	t0=$(date +%s%N)
	start "$d" --no-listen --no-mdns "${peers[@]}"
	wait_until 60 same_vv A "$d" || fail "$d did not catch up: $(vv "$d") vs $(vv A)"
	MS=$((($(date +%s%N) - t0) / 1000000))
}
PX=$((BASE_PORT + 100)) # proxies listen from here up
e0=$(total E)
catchup E A
ms1=$MS
d0=$(total D)
catchup D A B C
ms3=$MS
if [ "$TWO" = 1 ]; then
	f0=$(total F)
	catchup F A B
	echo "catch-up through two capped peers: $MS ms ($((($(total F) - f0) * 1000 / MS))/s)"
fi
sleep 1.5 # peers.json is rewritten every second
need=$(($(total D) - d0)) got=$(received D)
echo "catch-up of $need changes: one capped peer $ms1 ms ($(((${need} * 1000) / ms1))/s), three $ms3 ms ($(((${need} * 1000) / ms3))/s): $((ms1 * 100 / ms3))%"
expect_eq "$got" "$need" "changes D received (duplicates?)"
[ $((ms1 * 10)) -ge $((ms3 * 20)) ] || fail "three peers gave $((ms1 * 100 / ms3))% of one peer's rate (< 200%)"
[ "$(received E)" = $(($(total E) - e0)) ] || fail "E received duplicates"

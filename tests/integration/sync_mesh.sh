# Gossip that scales: a full mesh of 8 devices on loopback, each writing 50
# records while connected.  Everything converges, and the changes received
# (status --json, summed over every device's peers) are at most 1.3x the
# minimum, 7x the changes made (each device needs everyone else's once).
# Flooding to every peer that lacks a change, as before, measured ~4x.
. "$(dirname "$0")/sync_lib.bash"
# MESH_DEVS (8, up to 16) and MESH_RECORDS (50) are knobs for bench/gossip.sh.
M=${MESH_DEVS:-8}
N=${MESH_RECORDS:-50}
ALL=(A B C D E F G H I J K L M N O P)
DEVS=("${ALL[@]:0:M}")

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
for d in "${DEVS[@]:1}"; do
	pair A "$d" "dev-$d"
done
stop A
for d in "${DEVS[@]}"; do
	peers=()
	for e in "${DEVS[@]}"; do
		[ "$e" = "$d" ] || peers+=(--peer "127.0.0.1:$(port "$e")")
	done
	start "$d" --listen "127.0.0.1:$(port "$d")" --no-mdns "${peers[@]}"
done
meshed() { # every device in session with all the others
	for d in "${DEVS[@]}"; do
		[ "$("$BLAZEFS" status --json "$T/$d" | jq '[.peers[] | select(.state == "syncing")] | length')" = $((M - 1)) ] || return 1
	done
}
wait_until $((10 + 3 * M)) meshed || fail "the mesh did not form"
wait_until 20 bash -c "$(declare -f vv same_vv); BLAZEFS=$BLAZEFS T=$T; for d in ${DEVS[*]}; do same_vv A \$d || exit 1; done" ||
	fail "not converged before the writes"
received() { # total changes received, over every device's peers
	local s=0 d
	for d in "${DEVS[@]}"; do
		s=$((s + $("$BLAZEFS" status --json "$T/$d" | jq '[.peers[].changes_received] | add // 0')))
	done
	echo "$s"
}
made() { # changes in the version vector (every origin)
	"$BLAZEFS" status --json "$T/A" | jq '[.version_vector[]] | add // 0'
}
sleep 1.5 # peers.json is rewritten every second
r0=$(received)
m0=$(made)
mkdir "$T/A.mnt/mesh"
wait_until 10 bash -c "for d in ${DEVS[*]}; do [ -d $T/\$d.mnt/mesh ] || exit 1; done" || fail "collection did not spread"
t0=$(date +%s%N)
pids=()
for d in "${DEVS[@]}"; do
	(for i in $(seq "$N"); do echo "{\"d\": \"$d\", \"i\": $i}" >"$T/$d.mnt/mesh/$d-$i.json"; done) &
	pids+=($!)
done
wait "${pids[@]}"
all_same() {
	local d
	for d in "${DEVS[@]:1}"; do same_vv A "$d" || return 1; done
}
wait_until $((10 + 3 * M)) all_same || fail "the mesh did not converge"
t1=$(date +%s%N)
for d in "${DEVS[@]}"; do
	expect_eq "$(ls "$T/$d.mnt/mesh" | wc -l)" $((M * N)) "records on $d"
done
sleep 1.5
r1=$(received)
m1=$(made)
got=$((r1 - r0)) min=$(((M - 1) * (m1 - m0)))
echo "mesh of $M: $((m1 - m0)) changes made, $got received, minimum $min ($((got * 100 / min))%), converged in $(((t1 - t0) / 1000000)) ms"
[ $((got * 10)) -le $((min * 13)) ] || fail "received $got changes, over 1.3x the minimum $min"

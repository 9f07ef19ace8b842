#!/bin/bash
# bench/mdns.sh: time from two devices (one database, no --peer) starting on a
# fresh link to converged, by mDNS discovery alone.  Each round: A holds
# RECORDS records B lacks; both avahi daemons restart (empty caches); then A
# and B mount at once and the clock runs until B has everything A has (same
# version vector).  Prints every round and the median, in milliseconds.
#   ROUNDS=5 RECORDS=100 BLAZEFS_BIN=./blazefs bench/mdns.sh
ROUNDS=${ROUNDS:-5}
RECORDS=${RECORDS:-100}
cd "$(dirname "$0")/.." || exit 1
. tests/integration/netns.bash

ms() {
	echo $(($(date +%s%N) / 1000000))
}

converged() {
	[ -f "$T/B.mnt/n/r$r-$RECORDS.json" ] && same_vv A B
}

hosts 2
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
mkdir "$T/A.mnt/n"
times=()
for r in $(seq "$ROUNDS"); do
	for i in $(seq "$RECORDS"); do
		echo "{\"round\": $r, \"i\": $i, \"text\": \"a record of about a hundred and fifty bytes, give or take\"}" \
			>"$T/A.mnt/n/r$r-$i.json"
	done
	stop A
	avahi_stop h1
	avahi_stop h2
	avahi_start h1
	avahi_start h2
	t0=$(ms)
	start A h1 --listen "$(addr h1):$PORT"
	start B h2 --listen "$(addr h2):$PORT"
	wait_until 60 converged || fail "round $r: no convergence in 60 s"
	t=$(($(ms) - t0))
	times+=("$t")
	echo "round $r: converged in $t ms"
	stop B
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "mdns: two devices on a fresh link, start to converged ($RECORDS records behind): median $median ms over $ROUNDS rounds"

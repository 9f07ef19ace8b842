#!/bin/bash
# bench/gossip.sh (part of make bench): the gossip figures of issue 14.
#  1. mesh redundancy: full meshes of 4, 8 and 16 devices on loopback, each
#     writing GOSSIP_BENCH_RECORDS (50) records while connected: changes
#     received over the minimum ((n - 1) x the changes made).
#  2. catch-up rate of a device that was away, through 1, 2 and 3 capped
#     proxies (GOSSIP_BENCH_RATE bytes/s each, 150000) to peers that each
#     made a third of GOSSIP_BENCH_CATCHUP (3 x 150) records of ~1.3 KB.
# It runs the integration tests sync_mesh.sh and sync_catchup.sh with their
# knobs (each cleans up after itself) and prints their figures.
set -uo pipefail
cd "$(dirname "$0")/.."
BLAZEFS=$(realpath "${BLAZEFS_BIN:-./blazefs}")
export BLAZEFS
REC=${GOSSIP_BENCH_RECORDS:-50}
echo "== gossip: mesh redundancy (changes received / minimum)"
for m in 4 8 16; do
	out=$(MESH_DEVS=$m MESH_RECORDS=$REC bash tests/integration/sync_mesh.sh 2>&1)
	echo "$out" | grep "^mesh of" || { echo "mesh of $m: FAILED"; echo "$out" | grep FAIL; }
done
echo "== gossip: catch-up through 1, 2 and 3 capped peers"
out=$(CATCHUP_TWO=1 CATCHUP_RATE=${GOSSIP_BENCH_RATE:-150000} \
	CATCHUP_RECORDS=${GOSSIP_BENCH_CATCHUP:-150} bash tests/integration/sync_catchup.sh 2>&1)
echo "$out" | grep "^catch-up" || { echo "catch-up: FAILED"; echo "$out" | grep FAIL; }

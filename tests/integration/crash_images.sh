#!/bin/bash
# The crash-state explorer, bounded: records the mixed workload of
# tests/crash/workload.py on device A (under strace, with a peer B) for each
# seed of CRASH_SEEDS, checks the checker (explore.py --self-test), then builds
# CRASH_IMAGES power-cut images from the recordings and checks D2, D3 and D4
# on each (see tests/crash/README.md).  Prints one line per failure and
# "images built N, checked N, failed N"; fails if an image failed.
#   CRASH_IMAGES=20 CRASH_SEEDS="1" CRASH_STEPS=150 CRASH_IMAGE_SEED=1
#   CRASH_KEEP=DIR: keep the recordings and the failing images there.
set -u
# tests/crash, whether this script is there or in tests/integration.
HERE=$(cd "$(dirname "$0")/../crash" && pwd)
BLAZEFS=${BLAZEFS:-$(realpath "$HERE/../../blazefs")}
export BLAZEFS
IMAGES=${CRASH_IMAGES:-20}
SEEDS=${CRASH_SEEDS:-1}
STEPS=${CRASH_STEPS:-150}
W=$(mktemp -d /tmp/blazefs-crash.XXXXXX)
KEEP=${CRASH_KEEP:-}
cleanup() {
	for m in "$W"/work/mnt "$W"/rec*/A.mnt "$W"/rec*/B.mnt; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -uz "$m"
	done
	if [ -n "$KEEP" ]; then
		mkdir -p "$KEEP" && cp -a "$W"/rec* "$KEEP"/ 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if ! command -v strace >/dev/null; then
	echo "crash_images: strace is not installed (make deps)" >&2
	exit 1
fi

recs=()
for s in $SEEDS; do
	start=$(date +%s%N)
	bash "$HERE/record.sh" "$W/rec$s" "$s" "$STEPS" || { echo "FAIL: recording seed $s"; exit 1; }
	echo "recorded the workload of seed $s in $((($(date +%s%N) - start) / 1000000)) ms"
	recs+=("$W/rec$s")
done
keep=()
[ -n "$KEEP" ] && keep=(--keep-failed "$KEEP/failed")
python3 "$HERE/explore.py" "${recs[@]}" --self-test --work "$W/work" --images "$IMAGES" \
	--seed "${CRASH_IMAGE_SEED:-1}" "${keep[@]}"
rc=$?
[ $rc -eq 2 ] && echo "FAIL: the explorer's self-test: its checks cannot be trusted"
exit $rc

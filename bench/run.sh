#!/bin/bash
# make bench: times the workload of issue 4 on the backing filesystem, through
# a minimal FUSE passthrough and through blazefs, in the same run, and prints
# the medians and the ratios.  BENCH_N records (10000), BENCH_RUNS runs (5).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BLAZEFS_BIN:-./blazefs}
N=${BENCH_N:-10000}
RUNS=${BENCH_RUNS:-5}
OUT=build/bench
mkdir -p "$OUT"
cc -O2 -Wall -Wextra -Werror -o "$OUT/workload" bench/workload.c
cc -O2 -Wall -Wextra -Werror -o "$OUT/passthrough" bench/passthrough.c \
	$(pkg-config --cflags --libs fuse3)

# On disk (not tmpfs): the journal's fsyncs must cost what they cost.
work=$(mktemp -d /var/tmp/blazefs-bench.XXXXXX)
pids=()
cleanup() {
	for m in "$work"/*/mnt; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

wait_mounted() {
	for _ in $(seq 1 100); do
		mountpoint -q "$1" && return 0
		sleep 0.05
	done
	echo "bench: $1 did not mount" >&2
	exit 1
}

# phases <dir> <label>: appends "label phase seconds" lines to $OUT/times
phases() {
	local dir=$1 label=$2
	echo "$label write $("$OUT/workload" "$dir" "$N" write)" >>"$OUT/times"
	"$OUT/workload" "$dir" "$N" stat >/dev/null # warm the caches
	echo "$label stat $("$OUT/workload" "$dir" "$N" stat)" >>"$OUT/times"
	echo "$label read $("$OUT/workload" "$dir" "$N" read)" >>"$OUT/times"
	echo "$label ls-l $("$OUT/workload" "$dir" "$N" ls)" >>"$OUT/times"
}

: >"$OUT/times"
for run in $(seq 1 "$RUNS"); do
	d=$work/direct$run
	mkdir -p "$d"
	phases "$d" direct

	p=$work/pt$run
	mkdir -p "$p/src" "$p/mnt"
	"$OUT/passthrough" "$p/src" "$p/mnt" &
	pids+=($!)
	wait_mounted "$p/mnt"
	phases "$p/mnt" passthrough
	fusermount3 -u "$p/mnt"

	b=$work/blazefs$run
	mkdir -p "$b/mnt"
	"$BIN" init "$b/db" --name bench >/dev/null
	"$BIN" mount "$b/db" "$b/mnt"
	wait_mounted "$b/mnt"
	mkdir "$b/mnt/bench"
	phases "$b/mnt/bench" blazefs
	fusermount3 -u "$b/mnt"
	rm -rf "$d" "$p" "$b"
done

python3 - "$OUT/times" "$N" "$RUNS" <<'PY'
import statistics, sys
times, n, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = {}
for line in open(times):
    label, phase, secs = line.split()
    t.setdefault((label, phase), []).append(float(secs))
print(f"blazefs bench: {n} records of ~200 bytes, median of {runs} runs (µs per record)")
print(f"{'phase':8} {'direct':>9} {'passthru':>9} {'blazefs':>9} {'vs passthru':>12} {'vs direct':>10}")
for phase in ("write", "stat", "read", "ls-l"):
    m = {l: statistics.median(t[(l, phase)]) * 1e6 / n for l in ("direct", "passthrough", "blazefs")}
    print(f"{phase:8} {m['direct']:9.1f} {m['passthrough']:9.1f} {m['blazefs']:9.1f} "
          f"{m['blazefs'] / m['passthrough']:11.2f}x {m['blazefs'] / m['direct']:9.1f}x")
print("targets: write <= 2.0x passthrough (with D1-D4), cached stat/read/ls-l <= 1.5x passthrough")
PY

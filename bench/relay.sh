#!/bin/bash
# bench/relay.sh (part of make bench): one edit's latency A->B through a blind
# relay (net/relay.h) against A->B directly, on loopback, in the same run.
# RELAY_BENCH_EDITS (200) edits of one record on A, B polled every 0.2 ms
# until it shows the new content; p50/p99 of each path.  Directly: A listens,
# B dials it.  Through the relay: neither listens (and no mDNS), so the only
# path is A -> relay -> B.  Everything it starts is stopped by the EXIT trap.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${BLAZEFS_BIN:-./blazefs}")
EDITS=${RELAY_BENCH_EDITS:-200}
W=$(mktemp -d /var/tmp/blazefs-relaybench.XXXXXX)
export HOME=$W/home
mkdir -p "$HOME"
cp "$BIN" "$W/blazefs"
BIN=$W/blazefs
PORT0=$((20000 + RANDOM % 30000))
PA=$PORT0 PB=$((PORT0 + 1)) PR=$((PORT0 + 2))
declare -A PIDS=()

cleanup() {
	cd /
	for d in A B; do
		mountpoint -q "$W/$d.mnt" 2>/dev/null && fusermount3 -u "$W/$d.mnt" 2>/dev/null
	done
	for n in "${!PIDS[@]}"; do
		kill "${PIDS[$n]}" 2>/dev/null || true
		wait "${PIDS[$n]}" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

die() {
	echo "relay bench: $*" >&2
	tail -n 5 "$W"/*.log >&2 || true
	exit 1
}

mnt() {
	local d=$1
	shift
	mkdir -p "$W/$d.mnt"
	"$BIN" mount "$W/$d" "$W/$d.mnt" -f "$@" </dev/null >>"$W/$d.log" 2>&1 &
	PIDS[$d]=$!
	for _ in $(seq 200); do
		mountpoint -q "$W/$d.mnt" && return 0
		sleep 0.05
	done
	die "mount of $d did not come up"
}

umnt() {
	fusermount3 -u "$W/$1.mnt"
	wait "${PIDS[$1]}" 2>/dev/null || true
	unset "PIDS[$1]"
}

# edits TAG: EDITS timed edits of edit/e.json on A until B shows each; ms, one a line.
edits() {
	python3 - "$W/A.mnt/edit/e.json" "$W/B.mnt/edit/e.json" "$EDITS" "$1" <<'PY'
import sys, time
a, b, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def has(i):
    try:
        with open(b) as f:
            return f'"{tag}-{i}"' in f.read()
    except OSError:
        return False
for i in range(n + 1):
    t0 = time.perf_counter()
    with open(a, "w") as f:
        f.write(f'{{"v": "{tag}-{i}"}}\n')
    while not has(i):
        if time.perf_counter() - t0 > 10:
            sys.exit(f"edit {i} not on B after 10 s")
        time.sleep(0.0002)
    if i:
        print(f"{(time.perf_counter() - t0) * 1000:.3f}")
    time.sleep(0.002)
PY
}

pct() {
	python3 -c '
import sys
x = sorted(float(l) for l in open(sys.argv[1]) if l.strip())
p = lambda q: x[min(len(x) - 1, int(q * len(x)))]
print(f"{p(0.5):.2f} {p(0.99):.2f}")' "$1"
}

connected() {
	"$BIN" status --json "$W/$1" | python3 -c '
import json, sys
o = json.load(sys.stdin)
sys.exit(0 if o.get("relays") and o["relays"][0].get("connected") else 1)'
}

"$BIN" init "$W/A" --name alpha >/dev/null
"$BIN" relay init "$W/R" >/dev/null
"$BIN" relay "$W/R" --listen "127.0.0.1:$PR" -f </dev/null >>"$W/R.log" 2>&1 &
PIDS[R]=$!
mnt A --listen "127.0.0.1:$PA" --no-mdns
"$BIN" relay add "$W/A" "127.0.0.1:$PR" >/dev/null || die "relay add"
code=$("$BIN" invite "$W/A" --long 2>/dev/null)
"$BIN" join "$W/B" "${code%@*}" --name beta --peer "127.0.0.1:$PA" >/dev/null || die "join"

# Directly: the relay is down meanwhile (both know it: it would be a second path).
kill "${PIDS[R]}"
wait "${PIDS[R]}" 2>/dev/null || true
mnt B --no-listen --no-mdns --peer "127.0.0.1:$PA"
mkdir "$W/A.mnt/edit"
edits direct >"$W/direct" || die "direct edits did not reach B"
umnt B
umnt A

# Through the relay only: neither listens.
"$BIN" relay "$W/R" --listen "127.0.0.1:$PR" -f </dev/null >>"$W/R.log" 2>&1 &
PIDS[R]=$!
mnt A --no-listen --no-mdns
mnt B --no-listen --no-mdns
for _ in $(seq 200); do
	connected A && connected B && break
	sleep 0.05
done
connected A && connected B || die "A and B did not both reach the relay"
edits relayed >"$W/relayed" || die "relayed edits did not reach B"

read -r d50 d99 < <(pct "$W/direct")
read -r r50 r99 < <(pct "$W/relayed")
echo "relay: one edit A->B ($EDITS edits), ms: direct p50 $d50 p99 $d99;" \
	"through the relay p50 $r50 p99 $r99" \
	"($(python3 -c "print(f'{$r50 / $d50:.1f}x p50, {$r99 / $d99:.1f}x p99')"))"

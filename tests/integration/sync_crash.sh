# kill -9 of a device in the middle of a stream of writes, with a peer: after
# the restart every write whose close() returned reaches the peer (the writes
# the crash left in the wal are sealed like any other), and both converge.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
mkdir "$T/A.mnt/c"
wait_until 10 test -d "$T/B.mnt/c" || fail "collection A->B"

python3 - "$T/A.mnt/c" "$T/done" <<'PY' &
import sys
d, log = sys.argv[1], open(sys.argv[2], "w", buffering=1)
for i in range(1000000):
    try:
        with open(f"{d}/r{i}.json", "w") as f:
            f.write('{"i": %d}\n' % i)
    except OSError:
        break
    log.write(f"{i}\n")
PY
writer=$!
# In the middle of the stream: after 100 writes (a count, not a time: under
# ASan on a loaded machine a second held 32).
wait_until 60 eval '[ "$(wc -l <"$T/done" 2>/dev/null || echo 0)" -ge 100 ]' ||
	fail "fewer than 100 writes in 60 s"
kill -9 "${PIDS[A]}"
wait "${PIDS[A]}" 2>/dev/null
unset "PIDS[A]"
wait "$writer"
fusermount3 -uz "$T/A.mnt" 2>/dev/null
n=$(wc -l <"$T/done")
[ "$n" -ge 100 ] || fail "only $n writes before the kill"

start A --listen "127.0.0.1:$(port A)" --no-mdns
last=$((n - 1))
wait_until 30 test -f "$T/B.mnt/c/r$last.json" || fail "the last acknowledged write (r$last) never reached B"
wait_until 10 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
# Every acknowledged write, read through B's mount (one process: thousands).
bad=$(python3 - "$T/B.mnt/c" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    try:
        if json.load(open(f"{d}/r{i}.json"))["i"] != i:
            print(f"r{i} differs"); break
    except (OSError, ValueError, KeyError) as e:
        print(f"r{i}: {e}"); break
PY
)
[ -z "$bad" ] || fail "on B: $bad"
grep -q "refused" "$T/B.log" && fail "B refused a change of A's: $(grep refused "$T/B.log" | head -2)"
echo "ok: $n writes survived kill -9 and reached B"

#!/bin/bash
# D4 across kill -9, restart and a power cut, with a live peer: device A,
# peer B connected; A writes, is killed with kill -9, restarts (B still
# connected) and writes more.  A's data.mdb is traced (strace: every write and
# sync) and, for every moment B was seen holding more of A's changes, the
# image a power cut at that moment leaves is built (the database as it was
# before the traced runs + every write a completed sync covered): every change
# B holds from A must be in that image, byte for byte.  Otherwise A would
# reuse those sequence numbers after the power cut and the replicas would
# differ forever.
. "$(dirname "$0")/sync_lib.bash"
command -v strace >/dev/null || fail "strace is missing (contrib/install-deps.sh)"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
mkdir "$T/A.mnt/c"
wait_until 10 test -d "$T/B.mnt/c" || fail "collection A->B"
wait_until 10 same_vv A B || fail "no convergence before the test"
stop A
cp -a "$T/A" "$T/snap" # what the disk holds: A was unmounted cleanly
adev=$("$BLAZEFS" status --json "$T/A" | jq -r .device)

# start_traced N: mounts A under strace, one trace file per thread.
start_traced() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -ff -qq -ttt -T -xx -s 100000000 -o "$T/trace$1" -P "$T/A/data.mdb" \
		-e trace=pwrite64,pwritev,writev,lseek,fdatasync,fsync,ftruncate \
		"$BLAZEFS" mount "$T/A" "$T/A.mnt" -f --listen "127.0.0.1:$(port A)" --no-mdns \
		</dev/null >>"$T/A.log" 2>&1 &
	PIDS[A]=$!
	wait_until 10 mountpoint -q "$T/A.mnt" || fail "traced mount $1 of A did not come up"
}

# How many of A's changes B holds, polled with the time each poll returned.
python3 - "$BLAZEFS" "$T/B" "$adev" "$T/polls" "$T/stop-polls" <<'PY' &
import json, os, subprocess, sys, time
blazefs, db, adev, out, stop = sys.argv[1:]
with open(out, "w", buffering=1) as f:
    last = -1
    while not os.path.exists(stop):
        try:
            s = json.loads(subprocess.run([blazefs, "status", "--json", db], capture_output=True).stdout)
            n = s["version_vector"].get(adev, 0)
        except Exception:
            continue
        if n != last:
            f.write("%.6f %d\n" % (time.time(), n))
            last = n
        time.sleep(0.01)
PY
poller=$!

writer() { # writer PREFIX COUNT: records through A's mount, some fsync'd
	python3 - "$T/A.mnt/c" "$1" "$2" <<'PY'
import os, sys
d, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    try:
        with open("%s/%s%d.json" % (d, prefix, i), "w") as f:
            f.write('{"i": %d, "pad": "%s"}' % (i, "x" * (i % 7 * 300)))
            if i % 10 == 0:
                f.flush()
                os.fsync(f.fileno())
    except OSError:
        break
    if i % 20 == 0:
        import time; time.sleep(0.02)
PY
}

start_traced 1
writer a 300 &
w=$!
sleep 1
pid=$(pgrep -P "${PIDS[A]}" -x blazefs) || fail "no blazefs under strace"
kill -9 "$pid"
wait "${PIDS[A]}" 2>/dev/null
unset "PIDS[A]"
wait "$w"
fusermount3 -uz "$T/A.mnt" 2>/dev/null
start_traced 2
writer b 300
wait_until 30 same_vv A B || fail "no convergence after the restart: $(vv A) vs $(vv B)"
touch "$T/stop-polls"
wait "$poller"
stop A

python3 - "$T" <<'PY' || fail "D4: B holds changes of A that a power cut would have lost"
import glob, os, re, shutil, subprocess, sys
T = sys.argv[1]
line_re = re.compile(r'^(\d+\.\d+) (\w+)\((.*)\)\s+= (-?\d+)(?: \w+ \(.*\))? <(\d+\.\d+)>$')
str_re = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
writes, syncs = [], []  # (end, offset, bytes), end
for path in glob.glob(T + "/trace*"):
    pos = None
    for line in open(path):
        m = line_re.match(line.rstrip("\n"))
        if not m:
            continue  # unfinished (killed) calls were not made
        t, call, args, ret, dur = m.groups()
        end, ret = float(t) + float(dur), int(ret)
        if ret < 0:
            continue
        data = lambda: b"".join(bytes.fromhex(s.replace("\\x", "")) for s in str_re.findall(args))
        if call == "lseek":
            pos = ret
        elif call == "pwrite64":
            writes.append((end, int(args.rsplit(",", 1)[1]), data()[:ret]))
        elif call == "pwritev":
            writes.append((end, int(args.rsplit(",", 1)[1]), data()[:ret]))
        elif call == "writev":
            writes.append((end, pos, data()[:ret]))
            pos += ret
        elif call in ("fdatasync", "fsync"):
            syncs.append(end)
        elif call == "ftruncate":
            sys.exit("unexpected ftruncate of data.mdb")
writes.sort(key=lambda w: w[0])
syncs.sort()
polls = [(float(a), int(b)) for a, b in (l.split() for l in open(T + "/polls"))]
if len(syncs) < 10 or len(writes) < 10 or not polls:
    sys.exit("the trace holds too little: %d writes, %d syncs" % (len(writes), len(syncs)))

def changes(db, origin):
    """seq -> blob of origin's changes in the LMDB file db."""
    out = subprocess.run(["mdb_dump", "-n", "-s", "changes", db], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("mdb_dump of %s failed: %s" % (db, out.stderr.strip()))
    lines = out.stdout.split("HEADER=END\n", 1)[1].splitlines()
    got = {}
    for k, v in zip(lines[0::2], lines[1::2]):
        k = bytes.fromhex(k.strip())
        if len(k) == 16 and k[:8] == origin:
            got[int.from_bytes(k[8:], "big")] = v.strip()
    return got

meta = subprocess.run(["mdb_dump", "-n", "-s", "meta", T + "/snap/data.mdb"],
                      capture_output=True, text=True).stdout.split("HEADER=END\n", 1)[1].splitlines()
origin = next(bytes.fromhex(v.strip()) for k, v in zip(meta[0::2], meta[1::2])
              if bytes.fromhex(k.strip()) == b"self")
peer = changes(T + "/B/data.mdb", origin)
img = bytearray(open(T + "/snap/data.mdb", "rb").read())
work = T + "/img"
os.mkdir(work)
wi, si, checked, failed = 0, 0, 0, 0
durable_until = 0.0
for t, n in polls:
    # Writes become durable at the first sync that ended after them.
    while si < len(syncs) and syncs[si] <= t:
        durable_until = syncs[si]
        si += 1
    while wi < len(writes) and writes[wi][0] <= durable_until:
        _, off, b = writes[wi]
        if off + len(b) > len(img):
            img.extend(b"\0" * (off + len(b) - len(img)))
        img[off:off + len(b)] = b
        wi += 1
    if n == 0:
        continue
    with open(work + "/data.mdb", "wb") as f:
        f.write(img)
    if os.path.exists(work + "/data.mdb-lock"):
        os.unlink(work + "/data.mdb-lock")
    have = changes(work + "/data.mdb", origin)
    checked += 1
    bad = [s for s in range(1, n + 1) if have.get(s) != peer.get(s)]
    if bad:
        failed += 1
        print("image at %.6f: B holds %d of A's changes; A's power-cut image lacks or differs "
              "in %d of them (seq %s)" % (t, n, len(bad), bad[:5]))
print("D4 images: %d built from %d writes and %d syncs, %d checked, %d failed"
      % (checked, len(writes), len(syncs), checked, failed))
sys.exit(1 if failed else 0)
PY
echo "ok: every change B received from A survives a power cut at that moment"

#!/bin/bash
# bench/sync.sh (part of make bench): the sync figures of issue 5, against
# two Syncthing instances and rsync -a measured in the same run, loopback only.
#  1. SYNC_BENCH_N records (10000, ~170 bytes, one file each) written on A
#     until all are readable through B's mount; median of SYNC_BENCH_ROUNDS
#     (3) rounds; Syncthing SYNC_BENCH_ST_ROUNDS (1) rounds; rsync -a.
#  2. one edit's latency A->B: SYNC_BENCH_EDITS (200) edits, B polled every
#     0.2 ms until the new content shows; p50/p99; Syncthing
#     SYNC_BENCH_ST_EDITS (10) edits.
#  3. a fresh device C joining a database of SYNC_BENCH_BIG (100000) records:
#     time from C's mount start until it has them all, and its peak RSS;
#     rsync -a of the same files; Syncthing (capped at
#     SYNC_BENCH_ST_BIG_TIMEOUT seconds, 150; 0 skips it).
# Everything it starts is stopped and removed by the EXIT trap.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${BLAZEFS_BIN:-./blazefs}")
N=${SYNC_BENCH_N:-10000}
ROUNDS=${SYNC_BENCH_ROUNDS:-3}
ST_ROUNDS=${SYNC_BENCH_ST_ROUNDS:-1}
EDITS=${SYNC_BENCH_EDITS:-200}
ST_EDITS=${SYNC_BENCH_ST_EDITS:-10}
BIG=${SYNC_BENCH_BIG:-100000}
ST_BIG_TIMEOUT=${SYNC_BENCH_ST_BIG_TIMEOUT:-150}
T_START=$(date +%s)

if ! command -v syncthing >/dev/null; then
	echo "sync bench: syncthing is missing: installing it (make deps installs it too)" >&2
	apt-get install -y syncthing >/dev/null
fi

# On disk (not tmpfs): fsyncs must cost what they cost, on every side.
W=$(mktemp -d /var/tmp/blazefs-syncbench.XXXXXX)
export HOME=$W/home STNODEFAULTFOLDER=1 STNORESTART=1 STNOUPGRADE=1
mkdir -p "$HOME"
cp "$BIN" "$W/blazefs" # one binary for the whole run, whatever is rebuilt meanwhile
BIN=$W/blazefs
declare -A PIDS=() # name -> pid of every daemon started
PORT0=$((20000 + RANDOM % 30000))

cleanup() {
	cd /
	local m n
	for m in "$W"/*.mnt; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true; }
	done
	for n in "${!PIDS[@]}"; do
		case $n in st*) st_stop "${n#st}" ;; *) kill "${PIDS[$n]}" 2>/dev/null || true ;; esac
	done
	sleep 0.2
	for n in "${!PIDS[@]}"; do
		kill -0 "${PIDS[$n]}" 2>/dev/null && kill -9 "${PIDS[$n]}" 2>/dev/null
		wait "${PIDS[$n]}" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP

die() {
	echo "sync bench: $*" >&2
	for f in "$W"/*.log; do
		[ -s "$f" ] && { echo "--- $f:" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}

port() { # port NAME: a loopback port of this run, one per name
	case $1 in
	A) echo $PORT0 ;; B) echo $((PORT0 + 1)) ;; C) echo $((PORT0 + 2)) ;;
	stA) echo $((PORT0 + 10)) ;; stB) echo $((PORT0 + 11)) ;;
	stA3) echo $((PORT0 + 12)) ;; stC3) echo $((PORT0 + 13)) ;;
	guiA) echo $((PORT0 + 20)) ;; guiB) echo $((PORT0 + 21)) ;;
	guiA3) echo $((PORT0 + 22)) ;; guiC3) echo $((PORT0 + 23)) ;;
	esac
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'; } # secs NS0 NS1

# ---- blazefs devices: $W/DEV (database), $W/DEV.mnt, $W/DEV.log
bz_start() { # bz_start DEV [mount options]
	local d=$1
	shift
	mkdir -p "$W/$d.mnt"
	"$BIN" mount "$W/$d" "$W/$d.mnt" -f --no-mdns "$@" </dev/null >>"$W/$d.log" 2>&1 &
	PIDS[$d]=$!
	for _ in $(seq 200); do
		mountpoint -q "$W/$d.mnt" && return 0
		kill -0 "${PIDS[$d]}" 2>/dev/null || die "mount of $d exited early"
		sleep 0.02
	done
	die "mount of $d did not come up"
}

bz_stop() {
	local d=$1 pid=${PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	fusermount3 -u "$W/$d.mnt" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "sync bench: $d did not exit 5 s after unmount: killed" >&2
		kill -9 "$pid" 2>/dev/null
		fusermount3 -uz "$W/$d.mnt" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$d]"
}

bz_pair() { # bz_pair INVITER JOINER NAME
	local code
	code=$("$BIN" invite "$W/$1" 2>>"$W/$1.log") || die "invite on $1"
	"$BIN" join "$W/$2" "${code%@*}" --name "$3" --peer "127.0.0.1:$(port "$1")" \
		>>"$W/$2.log" 2>&1 || die "join $2 via $1"
}

vv() { "$BIN" status --json "$W/$1" 2>/dev/null | jq -cS .version_vector; }

# ---- Syncthing instances: home $W/DEV.st, log $W/DEV.st.log
st_setup() { # st_setup NAME PEER: generates the home of NAME (once)
	syncthing generate --home "$W/$1.st" --no-default-folder >/dev/null 2>&1 ||
		die "syncthing generate $1"
	syncthing serve --home "$W/$1.st" --device-id 2>/dev/null
}

# st_config NAME PEER MYID PEERID FOLDERID FOLDERPATH: loopback only, the
# peer at its loopback address, one folder shared with it.
st_config() {
	python3 - "$W/$1.st/config.xml" "$(port "st$1")" "$(port "gui$1")" \
		"$(port "st$2")" "$3" "$4" "$5" "$6" "$2" <<'PY'
import sys, copy, xml.etree.ElementTree as ET
cfg, lport, gport, pport, me, peer, fid, fpath, pname = sys.argv[1:]
tree = ET.parse(cfg)
root = tree.getroot()
opts = root.find("options")
def opt(name, value):
    for e in opts.findall(name):
        opts.remove(e)
    ET.SubElement(opts, name).text = value
opt("listenAddress", f"tcp://127.0.0.1:{lport}")
for k, v in {"globalAnnounceEnabled": "false", "localAnnounceEnabled": "false",
             "relaysEnabled": "false", "natEnabled": "false", "urAccepted": "-1",
             "autoUpgradeIntervalH": "0", "crashReportingEnabled": "false",
             "startBrowser": "false", "setLowPriority": "false",
             "restartOnWakeup": "false", "stunServer": ""}.items():
    opt(k, v)
opt("globalAnnounceServer", "")
gui = root.find("gui")
gui.find("address").text = f"127.0.0.1:{gport}"
mine = root.find("device")
other = copy.deepcopy(mine)
other.set("id", peer)
other.set("name", pname)
other.find("address").text = f"tcp://127.0.0.1:{pport}"
root.insert(list(root).index(mine) + 1, other)
folder = copy.deepcopy(root.find("defaults/folder"))
folder.set("id", fid)
folder.set("label", fid)
folder.set("path", fpath)
folder.set("fsWatcherEnabled", "true")
folder.set("fsWatcherDelayS", "1")
folder.set("rescanIntervalS", "3600")
for d in folder.findall("device"):
    folder.remove(d)
for i in (me, peer):
    d = ET.SubElement(folder, "device", {"id": i, "introducedBy": ""})
    ET.SubElement(d, "encryptionPassword")
root.insert(0, folder)
tree.write(cfg)
PY
	mkdir -p "$6/.stfolder"
}

st_start() {
	syncthing serve --home "$W/$1.st" --no-browser --no-restart --no-upgrade \
		--logflags=0 </dev/null >>"$W/$1.st.log" 2>&1 &
	PIDS[st$1]=$!
}

st_stop() { # the monitor passes the signal on to its child, the real syncthing
	local pid=${PIDS[st$1]:-} kids
	[ -n "$pid" ] || return 0
	kids=$(pgrep -P "$pid" || true)
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" $kids 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "PIDS[st$1]"
}

st_key() { python3 -c 'import sys,xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).find("gui/apikey").text)' "$W/$1.st/config.xml"; }

# ---- the workloads and pollers (python3: tight loops, monotonic clock)
cat >"$W/h.py" <<'PY'
import json, os, statistics, sys, time, urllib.request

TEXT = "a record of about a hundred and seventy bytes, give or take, for the sync bench"

def rec(tag, i):
    return json.dumps({"tag": tag, "i": i, "title": f"record {i}", "text": TEXT,
                       "done": i % 2 == 0}) + "\n"

def has(path, tag, i):
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            d = json.loads(os.read(fd, 65536))
        finally:
            os.close(fd)
        return d.get("tag") == tag and d.get("i") == i
    except (OSError, ValueError):
        return False

def count(d):
    try:
        return sum(1 for e in os.scandir(d) if e.name.startswith("r-") and e.name.endswith(".json"))
    except OSError:
        return 0

def put(path, data):
    """open/write/close and nothing else (Python's open() adds fstat, ioctl and
    lseek: three more round trips through a FUSE mount)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)

def write(d, n, tag):
    os.makedirs(d, exist_ok=True)
    for i in range(1, n + 1):
        put(os.path.join(d, f"r-{i}.json"), rec(tag, i))

def bulk(src, dst, n, tag, poll, timeout):
    """writes n records in src; prints seconds: writing, first write until all in dst"""
    t0 = time.monotonic()
    write(src, n, tag)
    t1 = time.monotonic()
    last = os.path.join(dst, f"r-{n}.json")
    while True:
        if has(last, tag, n) and count(dst) == n:
            break
        if time.monotonic() - t0 > timeout:
            sys.exit(f"bulk: {count(dst)} of {n} records in {dst} after {timeout} s")
        time.sleep(poll)
    t2 = time.monotonic()
    print(f"{t1 - t0:.4f} {t2 - t0:.4f}")

def edits(src, dst, n, tag, poll, pause, timeout, src_out):
    """n edits of one record in src, each timed until dst shows it; prints ms,
    one a line; src_out.write gets the part spent writing on A"""
    a, b = os.path.join(src, "e.json"), os.path.join(dst, "e.json")
    out = []
    for i in range(0, n + 1):
        t0 = time.perf_counter()
        put(a, rec(tag, i))
        tw = time.perf_counter()
        while not has(b, tag, i):
            if time.perf_counter() - t0 > timeout:
                sys.exit(f"edits: edit {i} not in {dst} after {timeout} s")
            time.sleep(poll)
        if i:  # edit 0 creates the record; not timed
            out.append(((time.perf_counter() - t0) * 1000, (tw - t0) * 1000))
        time.sleep(pause)
    with open(src_out + ".write", "w") as f:
        f.write("\n".join(f"{w:.3f}" for _, w in out) + "\n")
    print("\n".join(f"{x:.3f}" for x, _ in out))

def st_get(port, key, path):
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-API-Key": key})
    with urllib.request.urlopen(r, timeout=5) as f:
        return json.load(f)

def st_connected(port, key, peer, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            c = st_get(port, key, "/rest/system/connections")["connections"]
            if c.get(peer, {}).get("connected"):
                return
        except Exception:
            pass
        time.sleep(0.1)
    sys.exit(f"syncthing on {port} not connected to its peer after {timeout} s")

def st_idle(port, key, folder, n, timeout):
    """waits until the folder is scanned and idle with n local files"""
    t0 = time.monotonic()
    s = {}
    while time.monotonic() - t0 < timeout:
        try:
            s = st_get(port, key, f"/rest/db/status?folder={folder}")
            if s.get("state") == "idle" and s.get("localFiles") >= n:
                return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"syncthing on {port}: folder {folder} not idle with {n} files after {timeout} s: {s}")

def wait_count(d, n, poll, timeout):
    """prints seconds until d holds n records, or 'timeout COUNT'"""
    t0 = time.monotonic()
    while True:
        c = count(d)
        if c >= n:
            print(f"{time.monotonic() - t0:.3f}")
            return
        if time.monotonic() - t0 > timeout:
            print(f"timeout {c}")
            return
        time.sleep(poll)

def median(path):
    print(statistics.median(float(x) for x in open(path).read().split()))

def pct(path):
    x = sorted(float(v) for v in open(path).read().split())
    q = lambda p: x[min(len(x) - 1, int(round(p / 100 * (len(x) - 1))))]
    print(f"{q(50):.3f} {q(99):.3f} {x[-1]:.3f}")

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "write":
    write(args[0], int(args[1]), args[2])
elif cmd == "bulk":
    bulk(args[0], args[1], int(args[2]), args[3], float(args[4]), float(args[5]))
elif cmd == "edits":
    edits(args[0], args[1], int(args[2]), args[3], float(args[4]), float(args[5]), float(args[6]), args[7])
elif cmd == "st_connected":
    st_connected(args[0], args[1], args[2], float(args[3]))
elif cmd == "st_idle":
    st_idle(args[0], args[1], args[2], int(args[3]), float(args[4]))
elif cmd == "wait_count":
    wait_count(args[0], int(args[1]), float(args[2]), float(args[3]))
elif cmd == "median":
    median(args[0])
elif cmd == "pct":
    pct(args[0])
PY
H() { python3 "$W/h.py" "$@"; }
R=$W/results
mkdir -p "$R"

# ================= 1 and 2: blazefs, two devices ===========================
echo "sync bench: blazefs A and B on loopback (N=$N, edits=$EDITS, big=$BIG)" >&2
"$BIN" init "$W/A" --name alpha >/dev/null || die "init A"
bz_start A --listen "127.0.0.1:$(port A)"
bz_pair A B beta
bz_start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)"
mkdir "$W/A.mnt/hello"
echo '{"hello": 1}' >"$W/A.mnt/hello/h.json"
for _ in $(seq 200); do [ -f "$W/B.mnt/hello/h.json" ] && break; sleep 0.05; done
[ -f "$W/B.mnt/hello/h.json" ] || die "A and B do not sync"

for r in $(seq "$ROUNDS"); do
	mkdir "$W/A.mnt/bulk$r"
	H bulk "$W/A.mnt/bulk$r" "$W/B.mnt/bulk$r" "$N" "bz$r" 0.005 120 >"$R/bz.bulk.$r" ||
		die "blazefs round $r: the records did not all reach B"
	read -r w t <"$R/bz.bulk.$r"
	echo "$w" >>"$R/bz.write"
	echo "$t" >>"$R/bz.total"
	awk -v w="$w" -v t="$t" 'BEGIN { printf "%.4f\n", t - w }' >>"$R/bz.lag"
	echo "  blazefs round $r: $N records written on A in ${w}s, all on B ${t}s after the first write" >&2
done
vva=$(vv A) vvb=
for _ in $(seq 100); do vvb=$(vv B); [ "$vva" = "$vvb" ] && break; sleep 0.05; done
[ "$vva" = "$vvb" ] || echo "sync bench: WARNING: version vectors differ after the bulk rounds: A $vva B $vvb" >&2

mkdir "$W/A.mnt/edit"
H edits "$W/A.mnt/edit" "$W/B.mnt/edit" "$EDITS" bzedit 0.0002 0.002 10 "$R/bz.edits" >"$R/bz.edits" ||
	die "blazefs edits did not reach B"
read -r bz_p50 bz_p99 bz_max < <(H pct "$R/bz.edits")
read -r bzw_p50 bzw_p99 _ < <(H pct "$R/bz.edits.write")
echo "  blazefs edits: p50 ${bz_p50} ms, p99 ${bz_p99} ms, max ${bz_max} ms (the write on A alone: p50 ${bzw_p50} ms, p99 ${bzw_p99} ms)" >&2
bz_stop B

# ================= 1 and 2: rsync -a, Syncthing =============================
for r in $(seq "$ROUNDS"); do
	t0=$(date +%s%N)
	H write "$W/plain$r" "$N" "rs$r"
	t1=$(date +%s%N)
	rsync -a "$W/plain$r/" "$W/copy$r/"
	t2=$(date +%s%N)
	secs "$t0" "$t1" >>"$R/rs.write"
	secs "$t1" "$t2" >>"$R/rs.rsync"
	secs "$t0" "$t2" >>"$R/rs.total"
	rm -rf "$W/plain$r" "$W/copy$r"
done

echo "sync bench: two Syncthing instances on loopback" >&2
idA=$(st_setup A) idB=$(st_setup B)
st_config A B "$idA" "$idB" bench "$W/stA.dir"
st_config B A "$idB" "$idA" bench "$W/stB.dir"
st_start A
st_start B
keyA=$(st_key A) keyB=$(st_key B)
H st_connected "$(port guiA)" "$keyA" "$idB" 60 || die "syncthing A and B did not connect"
H st_connected "$(port guiB)" "$keyB" "$idA" 30 || die "syncthing B and A did not connect"
H st_idle "$(port guiA)" "$keyA" bench 0 30 || die "syncthing A folder not idle"
H st_idle "$(port guiB)" "$keyB" bench 0 30 || die "syncthing B folder not idle"
for r in $(seq "$ST_ROUNDS"); do
	H bulk "$W/stA.dir/bulk$r" "$W/stB.dir/bulk$r" "$N" "st$r" 0.05 300 >"$R/st.bulk.$r" ||
		die "syncthing round $r: the records did not all reach B"
	read -r w t <"$R/st.bulk.$r"
	echo "$t" >>"$R/st.total"
	echo "  syncthing round $r: $N records written on A in ${w}s, all on B ${t}s after the first write" >&2
done
mkdir -p "$W/stA.dir/edit"
H edits "$W/stA.dir/edit" "$W/stB.dir/edit" "$ST_EDITS" stedit 0.001 0.5 30 "$R/st.edits" >"$R/st.edits" ||
	die "syncthing edits did not reach B"
read -r st_p50 st_p99 st_max < <(H pct "$R/st.edits")
echo "  syncthing edits: p50 ${st_p50} ms, p99 ${st_p99} ms, max ${st_max} ms" >&2
st_stop A
st_stop B
rm -rf "$W/stA.dir" "$W/stB.dir"

# ================= 3: a fresh device joining $BIG records ====================
echo "sync bench: $BIG records on A, then a fresh device C joins" >&2
mkdir "$W/A.mnt/big"
t0=$(now_ms)
H write "$W/A.mnt/big" "$BIG" big
big_fill_ms=$(($(now_ms) - t0))
bz_pair A C gamma # A records the new device: compare with A's vector of now
t0=$(now_ms)
bz_start C --no-listen --peer "127.0.0.1:$(port A)"
pidC=${PIDS[C]}
hwm=0
anon=0 # the process's own memory (RssAnon), sampled: RSS also counts the mapped database
conv_ms=
deadline=$((t0 + 300000))
# A status through jq costs ~45 ms of CPU: polling both devices every 50 ms took most of
# a core from the catch-up it measured.  C is polled, A only when C has
# caught up with what A had last time.
vvA=$(vv A)
while [ "$(now_ms)" -lt $deadline ]; do
	h=$(awk '/^VmHWM/ {print $2}' "/proc/$pidC/status" 2>/dev/null || echo 0)
	[ "${h:-0}" -gt "$hwm" ] && hwm=$h
	h=$(awk '/^RssAnon/ {print $2}' "/proc/$pidC/status" 2>/dev/null || echo 0)
	[ "${h:-0}" -gt "$anon" ] && anon=$h
	vvc=$(vv C)
	if [ "$vvc" = "$vvA" ]; then
		vvA=$(vv A)
		if [ "$vvc" = "$vvA" ]; then
			conv_ms=$(($(now_ms) - t0))
			break
		fi
	fi
	sleep 0.2
done
[ -n "$conv_ms" ] || die "C did not converge in 300 s: C $(vv C) A $(vv A)"
nC=$(H wait_count "$W/C.mnt/big" "$BIG" 0.05 60)
listed_ms=$(($(now_ms) - t0))
case $nC in timeout*) die "C converged (same version vector) but lists ${nC#timeout } of $BIG records" ;; esac
h=$(awk '/^VmHWM/ {print $2}' "/proc/$pidC/status")
[ "$h" -gt "$hwm" ] && hwm=$h
rss_parts=$(awk '/^Rss(Anon|File|Shmem)/ {printf "%s %d MiB ", $1, $2 / 1024}' "/proc/$pidC/status")
echo "  blazefs C: same version vector after ${conv_ms} ms, all $BIG listed after ${listed_ms} ms, peak RSS $((hwm / 1024)) MiB, peak RssAnon $((anon / 1024)) MiB (now: $rss_parts)" >&2
bz_stop C
bz_stop A

# rsync -a of the same files in a plain directory
H write "$W/plainbig" "$BIG" big
t0=$(now_ms)
rsync -a "$W/plainbig/" "$W/copybig/"
rs_big_ms=$(($(now_ms) - t0))
rm -rf "$W/copybig"
echo "  rsync -a of $BIG files: ${rs_big_ms} ms" >&2

# Syncthing: A3 holds the same files (scanned before the clock starts), C3 is new
st_big="skipped (SYNC_BENCH_ST_BIG_TIMEOUT=0)"
st_big_s= st_big_min=
if [ "$ST_BIG_TIMEOUT" -gt 0 ]; then
	idA3=$(st_setup A3) idC3=$(st_setup C3)
	st_config A3 C3 "$idA3" "$idC3" big "$W/plainbig"
	st_config C3 A3 "$idC3" "$idA3" big "$W/stC3.dir"
	st_start A3
	keyA3=$(st_key A3)
	t0=$(now_ms)
	H st_idle "$(port guiA3)" "$keyA3" big "$BIG" 300 || die "syncthing A3 did not scan $BIG files"
	echo "  syncthing A3: initial scan of $BIG files took $(($(now_ms) - t0)) ms (not counted)" >&2
	t0=$(now_ms)
	st_start C3
	out=$(H wait_count "$W/stC3.dir" "$BIG" 0.5 "$ST_BIG_TIMEOUT")
	case $out in
	timeout*)
		st_big="gave up after ${ST_BIG_TIMEOUT}s with ${out#timeout } of $BIG files"
		st_big_min=$ST_BIG_TIMEOUT
		;;
	*)
		st_big_s=$out
		st_big="${out}s"
		;;
	esac
	hC3=0
	for p in ${PIDS[stC3]} $(pgrep -P "${PIDS[stC3]}" || true); do # the monitor and its child
		h=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${h:-0}" -gt "$hC3" ] && hC3=$h
	done
	st_big="$st_big, peak RSS $((hC3 / 1024)) MiB"
	echo "  syncthing C3: $st_big" >&2
	st_stop C3
	st_stop A3
fi

# ================= the table ================================================
bz_total=$(H median "$R/bz.total") bz_write=$(H median "$R/bz.write") bz_lag=$(H median "$R/bz.lag")
st_total=$(H median "$R/st.total")
rs_total=$(H median "$R/rs.total") rs_rsync=$(H median "$R/rs.rsync")
python3 - <<PY
n, big = $N, $BIG
bz, bzw, st, rs, rsr, lag = $bz_total, $bz_write, $st_total, $rs_total, $rs_rsync, $bz_lag
bz50, bz99, bzmax = $bz_p50, $bz_p99, $bz_max
st50, st99, stmax = $st_p50, $st_p99, $st_max
print(f"blazefs sync bench (loopback; medians: blazefs/rsync of $ROUNDS rounds, Syncthing of $ST_ROUNDS)")
print(f"1. {n} records written on A until all readable on B")
print(f"   blazefs   {bz:8.2f} s  ({n / bz:7.0f} rec/s; writing on A alone {bzw:.2f} s, B complete {lag * 1000:.0f} ms after the last write; target <= 50 ms)")
print(f"   syncthing {st:8.2f} s  ({n / st:7.0f} rec/s)   syncthing/blazefs = {st / bz:.1f}x  (target >= 50x)")
print(f"   rsync -a  {rs:8.2f} s  (write to a plain dir + rsync {rsr:.2f} s)   blazefs/rsync = {bz / rs:.1f}x")
print(f"2. one edit A->B, ms: blazefs ($EDITS edits) p50 {bz50:.2f} p99 {bz99:.2f} max {bzmax:.2f}  (target p99 < 5)")
print(f"   (of which the write on A, until close returns: p50 {$bzw_p50:.2f} p99 {$bzw_p99:.2f})")
print(f"   syncthing ($ST_EDITS edits) p50 {st50:.1f} p99 {st99:.1f}   syncthing/blazefs p50 = {st50 / bz50:.0f}x")
conv, listed, hwm, rsb = $conv_ms / 1000, $listed_ms / 1000, $hwm / 1024, $rs_big_ms / 1000
print(f"3. fresh device C joins {big} records (filled through A's mount in {$big_fill_ms / 1000:.1f} s)")
print(f"   blazefs   {conv:8.2f} s to the same version vector, {listed:.2f} s until all listed; peak RSS {hwm:.0f} MiB")
print(f"             (peak RssAnon, the process's own memory, sampled every 50 ms until converged: {$anon / 1024:.0f} MiB)")
if big >= 1000000:
    print(f"             (target for 1M records: < 20 s, peak RSS < 300 MiB)")
print(f"             (RSS at the end: $rss_parts)")
print(f"   rsync -a  {rsb:8.2f} s   blazefs/rsync = {conv / rsb:.1f}x")
stb, stmin = "$st_big_s", "$st_big_min"
print(f"   syncthing $st_big" + (f"   syncthing/blazefs = {float(stb) / conv:.1f}x" if stb else
                                  f"   syncthing/blazefs > {float(stmin) / conv:.0f}x" if stmin else ""))
PY
echo "sync bench: took $(($(date +%s) - T_START)) s" >&2

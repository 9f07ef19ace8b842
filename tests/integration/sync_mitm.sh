# A man in the middle between B and A that flips, drops, replays or
# reorders bytes: each connection ends (the log says why), nothing is
# corrupted, and once the path is honest again the devices converge.
. "$(dirname "$0")/sync_lib.bash"

MITM=$((BASE_PORT + 40))
cat >"$T/proxy.py" <<'PY'
import os, socket, sys, threading
listen, target, modefile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
LIMIT = 150000

def pump(src, dst, mode, tamper):
    seen, held = 0, None
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            seen += len(b)
            # Past the handshake and the first CHANGES batches (64 KiB
            # each): the damage falls inside the stream of sealed changes,
            # at an exact offset, so what came before arrives whole.
            cut = LIMIT - (seen - len(b))
            if tamper and seen > LIMIT and mode != "pass":
                tamper = False
                dst.sendall(b[:cut])
                b = b[cut:]
                if mode == "flip":
                    b = b[:-1] + bytes([b[-1] ^ 1])
                elif mode == "drop":
                    b = b[len(b) // 2:]
                elif mode == "replay":
                    b = b + b
                elif mode == "reorder":
                    held = b
                    continue
            dst.sendall(b)
            if held is not None:
                dst.sendall(held)
                held = None
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen))
srv.listen(16)
while True:
    c, _ = srv.accept()
    mode = open(modefile).read().strip()
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pump, args=(u, c, mode, True), daemon=True).start()
    threading.Thread(target=pump, args=(c, u, mode, False), daemon=True).start()
PY
echo pass >"$T/mode"
init A alpha
start A --listen "127.0.0.1:$(port A)"
python3 "$T/proxy.py" "$MITM" "$(port A)" "$T/mode" &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; cleanup' EXIT
sleep 0.3

mkdir "$T/A.mnt/m"
for i in $(seq 1000); do echo "{\"i\": $i, \"pad\": \"$(printf '%0100d' $i)\"}" >"$T/A.mnt/m/r-$i.json"; done
# a fresh device per attack, so the damage falls inside its catch-up stream
check_subset() { # DEV: what arrived before the damage is exactly A's
	local n
	# One process for up to a thousand records (a jq pair each took a minute).
	n=$(python3 - "$T/$1.mnt/m" "$T/A.mnt/m" <<'PY'
import json, os, sys
got, want = sys.argv[1], sys.argv[2]
names = os.listdir(got) if os.path.isdir(got) else []
for f in names:
    if json.load(open(os.path.join(got, f))) != json.load(open(os.path.join(want, f))):
        print(f"corrupted {f}"); sys.exit()
print(len(names))
PY
) || fail "$1: cannot compare"
	case $n in corrupted*) fail "$1: $n" ;; esac
	[ "$n" -gt 0 ] || fail "$1: nothing arrived before the damage (the attack hit the handshake)"
	[ "$n" -lt 1000 ] || fail "$1: everything arrived (the attack did nothing)"
}
for dm in F:flip D:drop R:replay O:reorder; do
	d=${dm%%:*} mode=${dm#*:}
	echo pass >"$T/mode"
	pair A "$d" "dev-$mode"
	echo "$mode" >"$T/mode"
	start "$d" --no-listen --peer "127.0.0.1:$MITM"
	wait_until 15 grep -Eq "failed|dead|refused|error" "$T/$d.log" || fail "$mode: the connection did not end"
	check_subset "$d"
	stop "$d"
done
echo pass >"$T/mode"
start F --no-listen --peer "127.0.0.1:$MITM"
wait_until 20 same_vv A F || fail "no convergence through an honest proxy"
for i in $(seq 200); do
	same "$T/A.mnt/m/r-$i.json" "$T/F.mnt/m/r-$i.json" || fail "r-$i differs"
done

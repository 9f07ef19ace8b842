# Privacy from strangers: a device of another database, and a raw client
# that speaks the wire format, dial a member again and again.  Each raw dial
# gets exactly one byte back (the suite choice) and is dropped at Noise
# message 1: no message 2, so no static key (no stable id) leaks.  The member
# logs the refusal once (rate-limited), and keeps syncing with its real peer.
# A database made before network.key existed refuses to mount, saying why.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta
start B --no-listen --peer "127.0.0.1:$(port A)"

init S stranger
start S --no-listen --peer "127.0.0.1:$(port A)"

cat >"$T/stranger.py" <<'PY'
import os, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
got = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    # offer: this wire format, AESGCM and ChaChaPoly; then a message 1 made
    # without the network key, of psk0's size (e and a tag) or of plain XX's
    # (e alone, which a responder without psk0 would answer with its key)
    s.sendall(bytes([0x43]))
    data = s.recv(1)
    msg1 = os.urandom(48 if len(got) % 2 else 32)
    s.sendall(len(msg1).to_bytes(2, "big") + msg1)
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except socket.timeout:
        data += b"<no close>"
    except ConnectionResetError:
        pass
    s.close()
    got.append(str(len(data)))
print(" ".join(got))
PY
out=$(python3 "$T/stranger.py" "$(port A)" 25) || fail "the raw stranger failed"
expect_eq "$out" "$(printf '1 %.0s' $(seq 25) | sed 's/ $//')" "bytes each raw dial received"

# S dials with backoff meanwhile; give it a few attempts.
sleep 4
n=$(grep -c "did not prove the network key" "$T/A.log")
expect_eq "$n" 1 "refusal lines on A (rate-limited)"
grep -q "in sync session" "$T/S.log" && fail "the stranger got a session"
expect_eq "$("$BLAZEFS" status --json "$T/S" | jq '[.peers[] | select(.state == "syncing")] | length')" 0 \
	"the stranger's sessions"

# The member pair still works.
mkdir "$T/A.mnt/n"
echo '{"k": 1}' >"$T/A.mnt/n/r.json"
wait_until 10 same "$T/A.mnt/n/r.json" "$T/B.mnt/n/r.json" || fail "A and B do not sync"

# A database without network.key (made by an older blazefs) refuses to mount.
init O old
rm "$T/O/network.key"
mkdir -p "$T/O.mnt"
timeout 10 "$BLAZEFS" mount "$T/O" "$T/O.mnt" -f --no-listen </dev/null >"$T/O.log" 2>&1 &&
	fail "a database without network.key mounted"
mountpoint -q "$T/O.mnt" && fail "a database without network.key is mounted"
grep -q "made by an older blazefs; re-create it" "$T/O.log" || fail "unclear error: $(cat "$T/O.log")"
exit 0

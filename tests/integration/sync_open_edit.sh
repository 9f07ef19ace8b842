# A file held open by an editor on B while A changes another field: when the
# editor saves, B writes only what it changed, so A's edit survives on both
# devices (nothing is silently undone).  A change to the same field made
# meanwhile stays as a conflict.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)" --no-mdns
a=$T/A.mnt/c/r.json b=$T/B.mnt/c/r.json
mkdir "$T/A.mnt/c"
echo '{"x": 0, "y": 0, "z": 0}' >"$a"
wait_until 10 same "$a" "$b" || fail "initial sync"

# The editor opens and reads the file, then waits for A's edits to reach B.
python3 - "$b" "$T/go" "$T/ready" <<'PY' &
import json, os, sys, time
path, go, ready = sys.argv[1:]
with open(path, "r+") as f:
    data = json.load(f)
    open(ready, "w").close()
    for _ in range(400):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    data["y"] = "edited on B"
    data["z"] = "B's value"
    f.seek(0)
    f.truncate()
    json.dump(data, f)
PY
editor=$!
wait_until 10 test -e "$T/ready" || fail "the editor did not start"
echo '{"x": "edited on A", "y": 0, "z": "A'"'"'s value"}' >"$a"
wait_until 10 same_vv A B || fail "A's edit did not reach B's journal"
touch "$T/go"
wait "$editor" || fail "the editor's save failed"

wait_until 10 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
wait_until 5 same "$a" "$b" || fail "records differ: $(cat "$a") vs $(cat "$b")"
expect_eq "$(jq -r .x "$a")" "edited on A" "A's edit of x survives B's save"
expect_eq "$(jq -r .y "$a")" "edited on B" "B's edit of y"
grep -q "A's value" "$T/A.mnt/.blazefs/conflicts" && grep -q "B's value" "$T/A.mnt/.blazefs/conflicts" ||
	fail "z edited on both sides is not listed as a conflict: $(cat "$T/A.mnt/.blazefs/conflicts")"

# A file held open on B (tail -f, less, an idle editor) still shows what A
# writes to whoever reads it, and so does the holder's own next read.
exec 3<"$b"
echo '{"x": "later"}' >"$a"
wait_until 10 grep -q later "$b" || fail "A's write does not show on B while a reader holds the file open"
expect_eq "$(python3 -c 'import os; print(os.pread(3, 4096, 0).decode())' | jq -c .)" \
	'{"x":"later"}' "the holder's own read"
exec 3<&-
echo "ok"

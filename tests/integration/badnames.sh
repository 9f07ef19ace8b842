# Names and sizes that cannot be records get a precise errno and one log line
# (issue 12 item 2): never a silent local-only scratch file, never a misleading
# "invalid JSON" for an over-size record; emptying a record is EINVAL at close.
. "$(dirname "$0")/common.bash"

init_db
mount_fs
mkdir "$MNT/c" || fail "mkdir"
echo '{"a": 1}' >"$MNT/c/r.json" || fail "write r"
echo scratch >"$MNT/c/tmp.txt" || fail "write scratch"

python3 - "$MNT/c" <<'PY' || fail "errnos (above)"
import errno, os, sys
d = sys.argv[1].encode()
bad = 0
def expect(what, want, fn):
    global bad
    try:
        fn()
        got = "OK"
    except OSError as e:
        got = errno.errorcode[e.errno]
    if got != want:
        print("%s: got %s, expected %s" % (what, got, want))
        bad = 1
def create(name, data=b"{}"):
    fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
long_id = b"x" * 201 + b".json"
expect("create of a 201-byte id", "ENAMETOOLONG", lambda: create(long_id))
expect("create of invalid UTF-8", "EILSEQ", lambda: create(b"\xff\xfe.json"))
expect("mknod of a 201-byte id", "ENAMETOOLONG", lambda: os.mknod(os.path.join(d, long_id)))
expect("symlink to a 201-byte id", "ENAMETOOLONG", lambda: os.symlink(b"r.json", os.path.join(d, long_id)))
expect("rename to a 201-byte id", "ENAMETOOLONG",
       lambda: os.rename(os.path.join(d, b"tmp.txt"), os.path.join(d, long_id)))
expect("rename to invalid UTF-8", "EILSEQ",
       lambda: os.rename(os.path.join(d, b"tmp.txt"), os.path.join(d, b"\xc3.json")))
expect("create of a 200-byte id", "OK", lambda: create(b"y" * 200 + b".json"))
expect("an emacs lock .#r.json (scratch)", "OK", lambda: os.symlink(b"x@host", os.path.join(d, b".#r.json")))
big = b'{"a": "' + b"x" * (2 << 20) + b'"}'
expect("write of 2 MiB", "EFBIG", lambda: create(b"big.json", big))
with open(os.path.join(d, b"big.txt"), "wb") as f:
    f.write(big)
expect("rename of 2 MiB over a record", "EFBIG",
       lambda: os.rename(os.path.join(d, b"big.txt"), os.path.join(d, b"r.json")))
expect("emptying a record (close)", "EINVAL", lambda: open(os.path.join(d, b"r.json"), "w").close())
expect("touch of a new record", "OK", lambda: open(os.path.join(d, b"new.json"), "a").close())
sys.exit(bad)
PY

ls "$MNT/c" >"$T/ls" || fail "ls"
grep -q '^xxxxx' "$T/ls" && fail "a 201-byte id became a scratch file"
[ "$(grep -c . "$T/ls")" -eq "$(ls "$MNT/c" | grep -c .)" ] || fail "listing"
grep -q 'json' "$T/ls" || fail "no records listed"
expect_eq "$(grep -c 'cannot be a record: its id is over 200 bytes' "$LOG")" 4 "log lines for long ids"
expect_eq "$(grep -c 'cannot be a record: its name is not valid UTF-8' "$LOG")" 2 "log lines for bad UTF-8"
expect_eq "$(grep -c 'big.json: write rejected: record larger than 1 MiB' "$LOG")" 1 "over-size log line"
grep -q 'premature end' "$LOG" && fail "over-size write reported as invalid JSON"
[ -e "$MNT/c/big.json" ] && fail "over-size write left a record"
# the emptied record is a rejected write, listed once; a shell redirect over a
# record still works (its early close of the duplicated descriptor is ignored)
expect_eq "$(jq -r '.[] | select(.record == "r") | .collection' "$MNT/.blazefs/errors")" c "rejected empty write listed"
echo '{"a": 2}' >"$MNT/c/r.json" || fail "shell redirect over a record"
expect_eq "$(jq -c . "$MNT/c/r.json")" '{"a":2}' "record after the redirect"
expect_eq "$(jq length "$MNT/.blazefs/errors")" 1 "errors after the redirect (only new.json's touch)"
echo ok

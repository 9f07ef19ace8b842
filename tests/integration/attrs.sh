#!/bin/bash
# stat, chmod/chown/utimens (accepted, records stay 0644), xattrs, O_APPEND,
# fsync, reads right after writes, status counts.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
cd "$MNT" || fail cd
mkdir c || fail mkdir

printf '{"compact":[1,2,{"x":null}],"n":-9007199254740993}' > c/r.json
expect_eq "$(cat c/r.json)" '{"compact":[1,2,{"x":null}],"n":-9007199254740993}' "exact bytes"
expect_eq "$(stat -c '%s %a %F' c/r.json)" "50 644 regular file" "stat"
v1=$(getfattr --only-values -n user.blazefs.version c/r.json) || fail "version xattr"
expect_eq "$(getfattr --only-values -n user.blazefs.conflicts c/r.json | jq length)" 0 \
	"conflicts xattr"
getfattr -d c/r.json | grep -q user.blazefs.version || fail "listxattr"

# chmod, chown, touch -d: accepted, nothing changes.
chmod 600 c/r.json || fail chmod
chown 1234:1234 c/r.json || fail chown
touch -d '2001-01-01' c/r.json || fail "touch -d"
expect_eq "$(stat -c '%a %u' c/r.json)" "644 $(id -u)" "mode and owner after chmod/chown"
expect_eq "$(getfattr --only-values -n user.blazefs.version c/r.json)" "$v1" "version after chmod"

# A write changes the version and the mtime.
m1=$(stat -c %Y c/r.json)
sleep 1.1
printf '{"n": 2}' > c/r.json
v2=$(getfattr --only-values -n user.blazefs.version c/r.json)
[ "$v2" != "$v1" ] || fail "version unchanged by a write"
m2=$(stat -c %Y c/r.json)
[ "$m2" -gt "$m1" ] || fail "mtime unchanged by a write ($m1 -> $m2)"

# O_APPEND, writes at offsets, fsync, and reading through a second descriptor.
python3 - "$MNT/c" <<'PY' || fail "python checks"
import os, sys
d = sys.argv[1]
p = d + "/a.json"
with open(p, "w") as f:
    f.write('{"a": 1}')
with open(p, "a") as f:
    f.write("\n")
assert open(p).read() == '{"a": 1}\n', "append"
fd = os.open(p, os.O_RDWR)
os.pwrite(fd, b"2", 6)
reader = open(p)
assert reader.read() == '{"a": 2}\n', "read through a second descriptor"
os.fsync(fd)
os.close(fd)
assert open(p).read() == '{"a": 2}\n', "after fsync"
# A careful save: write a temporary, fsync it, rename it over the record,
# fsync the directory (each step must succeed; the record is then committed).
d = os.path.dirname(p)
with open(os.path.join(d, ".r.json.tmp"), "w") as f:
    f.write('{"saved": "carefully"}')
    f.flush()
    os.fsync(f.fileno())
os.rename(os.path.join(d, ".r.json.tmp"), p)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
assert open(p).read() == '{"saved": "carefully"}', "careful save"
# An O_TRUNC open and a new write in one go.
fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
os.write(fd, b'{"b": [true]}')
os.close(fd)
assert open(p).read() == '{"b": [true]}', "O_TRUNC"
# O_CREAT|O_EXCL on an existing record.
try:
    os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    sys.exit("O_EXCL on an existing record succeeded")
except FileExistsError:
    pass
PY

# Over-long records: EFBIG at the write that crosses the limit (1 MiB).
python3 - "$MNT/c/big.json" <<'PY' || fail "EFBIG"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
try:
    os.pwrite(fd, b" ", 1024 * 1024)
    sys.exit("a write past 1 MiB succeeded")
except OSError as e:
    assert e.errno == errno.EFBIG, e
os.write(fd, b"{}")
os.close(fd)
PY

# touch of a new record: an empty file is not a record, so it is kept as a
# rejected write (listed in errors) until something valid is written.
touch c/new.json || fail "touch new.json"
expect_eq "$(stat -c %s c/new.json)" 0 "size of a touched new record"
expect_eq "$(jq -r '.[].record' .blazefs/errors)" new "errors after touch"
echo '{}' > c/new.json
expect_eq "$(jq length .blazefs/errors)" 0 "errors after a valid write"

expect_eq "$(jq -c '[.collections, .records, .conflicts, .pending]' .blazefs/status)" \
	"[1,4,0,0]" "status counts"
expect_eq "$(jq length .blazefs/conflicts)" 0 "conflicts file"
exit 0

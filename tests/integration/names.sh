#!/bin/bash
# Bad names, nested directories, the read-only .blazefs: precise errnos and a log line.
. "$(dirname "$0")/common.bash"
init_db
mount_fs

# errno_of PYTHON-STATEMENT: the errno name the statement fails with ("OK" if none).
errno_of() {
	python3 -c "
import errno, os, sys
try:
    $1
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
print('OK')"
}
cd "$MNT" || fail cd

expect_eq "$(errno_of "os.mkdir('.hidden')")" EINVAL "mkdir of a dot name at the root"
expect_eq "$(errno_of "os.mkdir('x' * 201)")" ENAMETOOLONG "mkdir of a 201-byte name"
expect_eq "$(errno_of "os.mkdir(b'\xff\xfe')")" EINVAL "mkdir of a non-UTF-8 name"
expect_eq "$(errno_of "open('file.json', 'w')")" EPERM "a file at the root"
grep -q "only collections" "$LOG" || fail "no log line for a file at the root"
expect_eq "$(errno_of "os.mkdir('c')")" OK "mkdir c"
expect_eq "$(errno_of "os.mkdir('c')")" EEXIST "mkdir c again"
expect_eq "$(errno_of "os.mkdir('c/sub')")" EPERM "nested directory"
grep -q "c/sub: nested directories are not supported" "$LOG" || fail "no log line for nested"
expect_eq "$(errno_of "os.link('c/a', 'c/b')")" ENOENT "link of a missing file"
echo '{}' > c/a.json
expect_eq "$(errno_of "os.link('c/a.json', 'c/b.json')")" EPERM "hard link"
expect_eq "$(errno_of "os.symlink('a.json', 'c/l.json')")" EPERM "a record as a symlink"
expect_eq "$(errno_of "os.rename('c', 'd')")" EXDEV "rename of a collection"
expect_eq "$(errno_of "os.rename('c/a.json', 'top.json')")" EPERM "a record moved to the root"
expect_eq "$(errno_of "os.mkfifo('c/fifo')")" EPERM "a fifo"
expect_eq "$(errno_of "open('c/missing.json')")" ENOENT "open of a missing record"
expect_eq "$(errno_of "os.rmdir('nope')")" ENOENT "rmdir of a missing collection"

# .blazefs is read-only.
expect_eq "$(errno_of "open('.blazefs/status', 'w')")" EROFS "write .blazefs/status"
expect_eq "$(errno_of "open('.blazefs/new', 'w')")" EROFS "create in .blazefs"
expect_eq "$(errno_of "os.rmdir('.blazefs')")" EPERM "rmdir .blazefs"
expect_eq "$(errno_of "os.mkdir('.blazefs/x')")" EROFS "mkdir in .blazefs"
expect_eq "$(ls .blazefs | tr '\n' ' ')" "conflicts errors peers status " "ls .blazefs"

# mv of a collection falls back to copy + delete, which works record by record.
echo '{"m": 1}' > c/m.json
mv c d || fail "mv of a collection"
expect_eq "$(cat d/m.json)" '{"m": 1}' "record after mv of a collection"
[ -e c ] && fail "the old collection is still there"
exit 0

#!/bin/bash
# Invalid JSON through each tool: a clear error, nothing journalled, the
# rejected bytes readable and listed in .blazefs/errors, the stored record
# intact across a remount, and a valid write clears the error.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
cd "$MNT" || fail cd
mkdir c || fail mkdir
printf '{"a": 1}\n' > c/r.json || fail "first write"
good_version=$(getfattr --only-values -n user.blazefs.version c/r.json)

# check_rejected TOOL BYTES: the state after a rejected write of BYTES.
check_rejected() {
	expect_eq "$(cat c/r.json)" "$2" "$1: rejected bytes on read"
	expect_eq "$(jq -r '.[] | .collection + "/" + .record' .blazefs/errors)" c/r "$1: errors"
	jq -r '.[].error' .blazefs/errors | grep -qi json || fail "$1: no reason in errors"
	expect_eq "$(vv)" "$vv0" "$1: version vector"
	expect_eq "$(getfattr --only-values -n user.blazefs.version c/r.json)" "$good_version" \
		"$1: record version"
	grep -q "c/r.json: write rejected" "$LOG" || fail "$1: no log line"
}

# check_cleared TOOL: a valid write replaces the rejected one.
check_cleared() {
	printf '{"a": 1}\n' > c/r.json || fail "$1: valid write"
	expect_eq "$(cat c/r.json)" '{"a": 1}' "$1: content after a valid write"
	expect_eq "$(jq length .blazefs/errors)" 0 "$1: errors after a valid write"
	expect_eq "$(vv)" "$vv0" "$1: a write of the same content journals nothing"
}

vv0=$(vv)

# echo (coreutils, which reports a failed close of stdout).
out=$(/bin/echo '{"a": ' 2>&1 > c/r.json) && fail "echo: the write succeeded"
case $out in *"Invalid argument"*) ;; *) fail "echo: error was [$out]" ;; esac
check_rejected echo '{"a": '
# The record itself is intact in the database across a remount.
remount
check_rejected "echo, remounted" '{"a": '
mdb_dump -p -s records "$DB" | grep -q '"a": 1' || fail "stored record not intact"
check_cleared echo

# python: close() raises OSError EINVAL.
python3 - "$MNT/c/r.json" <<'PY' || fail "python did not see EINVAL"
import errno, sys
f = open(sys.argv[1], "w")
f.write("[1, 2]")
try:
    f.close()
except OSError as e:
    sys.exit(0 if e.errno == errno.EINVAL else 1)
sys.exit(1)
PY
check_rejected python '[1, 2]'
check_cleared python

# sed -i: its rename over the record fails with EINVAL.
out=$(sed -i 's/"a": 1/"a": /' c/r.json 2>&1) && fail "sed -i succeeded"
case $out in *"Invalid argument"*) ;; *) fail "sed -i: error was [$out]" ;; esac
check_rejected "sed -i" '{"a": }'
rm -f c/sed*
check_cleared "sed -i"

# jq into a temporary file, then mv over the record.
jq -r '"{\"a\": \(.a)"' c/r.json > c/t || fail "jq"
out=$(mv c/t c/r.json 2>&1) && fail "mv of invalid JSON succeeded"
# mv words rename's EINVAL as "a subdirectory of itself".
case $out in *"Invalid argument"* | *"subdirectory of itself"*) ;; *) fail "mv: [$out]" ;; esac
check_rejected "jq + mv" '{"a": 1'
[ -f c/t ] || fail "mv: the scratch file is gone"
rm c/t
check_cleared "jq + mv"

# vim: its fsync fails with EINVAL, so it exits non-zero (-s keeps it quiet).
vim -Es -c '%s/1/1,,/' -c 'wq' c/r.json </dev/null >"$T/vim.out" 2>&1 && fail "vim succeeded"
check_rejected vim '{"a": 1,,}'
check_cleared vim
expect_eq "$(ls -A c)" r.json "files left behind"

#!/bin/bash
# Scratch files (any non-record name in a collection): full local files and
# symlinks, listed after the records, never journalled, surviving a remount,
# and renamed to and from records.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
cd "$MNT" || fail cd
mkdir c || fail mkdir
echo '{"r": 1}' > c/r.json
vv0=$(vv)

printf 'swap' > c/.r.json.swp || fail "swap file"
printf 'not json at all' > c/4913 || fail "4913"
printf 'x' > c/r.json~ || fail "backup file"
ln -s 'user@host.1234' c/.#r.json || fail "emacs lock symlink"
expect_eq "$(readlink c/.#r.json)" 'user@host.1234' "readlink"
expect_eq "$(ls -A c | tr '\n' ' ' )" ".#r.json .r.json.swp 4913 r.json r.json~ " "ls -A"
expect_eq "$(find c -type l)" "c/.#r.json" "find -type l"
# readdir order: records first, then scratch files.
expect_eq "$(python3 -c "import os; print(os.listdir('c')[0])")" r.json "first entry"

# Full file semantics: append, seek, truncate, chmod.
printf 'abc' >> c/4913
expect_eq "$(cat c/4913)" 'not json at allabc' "append to a scratch file"
printf 'Z' | dd of=c/4913 bs=1 seek=1 conv=notrunc status=none
expect_eq "$(head -c 3 c/4913)" 'nZt' "dd into a scratch file"
truncate -s 2 c/4913 && expect_eq "$(cat c/4913)" nZ "truncate a scratch file"
chmod 600 c/4913 && expect_eq "$(stat -c %a c/4913)" 600 "chmod a scratch file"
expect_eq "$(vv)" "$vv0" "version vector after scratch writes"

# rmdir refuses a collection holding only scratch files.
mkdir d && printf 's' > d/.tmp
rmdir d 2>/dev/null && fail "rmdir of a collection with scratch files"
rm d/.tmp && rmdir d || fail "rmdir after removing the scratch file"

# Record -> scratch: the bytes move, the record is deleted.
echo '{"q": 2}' > c/q.json
mv c/q.json c/q.bak || fail "mv record to scratch"
expect_eq "$(cat c/q.bak)" '{"q": 2}' "bytes after record -> scratch"
[ -e c/q.json ] && fail "the record is still there"
# Scratch -> record: a write of the record.
mv c/q.bak c/q2.json || fail "mv scratch to record"
expect_eq "$(cat c/q2.json)" '{"q": 2}' "bytes after scratch -> record"
[ -e c/q.bak ] && fail "the scratch file is still there"
# Scratch -> scratch across collections.
mkdir e && mv c/r.json~ e/moved~ && expect_eq "$(cat e/moved~)" x "scratch across collections"

remount
expect_eq "$(ls -A c | tr '\n' ' ' )" ".#r.json .r.json.swp 4913 q2.json r.json " "ls -A after remount"
expect_eq "$(cat c/.r.json.swp)" swap "scratch file after remount"
expect_eq "$(readlink c/.#r.json)" 'user@host.1234' "symlink after remount"
expect_eq "$(cat e/moved~)" x "moved scratch file after remount"
rm c/.#r.json c/.r.json.swp c/4913 || fail "rm scratch files"
expect_eq "$(ls -A c | tr '\n' ' ' )" "q2.json r.json " "ls -A after rm"
exit 0

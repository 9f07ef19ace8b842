#!/bin/bash
# Coreutils on records and collections: every result checked as a user would.
. "$(dirname "$0")/common.bash"
init_db
mount_fs
cd "$MNT" || fail cd

mkdir bugs || fail "mkdir bugs"
[ -d bugs ] || fail "bugs is not a directory"

# echo > and cat: exact bytes back.
echo '{"title":"crash","n":1}' > bugs/b1.json || fail "echo >"
expect_eq "$(cat bugs/b1.json)" '{"title":"crash","n":1}' "cat after echo"
expect_eq "$(stat -c %s bugs/b1.json)" 24 "stat size"

# cp, then cp -r of a directory of JSON files into a collection.
cp bugs/b1.json bugs/b2.json || fail cp
cmp bugs/b1.json bugs/b2.json || fail "cp copy differs"
src=$T/src
mkdir -p "$src/notes"
for i in 1 2 3; do printf '{"i": %d}\n' "$i" > "$src/notes/n$i.json"; done
cp -r "$src/notes" . || fail "cp -r"
diff -r "$src/notes" notes || fail "cp -r copy differs"

# ls -l lists records with exact sizes; find and grep -r see them.
expect_eq "$(ls notes | tr '\n' ' ')" "n1.json n2.json n3.json " "ls notes"
expect_eq "$(ls -l notes/n2.json | awk '{print $1, $5}')" "-rw-r--r-- 9" "ls -l"
expect_eq "$(find . -name '*.json' -type f | sort | tr '\n' ' ')" \
	"./bugs/b1.json ./bugs/b2.json ./notes/n1.json ./notes/n2.json ./notes/n3.json " "find"
expect_eq "$(grep -rl '"i": 2' . | tr '\n' ' ')" "./notes/n2.json " "grep -r"

# mv within and across collections, and over an existing record.
mv bugs/b2.json bugs/b3.json || fail "mv"
[ ! -e bugs/b2.json ] && [ -f bugs/b3.json ] || fail "mv left the old name"
mv notes/n3.json bugs/n3.json || fail "mv across collections"
expect_eq "$(cat bugs/n3.json)" '{"i": 3}' "moved record"
mv bugs/n3.json bugs/b1.json || fail "mv over an existing record"
expect_eq "$(cat bugs/b1.json)" '{"i": 3}' "record replaced by mv"

# rm, rmdir of a non-empty collection (ENOTEMPTY), then of an empty one.
rm bugs/b3.json || fail rm
[ ! -e bugs/b3.json ] || fail "rm left the record"
out=$(rmdir notes 2>&1) && fail "rmdir of a non-empty collection succeeded"
case $out in *"not empty"*) ;; *) fail "rmdir error: $out" ;; esac
rm notes/*.json && rmdir notes || fail "rmdir of an empty collection"
[ ! -e notes ] || fail "notes still there"

# touch an existing record: accepted, content unchanged.
touch bugs/b1.json || fail "touch"
expect_eq "$(cat bugs/b1.json)" '{"i": 3}' "content after touch"

# tee -a appends (each close is one write of the whole file, so stay valid).
printf '{"a": 1}' > bugs/t.json
echo | tee -a bugs/t.json >/dev/null || fail "tee -a"
expect_eq "$(cat bugs/t.json; echo .)" '{"a": 1}
.' "tee -a result"

# truncate: shrinking to something valid; to empty is a rejected write.
printf '{"a": 12}   ' > bugs/tr.json
truncate -s 9 bugs/tr.json || fail "truncate -s 9"
expect_eq "$(stat -c %s bugs/tr.json)" 9 "size after truncate"
expect_eq "$(cat bugs/tr.json)" '{"a": 12}' "content after truncate"
truncate -s 0 bugs/tr.json
expect_eq "$(stat -c %s bugs/tr.json)" 0 "size after truncate -s 0"
expect_eq "$(jq -r '.[].record' "$MNT/.blazefs/errors")" "tr" "errors after truncate -s 0"
printf '{"a": 13}' > bugs/tr.json || fail "valid write after truncate"
expect_eq "$(jq length "$MNT/.blazefs/errors")" 0 "errors cleared"

# dd at an offset, without truncating.
printf '{"v": 1000}' > bugs/dd.json
printf '7' | dd of=bugs/dd.json bs=1 seek=6 conv=notrunc status=none || fail dd
expect_eq "$(cat bugs/dd.json)" '{"v": 7000}' "dd at an offset"
expect_eq "$(stat -c %s bugs/dd.json)" 11 "size after dd"

# stat: the mtime is recent, the size exact.
now=$(date +%s)
m=$(stat -c %Y bugs/dd.json)
[ $((now - m)) -lt 60 ] || fail "mtime $m is not recent"

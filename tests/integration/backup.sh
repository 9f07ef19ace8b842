# The whole mount copies cleanly (issue 12 item 3): the root lists only what
# it can look up (no internal .devices), so ls -la, find, rsync -a, cp -a and
# tar of the mount exit 0 and copy every collection, record and scratch file.
. "$(dirname "$0")/common.bash"

init_db
mount_fs
mkdir "$MNT/bugs" "$MNT/notes" || fail "mkdir"
echo '{"a": 1, "b": [1, 2]}' >"$MNT/bugs/b-1.json"
echo '{"t": "x"}' >"$MNT/notes/n-1.json"
echo scratch >"$MNT/bugs/todo.txt"
ln -s todo.txt "$MNT/bugs/.#b-1.json" || fail "symlink"

# The root shows exactly what a lookup finds.
names=$(ls -A "$MNT" | tr '\n' ' ')
expect_eq "$names" ".blazefs bugs notes " "root listing"
ls -la "$MNT" >/dev/null || fail "ls -la of the mount"
ls -laR "$MNT" >/dev/null || fail "ls -laR of the mount"
find "$MNT" >"$T/find.out" || fail "find of the mount"
grep -q '/\.devices' "$T/find.out" && fail "find shows .devices"
rsync -a "$MNT/" "$T/rsync/" || fail "rsync -a of the mount: $?"
cp -a "$MNT" "$T/cp" || fail "cp -a of the mount"
tar -C "$MNT" --exclude=./.blazefs -cf "$T/x.tar" . || fail "tar of the mount"
tar -C "$MNT" -cf /dev/null . || fail "tar of the mount with .blazefs"
mkdir "$T/tar" && tar -C "$T/tar" -xf "$T/x.tar" || fail "untar"

# Every copy holds the records, collections and scratch files as read.
for c in rsync cp tar; do
	diff -r --exclude=.blazefs "$MNT" "$T/$c" >&2 || fail "$c copy differs from the mount"
	[ -L "$T/$c/bugs/.#b-1.json" ] || fail "$c copy lost the symlink"
done
cmp -s "$T/rsync/bugs/b-1.json" "$MNT/bugs/b-1.json" || fail "record copied"
echo ok

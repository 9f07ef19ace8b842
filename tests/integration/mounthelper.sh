#!/bin/bash
# mount -t fuse.blazefs and an fstab line, through contrib/mount.fuse.blazefs
# installed as /sbin/mount.fuse.blazefs (removed again if this test put it there).
. "$(dirname "$0")/common.bash"
helper=/sbin/mount.fuse.blazefs
ours=$(cd "$(dirname "$0")/../.." && pwd)/contrib/mount.fuse.blazefs
# An installed helper (an older release's) is set aside for the test's own.
saved=
if [ -e "$helper" ] && ! cmp -s "$helper" "$ours"; then
	saved=$T/mount.fuse.blazefs.installed
	mv "$helper" "$saved" || fail "cannot set $helper aside"
fi
installed=
if [ ! -e "$helper" ]; then
	ln -s "$ours" "$helper" || fail "cannot install $helper"
	installed=1
fi
trap '[ -n "$installed" ] && rm -f "$helper"; [ -n "$saved" ] && mv "$saved" "$helper"; cleanup' EXIT
export BLAZEFS

init_db
mount -t fuse.blazefs -o noatime "$DB" "$MNT" || fail "mount -t fuse.blazefs"
mountpoint -q "$MNT" || fail "not mounted"
expect_eq "$(findmnt -n -o FSTYPE "$MNT")" fuse.blazefs "fstype"
findmnt -n -o OPTIONS "$MNT" | grep -q noatime || fail "noatime not passed on"
mkdir "$MNT/c" && echo '{"h": 1}' > "$MNT/c/h.json" || fail "write"
daemon=$(pgrep -f "mount $DB $MNT") || fail "no daemon"
umount "$MNT" || fail "umount"
for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "the daemon survived umount"

printf '%s %s fuse.blazefs defaults,_netdev,nofail 0 0\n' "$DB" "$MNT" > "$T/fstab"
mount -T "$T/fstab" "$MNT" || fail "mount through an fstab line"
expect_eq "$(cat "$MNT/c/h.json")" '{"h": 1}' "read after an fstab mount"
fusermount3 -u "$MNT" || fail "fusermount3 -u"
mountpoint -q "$MNT" && fail "still mounted"

# blazefs's own options in fstab: listen=, peer=, nomdns.
port=$((20000 + RANDOM % 20000))
printf '%s %s fuse.blazefs listen=127.0.0.1:%s,peer=127.0.0.1:1,nomdns 0 0\n' "$DB" "$MNT" "$port" > "$T/fstab"
mount -T "$T/fstab" "$MNT" || fail "mount through an fstab line with listen= and peer="
"$BLAZEFS" status --json "$DB" | jq -e --arg l "127.0.0.1:$port" \
	'.listen == $l and any(.dialling[]; .port == "1" and .source == "static")' >/dev/null ||
	fail "fstab options not used: $("$BLAZEFS" status --json "$DB" | jq -c '{listen, dialling}')"
fusermount3 -u "$MNT" || fail "fusermount3 -u"

# offline and log-file=: no network at all, the daemon's lines in the file.
printf '%s %s fuse.blazefs offline,log-file=%s 0 0\n' "$DB" "$MNT" "$T/fs.log" > "$T/fstab"
mount -T "$T/fstab" "$MNT" || fail "mount through an fstab line with offline and log-file="
"$BLAZEFS" status --json "$DB" | jq -e '.listen == "none" and (.dialling | length == 0)' >/dev/null ||
	fail "offline not used: $("$BLAZEFS" status --json "$DB" | jq -c '{listen, dialling}')"
grep -q . "$T/fs.log" || fail "log-file= not used: nothing in $T/fs.log"
fusermount3 -u "$MNT" || fail "fusermount3 -u"
exit 0

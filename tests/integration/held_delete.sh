# A record's delete is held back for a grace period (README "Choices"): it
# looks deleted at once, is journalled when the grace ends (or at unmount),
# survives a kill -9 within the grace, and a re-create within the grace is one
# edit (here: of nothing, as the bytes are the same, so no change at all).
. "$(dirname "$0")/common.bash"

seq_of() { jq ".version_vector[\"$ME\"] // 0" "$MNT/.blazefs/status"; }

init_db
mount_fs --no-listen --no-mdns
mkdir "$MNT/c" || fail "mkdir"
for r in a b c d; do echo '{"x": 1, "y": 2}' >"$MNT/c/$r.json" || fail "write $r"; done
ME=$(jq -r .device "$MNT/.blazefs/status")

# a re-create within the grace, with the same fields: no change journalled
s0=$(seq_of)
rm "$MNT/c/a.json" || fail "rm a"
[ -e "$MNT/c/a.json" ] && fail "a still there after rm"
ls "$MNT/c" | grep -q '^a.json$' && fail "a still listed after rm"
echo '{"y": 2, "x": 1}' >"$MNT/c/a.json" || fail "re-create a"
sleep 1.7
expect_eq "$(seq_of)" "$s0" "changes after rm + same re-create"
expect_eq "$(jq -cS . "$MNT/c/a.json")" '{"x":1,"y":2}' "a after the re-create"

# a plain rm is journalled once the grace ends
rm "$MNT/c/b.json" || fail "rm b"
expect_eq "$(seq_of)" "$s0" "changes right after rm (held)"
sleep 1.7
expect_eq "$(seq_of)" "$((s0 + 1))" "changes after the grace"
[ -e "$MNT/c/b.json" ] && fail "b back after the grace"

# an unmount ends the grace
rm "$MNT/c/c.json" || fail "rm c"
remount
expect_eq "$(seq_of)" "$((s0 + 2))" "changes after an unmount within the grace"
[ -e "$MNT/c/c.json" ] && fail "c back after a remount"

# kill -9 within the grace: the delete is not lost (D1)
rm "$MNT/c/d.json" || fail "rm d"
kill -9 "$PID"
wait "$PID" 2>/dev/null
fusermount3 -uz "$MNT"
PID=
mount_fs --no-listen --no-mdns
[ -e "$MNT/c/d.json" ] && fail "d back after a kill -9 within the grace"
expect_eq "$(seq_of)" "$((s0 + 3))" "changes after the restart"
expect_eq "$(ls "$MNT/c" | tr '\n' ' ')" "a.json " "records left"
echo ok

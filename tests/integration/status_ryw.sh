# Status is read-your-writes (issue 12 item 5): right after a write's close()
# returns, .blazefs/status and `blazefs status` (of the mount and of the
# database) show a version vector that includes it; a record that exists only
# as a rejected write is listed with the others.
. "$(dirname "$0")/common.bash"

init_db
mount_fs
mkdir "$MNT/c" || fail "mkdir"
echo '{"i": 0}' >"$MNT/c/r.json" || fail "first write"
me=$(jq -r .device "$MNT/.blazefs/status")
n=$(jq ".version_vector[\"$me\"]" "$MNT/.blazefs/status")
for i in $(seq 1 15); do
	echo "{\"i\": $i}" >"$MNT/c/r.json" || fail "write $i"
	n=$((n + 1))
	expect_eq "$(jq ".version_vector[\"$me\"]" "$MNT/.blazefs/status")" "$n" ".blazefs/status after write $i"
	echo "{\"i\": $i, \"j\": 1}" >"$MNT/c/r.json" || fail "write $i'"
	n=$((n + 1))
	got=$("$BLAZEFS" status --json "$MNT" | jq ".version_vector[\"$me\"]")
	expect_eq "$got" "$n" "blazefs status MNT after write $i'"
	sed -i "s/\"j\": 1/\"j\": 2/" "$MNT/c/r.json" || fail "sed $i"
	n=$((n + 1))
	got=$("$BLAZEFS" status --json "$DB" | jq ".version_vector[\"$me\"]")
	expect_eq "$got" "$n" "blazefs status DB after sed -i $i"
done

# the same with no process start between the close and the read
python3 - "$MNT" "$me" "$BLAZEFS" "$DB" <<'PY' || fail "read-your-writes (above)"
import json, subprocess, sys
m, me, bz, db = sys.argv[1:]
def seq(text):
    return json.loads(text)["version_vector"][me]
n = seq(open(m + "/.blazefs/status").read())
for i in range(40):
    with open(m + "/c/r.json", "w") as f:
        f.write('{"k": %d}' % i)
    n += 1
    got = seq(open(m + "/.blazefs/status").read())
    assert got == n, ".blazefs/status right after close %d: %d, expected %d" % (i, got, n)
    if i % 4 == 0:
        got = seq(subprocess.run([bz, "status", "--json", db], capture_output=True, check=True).stdout)
        assert got == n, "blazefs status right after close %d: %d, expected %d" % (i, got, n)
PY

# rejected-only records read by name and are listed
touch "$MNT/c/new.json" || fail "touch"
echo '{' >"$MNT/c/bad.json"
echo '[1' >"$MNT/c/r.json" # a stored record with a rejected write: listed once
expect_eq "$(ls -U "$MNT/c" | sort | tr '\n' ' ')" "bad.json new.json r.json " "listing"
expect_eq "$(find "$MNT/c" -name '*.json' | wc -l)" 3 "find"
echo ok

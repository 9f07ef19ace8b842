# Every way a tool saves merges by field (issue 12 item 1): device B, offline,
# sets .b on each record while device A saves .a with one save idiom per
# record — jq with its temporary outside the mount and inside it (+ mv), cp,
# cp --remove-destination, rsync (default and --inplace), Python's
# temporary-then-os.replace inside the mount and shutil.move from outside,
# vim with each backupcopy mode, sed -i.  After reconnecting, both edits
# survive on both devices and no conflict is listed.  And rm on A against an
# edit on B keeps B's edit.
. "$(dirname "$0")/sync_lib.bash"

IDIOMS="jqmv_out jqmv_in cp cp_rm rsync rsync_inplace py_replace py_move vim_yes vim_no vim_auto sed"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --no-listen --no-mdns --peer "127.0.0.1:$(port A)"
mkdir "$T/A.mnt/c" "$T/A.mnt/k" "$T/tmp"
for r in $IDIOMS rm; do
	echo '{"a": 1, "b": 2, "c": 3}' >"$T/A.mnt/c/$r.json" || fail "write $r"
done
echo '{"a": 1}' >"$T/A.mnt/k/k.json" || fail "write k"
wait_until 10 same_vv A B || fail "initial sync"

# B goes offline and sets .b everywhere
stop B
start B --offline
for r in $IDIOMS rm; do
	f=$T/B.mnt/c/$r.json
	jq -c '.b = 20' "$f" >"$T/tmp/b" && cat "$T/tmp/b" >"$f" || fail "edit on B of $r"
done

echo '{"a": "from-b"}' >"$T/B.mnt/k/k.json" || fail "edit of k on B"
echo '{"a": "from-a"}' >"$T/A.mnt/k/k.json" || fail "edit of k on A" # a real conflict

# A sets .a with each idiom
cd "$T/A.mnt/c" || fail "cd"
jq '.a = 10' jqmv_out.json >"$T/tmp/t" && mv "$T/tmp/t" jqmv_out.json || fail "jq + mv from outside"
jq '.a = 10' jqmv_in.json >.jq.tmp && mv .jq.tmp jqmv_in.json || fail "jq + mv inside"
jq '.a = 10' cp.json >"$T/tmp/cp" && cp "$T/tmp/cp" cp.json || fail "cp over"
jq '.a = 10' cp_rm.json >"$T/tmp/cp_rm" && cp --remove-destination "$T/tmp/cp_rm" cp_rm.json ||
	fail "cp --remove-destination"
mkdir "$T/tmp/rs" && jq '.a = 10' rsync.json >"$T/tmp/rs/rsync.json" &&
	jq '.a = 10' rsync_inplace.json >"$T/tmp/rs/rsync_inplace.json" || fail "rsync sources"
rsync "$T/tmp/rs/rsync.json" . || fail "rsync"
rsync --inplace "$T/tmp/rs/rsync_inplace.json" . || fail "rsync --inplace"
python3 - "$T/tmp" <<'PY' || fail "python saves"
import json, os, shutil, sys, tempfile
with open("py_replace.json") as f:
    d = json.load(f)
d["a"] = 10
fd, tmp = tempfile.mkstemp(dir=".", prefix=".py_replace.")
with os.fdopen(fd, "w") as f:
    json.dump(d, f)
os.replace(tmp, "py_replace.json")
with open("py_move.json") as f:
    d = json.load(f)
d["a"] = 10
fd, tmp = tempfile.mkstemp(dir=sys.argv[1])
with os.fdopen(fd, "w") as f:
    json.dump(d, f)
shutil.move(tmp, "py_move.json")
PY
for m in yes no auto; do
	vim -Es -u NONE -c "set backupcopy=$m" -c 'set backup' -c '%s/"a": 1,/"a": 10,/' -c wq \
		"vim_$m.json" </dev/null || fail "vim backupcopy=$m exited with $?"
done
sed -i 's/"a": 1,/"a": 10,/' sed.json || fail "sed -i"
rm rm.json || fail "rm"
for r in $IDIOMS; do
	expect_eq "$(jq -c . "$r.json")" '{"a":10,"b":2,"c":3}' "$r on A before the sync"
done
cd / || fail "cd /"

# the held delete goes after its grace, and B comes back
sleep 1.6
stop B
start B --no-listen --no-mdns --peer "127.0.0.1:$(port A)"
wait_until 15 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
for d in A B; do
	for r in $IDIOMS; do
		expect_eq "$(jq -c . "$T/$d.mnt/c/$r.json")" '{"a":10,"b":20,"c":3}' "$r on $d"
	done
	expect_eq "$(jq -c . "$T/$d.mnt/c/rm.json")" '{"b":20}' "rm against an edit, on $d"
	expect_eq "$(jq -c '[.[] | select(.collection != "k")]' "$T/$d.mnt/.blazefs/conflicts")" '[]' "conflicts on $d"
	expect_eq "$(jq -c '[.[].record]' "$T/$d.mnt/.blazefs/conflicts")" '["k"]' "the one real conflict, on $d"
done

# Backups of the two converged mounts exit 0 and differ only in what is local
# (README "Backups"): .blazefs/ and scratch files (vim's backups here).
# (k.json has a conflict: its xattr user.blazefs.conflicts is copied or not.)
for d in A B; do
	rsync -a "$T/$d.mnt/" "$T/copy-$d/" || fail "rsync -a of $d's mount"
	tar -C "$T/$d.mnt" -cf /dev/null . || fail "tar of $d's mount"
	cp -a "$T/$d.mnt" "$T/cp-$d" || fail "cp -a of $d's mount"
done
# Records compare by content: one this device wrote last reads back as
# written (README "Reads").
(cd "$T/copy-A" && find . -path ./.blazefs -prune -o ! -name '*~' -print | sort) >"$T/list-A"
(cd "$T/copy-B" && find . -path ./.blazefs -prune -o ! -name '*~' -print | sort) >"$T/list-B"
diff "$T/list-A" "$T/list-B" >&2 || fail "the copies hold different files"
grep -c '\.json$' "$T/list-A" | grep -qx 14 || fail "records in the copy: $(grep -c '\.json$' "$T/list-A")"
while read -r f; do
	case $f in *.json) same "$T/copy-A/$f" "$T/copy-B/$f" || fail "$f differs in the copies" ;; esac
done <"$T/list-A"

# Online: an edit from B that reaches A within the grace of A's rm wins where
# it differs (the held delete removes only the fields unchanged since).
echo '{"a": 1, "b": 2}' >"$T/A.mnt/c/g.json"
wait_until 10 same "$T/A.mnt/c/g.json" "$T/B.mnt/c/g.json" || fail "g did not sync"
rm "$T/A.mnt/c/g.json" || fail "rm g"
jq -c '.b = 20' "$T/B.mnt/c/g.json" >"$T/tmp/g" && cat "$T/tmp/g" >"$T/B.mnt/c/g.json" || fail "edit g on B"
wait_until 10 same_vv A B || fail "B's edit of g did not reach A"
[ -e "$T/A.mnt/c/g.json" ] && fail "g back on A within the grace"
sleep 1.6
wait_until 10 same_vv A B || fail "no convergence after g's grace"
for d in A B; do
	expect_eq "$(jq -c . "$T/$d.mnt/c/g.json")" '{"b":20}' "g (rm against an edit within the grace) on $d"
done
echo ok

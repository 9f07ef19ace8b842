# A background mount returns only once it serves, or exits non-zero with the
# reason on stderr: the database mounted already, a port taken, a bad --peer,
# a non-empty mountpoint (unless -o nonempty); a failed mount leaves nothing
# mounted.  `umount; mount` of one database works at once.  Every command answers --version.
. "$(dirname "$0")/sync_lib.bash"
# These mounts are the test's own (not sync_lib's): unmounted whatever happens.
trap 'for m in m1 m2 m3; do fusermount3 -uz "$T/$m" 2>/dev/null; done; cleanup' EXIT

"$BLAZEFS" init "$T/A" >/dev/null || fail "init A"
"$BLAZEFS" init "$T/B" >/dev/null || fail "init B"
mkdir -p "$T/m1" "$T/m2" "$T/m3"
port=$(port A)
"$BLAZEFS" mount "$T/A" "$T/m1" --listen "127.0.0.1:$port" --no-mdns 2>"$T/err" ||
	fail "a good mount failed: $(cat "$T/err")"
mountpoint -q "$T/m1" || fail "the mount returned before it served"
[ -s "$T/err" ] && fail "a good mount printed: $(cat "$T/err")"
mkdir "$T/m1/c" && echo '{"a": 1}' >"$T/m1/c/r.json" || fail "cannot write through the new mount"

try() { # WHAT EXPECTED ARGS...: the mount fails, says EXPECTED, leaves nothing
	local what=$1 want=$2 rc
	shift 2
	"$BLAZEFS" mount "$@" 2>"$T/err"
	rc=$?
	[ "$rc" -ne 0 ] || fail "$what: exit status 0"
	grep -q "$want" "$T/err" || fail "$what: said [$(cat "$T/err")], want [$want]"
	mountpoint -q "$T/m2" && fail "$what: left a mount on m2"
	return 0
}
try "mounted already" "mounted already" "$T/A" "$T/m2" --no-listen --no-mdns
try "port taken" "Address already in use" "$T/B" "$T/m2" --listen "127.0.0.1:$port" --no-mdns
try "bad peer" "bad peer address bogus" "$T/B" "$T/m2" --no-listen --peer bogus --no-mdns
touch "$T/m3/x"
"$BLAZEFS" mount "$T/B" "$T/m3" --no-listen --no-mdns 2>"$T/err" && fail "mounted over a non-empty directory"
grep -q "not empty" "$T/err" || fail "non-empty said [$(cat "$T/err")]"
"$BLAZEFS" mount "$T/B" "$T/m3" --no-listen --no-mdns -o nonempty 2>"$T/err" ||
	fail "-o nonempty refused: $(cat "$T/err")"
mountpoint -q "$T/m3" || fail "-o nonempty did not mount"
fusermount3 -u "$T/m3"
# umount returns before the old daemon has closed the database: a mount made
# at once waits for it rather than saying "mounted already".  The old daemon
# is held stopped for a second to make that window certain.
daemon=$(pgrep -f "mount $T/A $T/m1") || fail "no daemon for m1"
kill -STOP "$daemon"
fusermount3 -u "$T/m1" || fail "umount m1"
(sleep 1; kill -CONT "$daemon") &
"$BLAZEFS" mount "$T/A" "$T/m1" --no-listen --no-mdns 2>"$T/err" ||
	fail "mount right after umount: $(cat "$T/err")"
expect_eq "$(cat "$T/m1/c/r.json")" '{"a": 1}' "read after umount; mount"
fusermount3 -u "$T/m1"
# --log-file: the daemon's log lines, there.
"$BLAZEFS" init "$T/C" >/dev/null || fail "init C"
"$BLAZEFS" mount "$T/C" "$T/m1" --no-listen --no-mdns --log-file "$T/a.log" 2>"$T/err" ||
	fail "mount --log-file: $(cat "$T/err")"
wait_until 5 grep -q "network up" "$T/a.log" || fail "nothing in the --log-file"
fusermount3 -u "$T/m1"
for cmd in "" init mount invite join devices status; do
	case $("$BLAZEFS" $cmd --version) in "blazefs "[0-9]*) ;; *) fail "$cmd --version" ;; esac
done
echo "ok"

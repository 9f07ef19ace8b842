# What the kernel caches of a record on B (its entry and attributes, from a
# listing by readdirplus, a stat or a read) is dropped as soon as a change
# from A lands: `ls -l`, stat and cat on B show the new size and bytes right
# away, not after the kernel's cache timeout.  Fails if a remote change does
# not invalidate (fs_observe) or if listings carry stale attributes.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)"
a=$T/A.mnt b=$T/B.mnt

mkdir "$a/c"
for i in $(seq 1 20); do
	printf '{"i":%d}\n' "$i" >"$a/c/r$i.json"
done
wait_until 10 same "$a/c/r20.json" "$b/c/r20.json" || fail "first records A->B"

# size_in_ls FILE: the size `ls -l` of its directory shows for FILE
size_in_ls() {
	ls -l "$(dirname "$1")" | awk -v f="$(basename "$1")" '$NF == f {print $5}'
}

for round in 1 2 3; do
	# B caches entries and attributes of every record (readdirplus), and the
	# bytes of r1 (a read)
	ls -l "$b/c" >/dev/null
	stat "$b/c/r1.json" "$b/c/r2.json" >/dev/null
	cat "$b/c/r1.json" >/dev/null
	old=$(stat -c %s "$b/c/r1.json")
	t0=$(($(date +%s%N) / 1000000))
	# A grows r1 and r2, then writes a marker: once B has the marker it has
	# both edits (one origin's changes apply in order)
	pad=$(printf 'x%.0s' $(seq 1 $((round * 40))))
	printf '{"i":1,"pad":"%s"}\n' "$pad" >"$a/c/r1.json"
	printf '{"i":2,"pad":"%s%s"}\n' "$pad" "$pad" >"$a/c/r2.json"
	echo '{"m":1}' >"$a/c/m$round.json"
	wait_until 10 test -e "$b/c/m$round.json" || fail "round $round: marker A->B"
	echo "round $round: marker after $(($(date +%s%N) / 1000000 - t0)) ms" >&2
	# at once, well within any cache timeout of the listing above
	size=$(stat -c %s "$b/c/r1.json")
	[ "$size" -gt "$old" ] || fail "round $round: stat on B shows r1 at $size bytes, as before ($old)"
	body=$(cat "$b/c/r1.json")
	expect_eq "$(jq -r .pad <<<"$body")" "$pad" "round $round: r1 read on B"
	expect_eq "$size" "$(($(printf '%s' "$body" | wc -c) + 1))" "round $round: r1's size vs its bytes on B"
	expect_eq "$(size_in_ls "$b/c/r1.json")" "$size" "round $round: ls -l of r1 on B"
	expect_eq "$(jq -r .pad "$b/c/r2.json")" "$pad$pad" "round $round: r2 read on B"
	expect_eq "$(size_in_ls "$b/c/r2.json")" "$(stat -c %s "$b/c/r2.json")" "round $round: ls -l of r2 on B"
	expect_eq "$(ls -l "$b/c/r2.json" | awk '{print $5}')" "$(wc -c <"$b/c/r2.json")" "round $round: ls -l r2.json on B"
done
echo "sync_listing: ok"

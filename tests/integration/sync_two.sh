# Two devices on loopback, paired by invite/join: records created, edited,
# renamed and deleted on either side appear on the other; scratch files never
# travel; both report the same version vector; 1000 records A->B are timed.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
pair A B beta
start B --listen "127.0.0.1:$(port B)" --peer "127.0.0.1:$(port A)"
a=$T/A.mnt b=$T/B.mnt

# create on A
mkdir "$a/bugs"
echo '{"title": "crash", "n": 1}' >"$a/bugs/b-1.json"
wait_until 10 same "$a/bugs/b-1.json" "$b/bugs/b-1.json" || fail "create A->B"
expect_eq "$(jq -r .title "$b/bugs/b-1.json")" "crash" "title on B"

# edit on A
echo '{"title": "crash on start", "n": 2}' >"$a/bugs/b-1.json"
wait_until 10 grep -q "crash on start" "$b/bugs/b-1.json" || fail "edit A->B"

# rename on A (mv over a new name)
mv "$a/bugs/b-1.json" "$a/bugs/b-9.json"
wait_until 10 same "$a/bugs/b-9.json" "$b/bugs/b-9.json" || fail "rename A->B"
wait_until 10 gone "$b/bugs/b-1.json" || fail "rename left the old name on B"

# and back: create, edit, delete on B
echo '{"from": "b"}' >"$b/bugs/b-2.json"
wait_until 10 same "$b/bugs/b-2.json" "$a/bugs/b-2.json" || fail "create B->A"
echo '{"from": "b", "more": true}' >"$b/bugs/b-2.json"
wait_until 10 grep -q more "$a/bugs/b-2.json" || fail "edit B->A"
rm "$b/bugs/b-9.json"
wait_until 10 gone "$a/bugs/b-9.json" || fail "delete B->A"

# a collection made on B
mkdir "$b/notes"
wait_until 10 test -d "$a/notes" || fail "mkdir B->A"

# scratch files stay where they are written
echo scratch >"$a/bugs/.b-2.json.swp"
echo '{"after": 1}' >"$a/bugs/b-3.json"
wait_until 10 same "$a/bugs/b-3.json" "$b/bugs/b-3.json" || fail "create A->B after scratch"
[ -e "$b/bugs/.b-2.json.swp" ] && fail "a scratch file travelled"

# convergence: same files, same version vector
wait_until 10 same_vv A B || fail "version vectors differ: $(vv A) vs $(vv B)"
expect_eq "$(cd "$a/bugs" && ls -- *.json | tr '\n' ' ')" "$(cd "$b/bugs" && ls -- *.json | tr '\n' ' ')" "records"

# status shows the peer
lists_alpha() {
	"$BLAZEFS" status --json "$T/B" | jq -e '[.peers[] | select(.name == "alpha" and .state == "syncing")] | length == 1' >/dev/null
}
expect_eq "$("$BLAZEFS" status --json "$b" | jq -r .device)" "$("$BLAZEFS" status --json "$T/B" | jq -r .device)" "status of the mountpoint"
wait_until 5 lists_alpha || fail "status of B does not list alpha: $("$BLAZEFS" status --json "$T/B")"
mount_lists_alpha() {
	jq -e '[.[] | select(.name == "alpha" and .state == "syncing")] | length == 1' "$b/.blazefs/peers" >/dev/null
}
wait_until 5 mount_lists_alpha || fail ".blazefs/peers of B does not list alpha: $(cat "$b/.blazefs/peers")"

# 1000 records A->B, timed until all are readable through B's mount
mkdir "$a/bulk"
t0=$(date +%s%N)
for i in $(seq 1000); do
	echo "{\"i\": $i}" >"$a/bulk/r-$i.json"
done
t1=$(date +%s%N)
wait_until 60 test -f "$b/bulk/r-1000.json" || fail "bulk A->B"
wait_until 60 same_vv A B || fail "bulk: version vectors differ"
t2=$(date +%s%N)
expect_eq "$(ls "$b/bulk" | wc -l)" 1000 "records on B"
# Nothing is left pending to the peer once it has everything.
nothing_pending() {
	[ "$(jq .pending "$a/.blazefs/status")" = 0 ] &&
		[ "$(jq '[.[] | select(.state == "syncing") | .pending] | max' "$a/.blazefs/peers")" = 0 ]
}
wait_until 5 nothing_pending || fail "pending after convergence: $(cat "$a/.blazefs/status" "$a/.blazefs/peers")"
echo "1000 records: written on A in $(((t1 - t0) / 1000000)) ms, all on B after $(((t2 - t0) / 1000000)) ms"

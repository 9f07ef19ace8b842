# Three hosts on one bridge, three devices of one database, no --peer
# anywhere: every device finds the others by mDNS and all three converge on
# the same records and version vectors, whoever wrote them.
. "$(dirname "$0")/netns.bash"

hosts 3
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
start B h2 --listen "$(addr h2):$PORT"
JOIN_HOST=h3 pair A C gamma
start C h3 --listen "$(addr h3):$PORT"

mkdir "$T/A.mnt/notes"
for d in B C; do
	wait_until 20 test -d "$T/$d.mnt/notes" || fail "the collection did not reach $d"
done
for d in A B C; do
	echo "{\"by\": \"$d\"}" >"$T/$d.mnt/notes/$d.json" || fail "write on $d"
done
for d in A B C; do
	for r in A B C; do
		wait_until 20 same "$T/$d.mnt/notes/$r.json" "$T/$r.mnt/notes/$r.json" ||
			fail "$r's record did not reach $d"
	done
done
wait_until 10 same_vv A B || fail "A and B differ: $(vv A) vs $(vv B)"
wait_until 10 same_vv A C || fail "A and C differ: $(vv A) vs $(vv C)"
# Each device found both others (not only the inviter).
found_both() {
	[ "$(jq '[.discovered[]] | length' "$T/$1/peers.json")" -ge 2 ]
}
for d in A B C; do
	wait_until 15 found_both $d ||
		fail "$d did not discover both others: $(jq -c .discovered "$T/$d/peers.json")"
done
echo ok

# Partition: the link goes down, both sides write, the link comes up: the
# devices find each other again and converge with no restart, nothing lost.
. "$(dirname "$0")/netns.bash"

hosts 2
init A alpha
start A h1 --listen "$(addr h1):$PORT"
JOIN_HOST=h2 pair A B beta
start B h2 --listen "$(addr h2):$PORT"
mkdir "$T/A.mnt/n"
echo '{"v": 0}' >"$T/A.mnt/n/zero.json"
wait_until 20 same "$T/A.mnt/n/zero.json" "$T/B.mnt/n/zero.json" || fail "no first sync"

link_down h2
sleep 1
for i in 1 2 3; do
	echo "{\"a\": $i}" >"$T/A.mnt/n/a$i.json"
	echo "{\"b\": $i}" >"$T/B.mnt/n/b$i.json"
done
echo '{"v": "a"}' >"$T/A.mnt/n/zero.json"
sleep 2
[ -e "$T/B.mnt/n/a1.json" ] && fail "a write crossed a link that is down"
link_up h2

for i in 1 2 3; do
	wait_until 40 same "$T/A.mnt/n/b$i.json" "$T/B.mnt/n/b$i.json" || fail "b$i not converged"
	wait_until 10 same "$T/A.mnt/n/a$i.json" "$T/B.mnt/n/a$i.json" || fail "a$i not converged"
done
wait_until 10 same_vv A B || fail "version vectors differ: $(vv A) vs $(vv B)"
same "$T/A.mnt/n/zero.json" "$T/B.mnt/n/zero.json" || fail "zero.json differs"
expect_eq "$(jq -r .v "$T/B.mnt/n/zero.json")" a "the edit made during the partition"

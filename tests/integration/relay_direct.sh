# A relay is a peer like any other: A and B, connected directly and both to
# the relay, sync A's writes directly; B pulls nothing of A's through the
# relay while A is in reach (every change of A's reaches B exactly once,
# summed over its sessions), yet the relay stores them all; with A gone, what
# B writes still reaches the relay, and with A back out of B's reach the two
# sync through the relay.
. "$(dirname "$0")/sync_lib.bash"
. "$(dirname "$0")/relay_lib.bash"

N=200
syncing() { # DEV: its peers in a sync session
	"$BLAZEFS" status --json "$T/$1" | jq '[.peers[] | select(.state == "syncing")] | length'
}
both() { [ "$(syncing A)" = 2 ] && [ "$(syncing B)" = 2 ]; }
received() { # DEV: changes received over all its sessions
	"$BLAZEFS" status --json "$T/$1" | jq '[.peers[].changes_received] | add // 0'
}
own() { # DEV: the seq of its own origin (what it wrote)
	local s
	s=$("$BLAZEFS" status --json "$T/$1") || return 1
	jq -r --arg d "$(jq -r .device <<<"$s")" '.version_vector[$d] // 0' <<<"$s"
}

relay_with_a
start B --listen "127.0.0.1:$(port B)" --no-mdns --peer "127.0.0.1:$(port A)"
a=$T/A.mnt b=$T/B.mnt

wait_until 15 both || fail "not A-B, A-relay and B-relay: A $(syncing A), B $(syncing B)"
mkdir "$a/d"
echo '{"x": 0}' >"$a/d/first.json"
wait_until 10 same_vv A B || fail "first record: $(vv A) vs $(vv B)"
wait_until 10 relay_has A || fail "the relay did not get the first record"
sleep 1
r0=$(received B) o0=$(own A)

for i in $(seq "$N"); do echo "{\"i\": $i}" >"$a/d/r-$i.json"; done
wait_until 20 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
wait_until 10 relay_has A || fail "the relay did not store A's writes ($(relay_changes) of $(total A))"
sleep 1 # what the relay might still forward
made=$(($(own A) - o0)) got=$(($(received B) - r0))
[ "$made" -ge "$N" ] || fail "A made $made changes for $N writes"
[ "$got" = "$made" ] ||
	fail "B received $got changes for $made A made: $(("$got" - "$made")) twice (through the relay)"
both || fail "a session dropped: A $(syncing A), B $(syncing B)"

# A goes: B's write still reaches the relay (B pulls from and sends to it).
stop A
echo '{"y": 1}' >"$b/d/after.json"
wait_until 15 relay_has B || fail "the relay did not get B's write with A gone"
# A comes back out of B's reach (no listener): each now pulls the other's
# origin from the relay, its best source.
start A --no-listen --no-mdns
wait_until 15 same_vv A B || fail "A did not get B's write through the relay: $(vv A) vs $(vv B)"
echo '{"z": 2}' >"$a/d/back.json"
wait_until 15 same "$a/d/back.json" "$b/d/back.json" || fail "B did not get A's write through the relay"
echo "relay_direct: ok ($made changes, $got received by B, $(relay_changes) stored by the relay)"

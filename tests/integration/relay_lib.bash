# Sourced after sync_lib.bash by the tests/integration/relay_*.sh tests: a
# blind relay in $T/R (net/relay.h) on loopback port $(port R), in the
# foreground with its log in $T/R.log, stopped by the EXIT trap.
RELAY_PID=
RELAY_ARGS=()

relay_start() {
	"$BLAZEFS" relay "$T/R" --listen "127.0.0.1:$(port R)" -f "${RELAY_ARGS[@]}" \
		</dev/null >>"$T/R.log" 2>&1 &
	RELAY_PID=$!
	wait_until 5 grep -q "serving" "$T/R.log" || fail "the relay did not come up"
}

relay_stop() {
	[ -n "$RELAY_PID" ] || return 0
	kill "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
	RELAY_PID=
}

trap 'relay_stop; cleanup' EXIT

# relay_with_a: the relay up; A (alpha) mounted, listening and paired with
# it; B (beta) joined through A, not mounted.
relay_with_a() {
	init A alpha
	"$BLAZEFS" relay init "$T/R" >/dev/null || fail "relay init"
	relay_start
	start A --listen "127.0.0.1:$(port A)" --no-mdns
	"$BLAZEFS" relay add "$T/A" "127.0.0.1:$(port R)" >/dev/null || fail "relay add"
	pair A B beta
}

# relay_changes: how many changes the relay stores (all its databases).
relay_changes() {
	python3 - "$T"/R/db/*/changes.log <<'PY'
import struct, sys
n = 0
for path in sys.argv[1:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    off = 0
    while off + 4 <= len(data):
        (l,) = struct.unpack(">I", data[off:off + 4])
        if off + 4 + l > len(data):
            break
        off += 4 + l
        n += 1
print(n)
PY
}

# total DEV: the changes DEV holds (the sum of its version vector).
total() {
	"$BLAZEFS" status --json "$T/$1" | jq '[.version_vector[]] | add // 0'
}

# relay_has DEV: the relay stores at least every change DEV holds.
relay_has() {
	[ "$(relay_changes)" -ge "$(total "$1")" ]
}

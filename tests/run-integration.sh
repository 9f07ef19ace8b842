#!/bin/bash
# Runs every tests/integration/*.sh (or the ones named as arguments) as its
# own test against the binary named by BLAZEFS_BIN (default ./blazefs); prints
# PASS/FAIL per test and a summary.  Ctrl-C (or TERM) stops the test in hand,
# whose EXIT trap unmounts and removes what it made, then stops the run.
cd "$(dirname "$0")/.." || exit 1
BLAZEFS=$(realpath "${BLAZEFS_BIN:-./blazefs}") || exit 1
export BLAZEFS
pass=0
fail=0
child=
stop() {
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"
	echo "interrupted: $pass passed, $fail failed before the stop"
	exit 130
}
trap stop INT TERM
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/integration/*.sh)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$(mktemp)
	start=$(date +%s)
	# In the background so that this shell can take Ctrl-C while it waits;
	# timeout passes the TERM on to the test.
	timeout -k 10 "${TEST_TIMEOUT:-600}" bash "$t" >"$out" 2>&1 &
	child=$!
	if wait "$child"; then
		echo "PASS $name ($(($(date +%s) - start))s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		sed 's/^/    /' "$out"
		fail=$((fail + 1))
	fi
	child=
	rm -f "$out"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

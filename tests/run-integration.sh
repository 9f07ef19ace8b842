#!/bin/sh
# Runs every tests/integration/*.sh as its own test against the binary named by
# BLAZEFS_BIN (default ./blazefs); prints PASS/FAIL per test and a summary.
cd "$(dirname "$0")/.." || exit 1
BLAZEFS=$(realpath "${BLAZEFS_BIN:-./blazefs}") || exit 1
export BLAZEFS
pass=0
fail=0
for t in tests/integration/*.sh; do
	name=$(basename "$t" .sh)
	out=$(mktemp)
	start=$(date +%s)
	if timeout -k 10 "${TEST_TIMEOUT:-600}" bash "$t" >"$out" 2>&1; then
		echo "PASS $name ($(($(date +%s) - start))s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		sed 's/^/    /' "$out"
		fail=$((fail + 1))
	fi
	rm -f "$out"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

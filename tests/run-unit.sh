#!/bin/bash
# Runs every unit test binary (core_*, net_*) in $1 from the repo root (not
# the tools beside them); one line per binary,
# then "N passed, N failed".  Ctrl-C stops the run.
dir=${1:-build/plain/tests}
pass=0 fail=0
trap 'echo "interrupted"; exit 130' INT TERM
for t in "$dir"/core_* "$dir"/net_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	if "$t" >"$t.log" 2>&1; then
		pass=$((pass + 1))
		echo "PASS unit/$name ($(grep -o '[0-9]* test(s)' "$t.log" | tail -1))"
	else
		fail=$((fail + 1))
		echo "FAIL unit/$name"
		sed 's/^/    /' "$t.log" | tail -40
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

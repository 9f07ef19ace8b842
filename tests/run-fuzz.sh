#!/bin/sh
# Runs every libFuzzer target in $1 for $2 seconds each, from its seed corpus
# (tests/fuzz/corpus/<name>) if there is one.  Fails on the first crash.
dir=${1:-build/fuzz} secs=${2:-20}
pass=0 fail=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	work=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	if "$f" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 "$work" \
		>"$dir/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "PASS fuzz/$name ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$name.log" | grep -o '[0-9]*$') runs)"
	else
		fail=$((fail + 1))
		echo "FAIL fuzz/$name"
		tail -30 "$dir/$name.log"
	fi
	rm -rf "$work"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

# blazefs log / export / import / conflicts / resolve, on two devices: the
# log says who changed which field from what to what; export -> import into a
# fresh database -> export is identical; a conflict made by two offline edits
# is listed with both devices' names, and resolve --keep / --value settles it
# on both devices.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta
start B --no-listen --peer "127.0.0.1:$(port A)"
mkdir "$T/A.mnt/c"
echo '{"v": 0, "x": "one", "n": 1.5, "deep": {"a": [1, "é", null]}}' >"$T/A.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "initial sync"
echo '{"v": 0, "x": "two", "n": 1.5, "deep": {"a": [1, "é", null]}}' >"$T/B.mnt/c/r.json"
wait_until 10 same "$T/A.mnt/c/r.json" "$T/B.mnt/c/r.json" || fail "sync of B's edit"
echo '{"k": true}' >"$T/A.mnt/c/other.json"

# log: newest first, B changed x from "one" to "two", A created it.
log=$("$BLAZEFS" log "$T/A" c/r --json) || fail "log exited non-zero"
expect_eq "$(jq -r '.[0].name' <<<"$log")" beta "newest change is beta's"
expect_eq "$(jq -c '.[0].ops | map(select(.field == "x")) | .[0] | [.old, .value]' <<<"$log")" \
	'[["one"],"two"]' "old -> new of x"
expect_eq "$(jq -r '.[-1].name' <<<"$log")" alpha "oldest change is alpha's"
jq -e '.[-1].ops | any(.field == null and .op == "set")' <<<"$log" >/dev/null ||
	fail "creation of c/r not in the log: $log"
jq -e 'all(.[]; all(.ops[]; .record == "r"))' <<<"$log" >/dev/null || fail "log c/r shows other records"
text=$("$BLAZEFS" log "$T/B.mnt" c/r.json) || fail "log on a mountpoint"
grep -q 'beta .*#' <<<"$text" || fail "text log lacks beta: $text"
grep -q 'x: "one" -> "two"' <<<"$text" || fail "text log lacks x's old -> new: $text"
"$BLAZEFS" log "$T/A" | grep -q 'c/other  record created' || fail "full log lacks c/other"

# export -> import into a fresh database -> export again: identical, the
# empty collection too.
mkdir "$T/A.mnt/empty" || fail "mkdir empty"
"$BLAZEFS" export "$T/A" >"$T/dump1.jsonl" || fail "export"
expect_eq "$(wc -l <"$T/dump1.jsonl")" 3 "one line per record and one for the empty collection"
grep -qx '{"collection":"empty"}' "$T/dump1.jsonl" || fail "empty collection not exported"
"$BLAZEFS" init "$T/F" --name fresh >/dev/null || fail "init F"
"$BLAZEFS" import "$T/F" <"$T/dump1.jsonl" 2>/dev/null || fail "import"
"$BLAZEFS" export "$T/F" >"$T/dump2.jsonl" || fail "export of F"
cmp "$T/dump1.jsonl" "$T/dump2.jsonl" || fail "round trip differs: $(diff "$T/dump1.jsonl" "$T/dump2.jsonl")"
jq -se 'map(select(.id == "r"))[0] | .record.deep.a[1] == "é" and .record.n == 1.5' "$T/dump2.jsonl" >/dev/null ||
	fail "values not kept: $(cat "$T/dump2.jsonl")"
# bad lines: reported by number, the rest imported, non-zero exit
printf '%s\n' '{"collection": "d", "id": "ok", "record": {"a": 1}}' 'nope' \
	'{"collection": "d", "id": "x/y", "record": {}}' >"$T/bad.jsonl"
err=$("$BLAZEFS" import "$T/F" <"$T/bad.jsonl" 2>&1) && fail "import of bad lines exited 0"
grep -q "line 2" <<<"$err" && grep -q "line 3" <<<"$err" || fail "no line numbers: $err"
grep -q "line 1:" <<<"$err" && fail "good line reported: $err"
"$BLAZEFS" export "$T/F" | grep -q '"id":"ok"' || fail "good line not imported"
# import into a mounted database is a local write that syncs
echo '{"collection": "c", "id": "imported", "record": {"from": "import"}}' |
	"$BLAZEFS" import "$T/B.mnt" 2>/dev/null || fail "import into B's mount"
wait_until 10 test -e "$T/A.mnt/c/imported.json" || fail "imported record did not sync to A"

# a conflict from two offline edits
stop B
start B --no-listen
echo '{"v": "from-a", "x": "two", "n": 1.5, "deep": {"a": [1, "é", null]}}' >"$T/A.mnt/c/r.json"
echo '{"v": "from-b", "x": "two", "n": 1.5, "deep": {"a": [1, "é", null]}, "w": 1}' >"$T/B.mnt/c/r.json"
stop B
start B --no-listen --peer "127.0.0.1:$(port A)"
wait_until 15 same_vv A B || fail "no convergence: $(vv A) vs $(vv B)"
conf=$("$BLAZEFS" conflicts "$T/A.mnt" --json) || fail "conflicts exited non-zero"
expect_eq "$(jq -c '[.[] | select(.field == "v") | .entries[].name] | sort' <<<"$conf")" \
	'["alpha","beta"]' "both devices named in the conflict"
shown=$(jq -r '.v' "$T/A.mnt/c/r.json")
jq -e --arg s "$shown" '.[0].entries[0] | .shown and .value == $s' <<<"$conf" >/dev/null ||
	fail "the shown value is not marked: $conf"
"$BLAZEFS" conflicts "$T/B" | grep -q '^  \* ' || fail "text conflicts lack the winner mark"
# keep the value that shows: a plain write of it would be no change
case $shown in from-a) keep=alpha ;; *) keep=beta ;; esac
"$BLAZEFS" resolve "$T/A.mnt/c/r.json" v --keep "$keep" >/dev/null || fail "resolve --keep"
for d in A B; do
	wait_until 10 sh -c "'$BLAZEFS' conflicts '$T/$d' --json | jq -e 'length == 0' >/dev/null" ||
		fail "conflict still on $d after --keep: $("$BLAZEFS" conflicts "$T/$d")"
	expect_eq "$(jq -r .v "$T/$d.mnt/c/r.json")" "$shown" "kept value on $d"
done
expect_eq "$(jq -r .w "$T/A.mnt/c/r.json")" 1 "B's other field kept"
"$BLAZEFS" resolve "$T/A.mnt/c/r.json" v --keep "$keep" 2>/dev/null && fail "resolve without a conflict exited 0"

# again, settled with --value from B's side
stop B
start B --no-listen
echo '{"v": "a2", "x": "two", "n": 1.5, "deep": {"a": [1, "é", null]}, "w": 1}' >"$T/A.mnt/c/r.json"
echo '{"v": "b2", "x": "two", "n": 1.5, "deep": {"a": [1, "é", null]}, "w": 1}' >"$T/B.mnt/c/r.json"
stop B
start B --no-listen --peer "127.0.0.1:$(port A)"
wait_until 15 same_vv A B || fail "no convergence (2)"
wait_until 5 sh -c "'$BLAZEFS' conflicts '$T/B' --json | jq -e 'length == 1' >/dev/null" ||
	fail "second conflict not listed: $("$BLAZEFS" conflicts "$T/B")"
"$BLAZEFS" resolve "$T/B.mnt/c/r.json" v --value '{"merged": [1, 2]}' >/dev/null || fail "resolve --value"
for d in A B; do
	wait_until 10 sh -c "'$BLAZEFS' conflicts '$T/$d' --json | jq -e 'length == 0' >/dev/null" ||
		fail "conflict still on $d after --value"
	wait_until 5 sh -c "jq -e '.v == {\"merged\": [1, 2]}' '$T/$d.mnt/c/r.json' >/dev/null" ||
		fail "value on $d: $(cat "$T/$d.mnt/c/r.json")"
done
# the resolve's log entry: both values it settled -> the new one
expect_eq "$("$BLAZEFS" log "$T/A" c/r --json | jq -c '.[0].ops[0] | [(.old | sort), .value]')" \
	'[["a2","b2"],{"merged":[1,2]}]' "log of the resolve"
"$BLAZEFS" log "$T/A" c/r | grep -Eq 'v: "(a2" \| "b2|b2" \| "a2)" -> \{"merged":\[1,2\]\}' ||
	fail "text log of the resolve: $("$BLAZEFS" log "$T/A" c/r)"
echo PASS

# Short join codes (CPace, issue 13 item 4): invite prints a code a person can
# type and the command for the other device; a join with it works once; a
# wrong guess fails with its own message AND burns the invite, so the right
# code then fails too; an expired, a replaced or a missing invite each say
# so; a port that is no blazefs says so; invite --wait reports the outcome;
# the long code (--long) still works.
. "$(dirname "$0")/sync_lib.bash"

init A alpha
start A --listen "127.0.0.1:$(port A)" --no-mdns
peer=127.0.0.1:$(port A)

# the code and the command
code=$("$BLAZEFS" invite "$T/A" 2>"$T/inv.err") || fail "invite"
[[ $code =~ ^[0-9]{1,2}(-[a-z]+){3}$ ]] || fail "not a short code: [$code]"
grep -qF "join $T/A $code --peer $peer" "$T/inv.err" || fail "no command: $(cat "$T/inv.err")"

# any case, spaces for dashes: the right code joins, and A logs it
typed=$(echo "$code" | tr 'a-z-' 'A-Z ')
"$BLAZEFS" join "$T/B" "$typed" --name beta --peer "$peer" >/dev/null 2>"$T/err" ||
	fail "right short code refused: $(cat "$T/err")"
[ -f "$T/B/content.key" ] || fail "no content key after join"
grep -q "(beta) joined" "$T/A.log" || fail "A did not log the join"
# used
"$BLAZEFS" join "$T/X1" "$code" --peer "$peer" 2>"$T/err" && fail "used code accepted"
grep -q "already used" "$T/err" || fail "used code said: $(cat "$T/err")"

# a wrong guess: its message, the invite burnt, the right code refused after it
code=$("$BLAZEFS" invite "$T/A" 2>/dev/null) || fail "invite"
set -- ${code//-/ }
w=$1-$2-$3-$4
[ "$4" = able ] && wrong=$1-$2-$3-acid || wrong=$1-$2-$3-able
"$BLAZEFS" join "$T/X2" "$wrong" --peer "$peer" 2>"$T/err" && fail "wrong code accepted"
grep -q "wrong code, and the invite is burnt" "$T/err" || fail "wrong code said: $(cat "$T/err")"
[ -e "$T/X2" ] && fail "a database was made"
for _ in $(seq 50); do grep -q "a wrong join code was tried: the invite is burnt" "$T/A.log" && break; sleep 0.1; done
grep -q "a wrong join code was tried: the invite is burnt" "$T/A.log" || fail "A did not log the burn"
"$BLAZEFS" join "$T/X3" "$w" --peer "$peer" 2>"$T/err" && fail "right code accepted after a wrong guess"
grep -q "burnt by a wrong guess" "$T/err" || fail "burnt code said: $(cat "$T/err")"
[ -e "$T/X3" ] && fail "a database was made"

# replaced by a newer invite (the newer one is not burnt by the old code)
old=$("$BLAZEFS" invite "$T/A" 2>/dev/null) || fail "invite"
new=$("$BLAZEFS" invite "$T/A" 2>/dev/null) || fail "invite"
"$BLAZEFS" join "$T/X4" "$old" --peer "$peer" 2>"$T/err" && fail "replaced code accepted"
grep -q "newer invite replaced it" "$T/err" || fail "replaced code said: $(cat "$T/err")"

# expired
code=$("$BLAZEFS" invite "$T/A" --ttl 0 2>/dev/null) || fail "invite"
sleep 0.1
"$BLAZEFS" join "$T/X5" "$code" --peer "$peer" 2>"$T/err" && fail "expired code accepted"
grep -q "expired" "$T/err" || fail "expired code said: $(cat "$T/err")"
[ -e "$T/X5" ] && fail "a database was made"

# not a blazefs port: something that answers with other bytes
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(30)
open(sys.argv[2], "w").close()
c, _ = s.accept(); c.sendall(b"SSH-2.0-OpenSSH\r\n"); c.recv(100); c.close()' "$(port Z)" "$T/fake.ready" &
fake=$!
wait_until 10 test -e "$T/fake.ready" || fail "the fake server did not start"
"$BLAZEFS" join "$T/X6" "$new" --peer "127.0.0.1:$(port Z)" 2>"$T/err" && fail "joined a non-blazefs port"
grep -q "no blazefs answered" "$T/err" || fail "non-blazefs port said: $(cat "$T/err")"
wait "$fake"

# invite --wait returns once a device joined (0), or the code was burnt (1)
"$BLAZEFS" invite "$T/A" --wait >"$T/code" 2>"$T/wait.err" &
waiter=$!
for _ in $(seq 50); do [ -s "$T/code" ] && break; sleep 0.1; done
"$BLAZEFS" join "$T/D" "$(cat "$T/code")" --name delta --peer "$peer" >/dev/null 2>"$T/err" ||
	fail "join while invite waits [$(cat "$T/code")] [$(cat "$T/wait.err")]: $(cat "$T/err")"
wait "$waiter" || fail "invite --wait failed after a join: $(cat "$T/wait.err")"
grep -q "a device joined" "$T/wait.err" || fail "invite --wait said: $(cat "$T/wait.err")"
"$BLAZEFS" invite "$T/A" --wait >"$T/code" 2>"$T/wait.err" &
waiter=$!
for _ in $(seq 50); do [ -s "$T/code" ] && break; sleep 0.1; done
set -- $(tr '-' ' ' <"$T/code")
[ "$4" = able ] && wrong=$1-$2-$3-acid || wrong=$1-$2-$3-able
"$BLAZEFS" join "$T/X7" "$wrong" --peer "$peer" 2>/dev/null && fail "wrong code accepted"
wait "$waiter" && fail "invite --wait succeeded after a wrong guess"
grep -q "the invite is burnt" "$T/wait.err" || fail "invite --wait said: $(cat "$T/wait.err")"

# --long still works, for scripts (the code holds the address)
code=$("$BLAZEFS" invite "$T/A" --long 2>/dev/null) || fail "invite --long"
[[ $code =~ ^[0-9a-f]{64}@ ]] || fail "not a long code: [$code]"
"$BLAZEFS" join "$T/C" "$code" --name gamma >/dev/null 2>"$T/err" ||
	fail "long code refused: $(cat "$T/err")"
[ -f "$T/C/content.key" ] || fail "no content key after the long join"
exit 0

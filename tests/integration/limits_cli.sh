# The small limits of issue 11: invite --ttl is whole seconds up to 7 days
# (anything else a clear error), a database directory that exists is made
# 0700 by init, and DB/peers.json (peers' addresses and names) is 0600.
. "$(dirname "$0")/sync_lib.bash"

mkdir -m 0755 "$T/A"
init A alpha
expect_eq "$(stat -c %a "$T/A")" 700 "mode of an existing directory after init"
umask 022
start A --listen "127.0.0.1:$(port A)" --no-mdns
wait_until 5 test -f "$T/A/peers.json" || fail "no peers.json"
expect_eq "$(stat -c %a "$T/A/peers.json")" 600 "mode of peers.json"

for bad in abc 10x -1 604801 99999999999999999999 ""; do
	"$BLAZEFS" invite "$T/A" --ttl "$bad" >/dev/null 2>"$T/err" && fail "--ttl '$bad' accepted"
	grep -q "want a number of seconds" "$T/err" || fail "--ttl '$bad': unclear error: $(cat "$T/err")"
done
"$BLAZEFS" invite "$T/A" --ttl 604800 >/dev/null || fail "--ttl of 7 days refused"
"$BLAZEFS" invite "$T/A" --ttl 60 >/dev/null || fail "--ttl 60 refused"
exit 0

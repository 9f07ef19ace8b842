# Mixed hardware: a device without AES-NI (BLAZEFS_NO_AESNI=1, the test knob)
# and one with it sync, whichever of them dials, and both say ChaChaPoly in
# status; two devices with AES-NI (if this CPU has it) say AESGCM.
. "$(dirname "$0")/sync_lib.bash"

# suites DEV: the suites of DEV's syncing peers, sorted, one per line.
suites() {
	"$BLAZEFS" status --json "$T/$1" | jq -r '.peers[] | select(.state == "syncing") | .suite' | sort -u
}
syncing() {
	[ "$("$BLAZEFS" status --json "$T/$1" | jq '[.peers[] | select(.state == "syncing")] | length')" -ge 1 ]
}

init A alpha
start A --listen "127.0.0.1:$(port A)"
pair A B beta

# 1. The listener has no AES-NI, the dialler has it.
stop A
START_ENV="BLAZEFS_NO_AESNI=1" start A --listen "127.0.0.1:$(port A)"
start B --no-listen --peer "127.0.0.1:$(port A)"
mkdir "$T/B.mnt/n"
echo '{"k": 1}' >"$T/B.mnt/n/r.json"
wait_until 15 same "$T/B.mnt/n/r.json" "$T/A.mnt/n/r.json" || fail "no sync: listener without AES-NI"
wait_until 5 syncing A || fail "A has no session"
wait_until 5 syncing B || fail "B has no session"
expect_eq "$(suites A)" ChaChaPoly "suite on A (no AES-NI, listening)"
expect_eq "$(suites B)" ChaChaPoly "suite on B (AES-NI, dialling)"
stop B
stop A

# 2. The reverse: the dialler has no AES-NI.
start A --listen "127.0.0.1:$(port A)"
START_ENV="BLAZEFS_NO_AESNI=1" start B --no-listen --peer "127.0.0.1:$(port A)"
echo '{"k": 2}' >"$T/A.mnt/n/r.json"
wait_until 15 same "$T/B.mnt/n/r.json" "$T/A.mnt/n/r.json" || fail "no sync: dialler without AES-NI"
wait_until 5 syncing A || fail "A has no session"
wait_until 5 syncing B || fail "B has no session"
expect_eq "$(suites A)" ChaChaPoly "suite on A (AES-NI, listening)"
expect_eq "$(suites B)" ChaChaPoly "suite on B (no AES-NI, dialling)"
stop B

# 3. Both with AES-NI: AESGCM, if this CPU has it.
if grep -qw aes /proc/cpuinfo; then
	start B --no-listen --peer "127.0.0.1:$(port A)"
	wait_until 15 syncing B || fail "B has no session"
	expect_eq "$(suites B)" AESGCM "suite on B (both with AES-NI)"
	expect_eq "$(suites A)" AESGCM "suite on A (both with AES-NI)"
else
	echo "no AES-NI here: the AESGCM case is skipped"
fi
# The dialler without AES-NI never logged a failed handshake.
grep -q "handshake or decryption failed" "$T/A.log" "$T/B.log" && fail "a handshake failed"
exit 0

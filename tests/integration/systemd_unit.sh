#!/bin/bash
# contrib/blazefs@.service from a test root: the unit is valid (systemd-analyze
# verify, where installed), and its commands, run as systemd would for
# blazefs@notes (%i = notes, $BLAZEFS_OPTS from /etc/default/blazefs) with
# / moved under a test root, mount /var/lib/blazefs/notes on
# /srv/blazefs/notes as its comment says, stay in the foreground (Type=simple)
# and stop cleanly on ExecStop.
. "$(dirname "$0")/common.bash"
unit=$(cd "$(dirname "$0")/../.." && pwd)/contrib/blazefs@.service
root=$T/root
MNT=$root/srv/blazefs/notes # cleanup() unmounts it whatever happens

if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units"
	cp "$unit" "$T/units/"
	ln -s "blazefs@.service" "$T/units/blazefs@notes.service"
	# Only the unit's own findings count: a container has no sysinit.target,
	# and blazefs may not be installed yet (its command is run below).
	out=$(cd "$T/units" && systemd-analyze verify "$T/units/blazefs@notes.service" 2>&1 |
		grep -v 'sysinit.target\|Failed to create .*/start\|/usr/local/bin/blazefs is not executable')
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
fi

# The unit's line KEY=..., with systemd's expansion done for instance
# "notes" and the system paths moved under the test root.
line() {
	local v
	v=$(sed -n "s/^$1=//p" "$unit") || fail "no $1 in the unit"
	[ -n "$v" ] || fail "no $1= line in the unit"
	v=${v//%i/notes}
	v=${v//%I/notes}
	v=${v//\/usr\/local\/bin\/blazefs/$BLAZEFS}
	v=${v//\/var\/lib\/blazefs/$root\/var\/lib\/blazefs}
	v=${v//\/srv\/blazefs/$root\/srv\/blazefs}
	v=${v//\/etc\/default/$root\/etc\/default}
	echo "$v"
}

mkdir -p "$root/var/lib/blazefs" "$root/etc/default"
"$BLAZEFS" init "$root/var/lib/blazefs/notes" --name server >/dev/null || fail "init"
port=$((20000 + RANDOM % 20000))
echo "BLAZEFS_OPTS=\"--no-mdns --listen 127.0.0.1:$port\"" >"$root/etc/default/blazefs"
envfile=$(line EnvironmentFile)
envfile=${envfile#-}
# systemd reads the environment file and splits $BLAZEFS_OPTS on blanks.
# shellcheck disable=SC1090
. "$envfile" || fail "EnvironmentFile $envfile"
# shellcheck disable=SC2046
eval "set -- $(line ExecStartPre)" && "$@" || fail "ExecStartPre: $*"
# shellcheck disable=SC2086
eval "set -- $(line ExecStart | sed 's/\$BLAZEFS_OPTS//')" && "$@" $BLAZEFS_OPTS 2>"$LOG" &
PID=$!
for _ in $(seq 100); do
	mountpoint -q "$MNT" && break
	kill -0 "$PID" 2>/dev/null || fail "ExecStart exited: $(cat "$LOG")"
	sleep 0.1
done
mountpoint -q "$MNT" || fail "nothing mounted at /srv/blazefs/notes: $(findmnt -n -t fuse.blazefs)"
mkdir "$MNT/c" && echo '{"a": 1}' >"$MNT/c/r.json" || fail "write through the unit's mount"
expect_eq "$("$BLAZEFS" export "$root/var/lib/blazefs/notes" | jq -c .)" \
	'{"collection":"c","id":"r","record":{"a":1}}' "the record in /var/lib/blazefs/notes"
"$BLAZEFS" status --json "$MNT" | jq -e --arg l "127.0.0.1:$port" '.listen == $l' >/dev/null ||
	fail "BLAZEFS_OPTS not used: $("$BLAZEFS" status --json "$MNT" | jq -c .listen)"
sleep 0.3
kill -0 "$PID" 2>/dev/null || fail "ExecStart left the foreground (Type=simple would restart it)"
eval "set -- $(line ExecStop)" && "$@" || fail "ExecStop: $*"
wait "$PID" || fail "the service exited with status $? after ExecStop"
PID=
mountpoint -q "$MNT" && fail "still mounted after ExecStop"
exit 0

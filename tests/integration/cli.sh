#!/bin/bash
# blazefs init and mount: identity files, clear errors for a missing database,
# a missing or busy mountpoint, background mounts and clean shutdowns.
. "$(dirname "$0")/common.bash"

dev=$("$BLAZEFS" init "$DB" --name laptop) || fail "init"
[[ $dev =~ ^[a-z2-7]{13}$ ]] || fail "init printed [$dev], not a device id"
expect_eq "$(stat -c %a "$DB")" 700 "database directory mode"
expect_eq "$(stat -c '%a %s' "$DB/device.key")" "600 64" "device.key"
expect_eq "$(stat -c '%a %s' "$DB/content.key")" "600 32" "content.key"
# The device is the database's first member, with its priority.
expect_eq "$("$BLAZEFS" status --json "$DB" | jq -c '[.devices[] | [.device, .name, .priority]]')" \
	"[[\"$dev\",\"laptop\",0]]" "devices after init"
"$BLAZEFS" init "$T/prio" --name server --priority 7 >/dev/null || fail "init --priority"
expect_eq "$("$BLAZEFS" status --json "$T/prio" | jq '.devices[0].priority')" 7 "init --priority"
out=$("$BLAZEFS" init "$T/bad" --priority high 2>&1) && fail "init --priority high succeeded"
case $out in *"integer"*) ;; *) fail "init --priority high said [$out]" ;; esac
out=$("$BLAZEFS" init "$DB" 2>&1) && fail "a second init succeeded"
case $out in *"already"*) ;; *) fail "second init said [$out]" ;; esac

# Missing database, missing mountpoint: a message and a non-zero exit.
out=$("$BLAZEFS" mount "$T/nodb" "$MNT" 2>&1) && fail "mount of a missing database succeeded"
case $out in *"no blazefs database"*) ;; *) fail "missing database: [$out]" ;; esac
out=$("$BLAZEFS" mount "$DB" "$T/nomnt" 2>&1) && fail "mount on a missing mountpoint succeeded"
case $out in *"does not exist"*) ;; *) fail "missing mountpoint: [$out]" ;; esac
out=$("$BLAZEFS" mount "$DB" 2>&1) && fail "mount without a mountpoint succeeded"
case $out in *"Usage"*) ;; *) fail "usage: [$out]" ;; esac

# No /dev/fuse (a private mount namespace with an empty /dev).
out=$(unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" mount "$1" "$2"' \
	"$BLAZEFS" "$DB" "$MNT" 2>&1) && fail "mount without /dev/fuse succeeded"
case $out in *"/dev/fuse"*) ;; *) fail "no /dev/fuse: [$out]" ;; esac

# Foreground mount: the status names this device; SIGTERM unmounts cleanly.
mount_fs
expect_eq "$(jq -r .device "$MNT/.blazefs/status")" "$dev" "status device"
expect_eq "$(jq -r .name "$MNT/.blazefs/status")" laptop "status name"
expect_eq "$(findmnt -n -o FSTYPE,SOURCE "$MNT")" "fuse.blazefs blazefs:$DB" "mount table"

# Busy: something already mounted there.
out=$("$BLAZEFS" mount "$DB" "$MNT" 2>&1) && fail "a second mount succeeded"
case $out in *"busy"*) ;; *) fail "busy mountpoint: [$out]" ;; esac

mkdir "$MNT/c" && echo '{"x": 1}' > "$MNT/c/r.json" || fail "write"
kill -TERM "$PID"
wait "$PID" || fail "SIGTERM: exit status $?"
PID=
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"

# A non-interactive shell starts background jobs with SIGINT ignored.
env --default-signal=INT "$BLAZEFS" mount "$DB" "$MNT" -f 2>>"$LOG" &
PID=$!
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
kill -INT "$PID"
wait "$PID" || fail "SIGINT: exit status $?"
PID=
mountpoint -q "$MNT" && fail "still mounted after SIGINT"

# Background mount (daemonized): works, and fusermount3 -u stops the daemon.
"$BLAZEFS" mount "$DB" "$MNT" || fail "background mount"
mountpoint -q "$MNT" || fail "background mount is not mounted"
expect_eq "$(cat "$MNT/c/r.json")" '{"x": 1}' "read through the background mount"
daemon=$(pgrep -f "mount $DB $MNT") || fail "no daemon"
fusermount3 -u "$MNT" || fail "fusermount3 -u"
for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "the daemon survived fusermount3 -u"
exit 0

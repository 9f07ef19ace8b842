# Sourced by the tests/integration/mdns_*.sh tests (and bench/mdns.sh): hosts
# as network namespaces on one bridge, each with its own dbus-daemon and
# avahi-daemon, and blazefs devices mounted inside them.  Every
# namespace, daemon and mount is made by the test and removed by the EXIT trap,
# even when the test fails.  Addresses 10.77.0.N exist only inside them.
#
#   hosts N            namespaces h1..hN on a bridge; avahi up in each
#   start DEV HOST [mount options...]   mount $T/DEV on $T/DEV.mnt in HOST
#   stop DEV           unmount (kill after 5 s)
#   in_host HOST CMD   run CMD in HOST's network namespace, with its bus
#   avahi_stop HOST / avahi_start HOST
#   link_down HOST / link_up HOST
set -u
BLAZEFS=${BLAZEFS:-$(realpath "${BLAZEFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/blazefs}")}
T=$(mktemp -d /tmp/blazefs-mdns.XXXXXX)
export HOME=$T/home
mkdir -p "$HOME"
NS=bzf$$          # namespace prefix: ${NS}h1, ${NS}h2, ..., ${NS}br
NHOSTS=0
PORT=7717
declare -A PIDS=()     # device -> mount pid
declare -A AVAHI=()    # host -> avahi-daemon pid
declare -A DBUS=()     # host -> dbus-daemon pid

for tool in ip nsenter unshare dbus-daemon avahi-daemon jq; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (make deps)" >&2; exit 1; }
done

cleanup() {
	cd /
	for d in "${!PIDS[@]}"; do
		stop "$d"
	done
	for h in "${!AVAHI[@]}"; do
		avahi_stop "$h"
	done
	for h in "${!DBUS[@]}"; do
		kill "${DBUS[$h]}" 2>/dev/null
	done
	for i in $(seq "$NHOSTS"); do
		ip netns del "${NS}h$i" 2>/dev/null
	done
	ip netns del "${NS}br" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log "$T"/h*/avahi.log; do
		[ -s "$f" ] && { echo "--- $f:" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}

. "$(dirname "${BASH_SOURCE[0]}")/devices.bash"

# addr HOST: the address of host hN.
addr() {
	echo "10.77.0.${1#h}"
}

bus() {
	echo "unix:path=$T/$1/bus"
}

in_host() {
	local h=$1
	shift
	DBUS_SYSTEM_BUS_ADDRESS=$(bus "$h") nsenter --net="/run/netns/${NS}$h" "$@"
}

# hosts N: namespaces h1..hN, each with a veth "eth0" into one bridge.
hosts() {
	local i h
	ip netns add "${NS}br" || fail "ip netns add (are you root?)"
	ip -n "${NS}br" link add br0 type bridge || fail "bridge"
	ip -n "${NS}br" link set br0 up
	for i in $(seq "$1"); do
		h=h$i
		ip netns add "${NS}$h" || fail "ip netns add $h"
		NHOSTS=$i
		ip -n "${NS}$h" link add eth0 type veth peer name p$i netns "${NS}br" || fail "veth $h"
		ip -n "${NS}br" link set p$i master br0 up
		ip -n "${NS}$h" addr add "$(addr $h)/24" dev eth0
		ip -n "${NS}$h" link set lo up
		ip -n "${NS}$h" link set eth0 up
		mkdir -p "$T/$h/run"
		dbus_start "$h"
		avahi_start "$h"
	done
}

dbus_start() {
	local h=$1
	cat >"$T/$h/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/$h/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOF
	DBUS[$h]=$(nsenter --net="/run/netns/${NS}$h" dbus-daemon --config-file="$T/$h/dbus.conf" \
		--fork --print-pid) || fail "dbus-daemon in $h"
	wait_until 5 test -S "$T/$h/bus" || fail "no bus in $h"
}

# avahi_start HOST: a daemon on HOST's eth0 only; waits until it owns its name.
avahi_start() {
	local h=$1
	cat >"$T/$h/avahi.conf" <<EOF
[server]
host-name=$h-$$
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
EOF
	# A private /run (pid file, socket) through a bind mount in its own mount
	# namespace.  That namespace starts as a copy of ours: detach the FUSE
	# mounts it copied, or it would keep them alive after their unmount here.
	DBUS_SYSTEM_BUS_ADDRESS=$(bus "$h") nsenter --net="/run/netns/${NS}$h" unshare -m \
		sh -c 'awk '\''$3 ~ /^fuse/ { print $2 }'\'' /proc/self/mounts | while read -r m; do umount -l "$m"; done
			mount --bind "$1" /run && exec avahi-daemon -f "$2" --no-chroot --no-drop-root --no-rlimits' \
		sh "$T/$h/run" "$T/$h/avahi.conf" >>"$T/$h/avahi.log" 2>&1 &
	AVAHI[$h]=$!
	wait_until 10 avahi_up "$h" || fail "avahi-daemon did not come up in $h"
}

avahi_up() {
	kill -0 "${AVAHI[$1]}" 2>/dev/null &&
		in_host "$1" dbus-send --system --print-reply --dest=org.freedesktop.Avahi / \
			org.freedesktop.Avahi.Server.GetState >/dev/null 2>&1
}

avahi_stop() {
	local h=$1 pid=${AVAHI[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "AVAHI[$h]"
}

link_down() {
	ip -n "${NS}$1" link set eth0 down
}

link_up() {
	ip -n "${NS}$1" link set eth0 up
}

# start DEV HOST [mount options...]: mounts $T/DEV on $T/DEV.mnt inside HOST
# (network namespace only: the mount shows in the test's tree).
start() {
	local d=$1 h=$2
	shift 2
	mkdir -p "$T/$d.mnt"
	echo "$h" >"$T/$d.host"
	# A simple command (not a function): $! is the mount itself.
	DBUS_SYSTEM_BUS_ADDRESS=$(bus "$h") nsenter --net="/run/netns/${NS}$h" \
		"$BLAZEFS" mount "$T/$d" "$T/$d.mnt" -f "$@" </dev/null >>"$T/$d.log" 2>&1 &
	PIDS[$d]=$!
	for _ in $(seq 100); do
		mountpoint -q "$T/$d.mnt" && return 0
		kill -0 "${PIDS[$d]}" 2>/dev/null || fail "mount of $d exited early"
		sleep 0.05
	done
	fail "mount of $d did not come up"
}

# pair INVITER JOINER NAME [join options]: the inviter is mounted on its host;
# the joiner joins from JOINER_HOST (env, default h2) by mDNS (no --peer).
pair() {
	local code
	code=$("$BLAZEFS" invite "$T/$1" 2>/dev/null) || fail "invite on $1"
	in_host "${JOIN_HOST:-h2}" "$BLAZEFS" join "$T/$2" "${code%@*}" --name "$3" "${@:4}" \
		>/dev/null 2>"$T/join.err" || fail "join $2 via $1: $(cat "$T/join.err")"
}

# peers_of DEV: the device ids DEV is in sync session with.
peers_of() {
	jq -r '.peers[] | select(.state == "syncing") | .device' "$T/$1/peers.json" 2>/dev/null | sort
}

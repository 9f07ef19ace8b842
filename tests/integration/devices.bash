# Sourced by sync_lib.bash and netns.bash: helpers for tests that run several
# devices ($T/DEV databases mounted on $T/DEV.mnt, pids in PIDS, fail defined).

expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got [$1], expected [$2]"
}

# wait_until SECONDS COMMAND...: polls every 50 ms; 0 once COMMAND succeeds.
wait_until() {
	local n=$(($1 * 20))
	shift
	for _ in $(seq "$n"); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

stop() {
	local d=$1 pid=${PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	fusermount3 -u "$T/$d.mnt" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "warning: $d did not exit within 5 s of its unmount: killed" >&2
		kill -9 "$pid" 2>/dev/null
		fusermount3 -uz "$T/$d.mnt" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "PIDS[$d]"
}

# init DEV NAME: a new database.
init() {
	"$BLAZEFS" init "$T/$1" --name "$2" >/dev/null || fail "init $1"
}

same() {
	[ -f "$1" ] && [ -f "$2" ] && [ "$(jq -cS . "$1")" = "$(jq -cS . "$2")" ]
}

vv() {
	"$BLAZEFS" status --json "$T/$1" | jq -cS .version_vector
}

same_vv() {
	[ "$(vv "$1")" = "$(vv "$2")" ]
}

# has_role DEV NAME ROLE: DEV knows the member named NAME has ROLE.
has_role() {
	"$BLAZEFS" devices "$T/$1" --json |
		jq -e --arg n "$2" --arg r "$3" 'any(.[]; .name == $n and .role == $r)' >/dev/null
}

gone() {
	[ ! -e "$1" ]
}

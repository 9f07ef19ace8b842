#!/bin/sh
# Installs, non-interactively and idempotently, every Debian package blazefs and its tests use.
set -e
PKGS="build-essential pkg-config clang-14 libclang-rt-14-dev
libfuse3-dev fuse3 libsodium-dev liblmdb-dev lmdb-utils libjansson-dev libcmocka-dev
libavahi-client-dev avahi-daemon avahi-utils dbus iproute2 procps psmisc
jq vim-nox rsync tar python3 attr coreutils util-linux syncthing strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing

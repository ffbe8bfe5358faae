#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side setup for the test VMs (Debian 12, run as root).
#
#   setup.sh abi    6.1|6.12   print the Debian kernel ABI, e.g. 6.1.0-56-amd64
#   setup.sh kdir   6.1|6.12   install linux-headers-<abi> if missing, print its dir
#   setup.sh kernel 6.1|6.12   download and extract linux-image-<abi>-unsigned into
#                              the cache (once), run depmod on it, print its root dir
#   setup.sh deps              install the host packages the VM runner needs
#   setup.sh install PKG...    install these packages if missing (bench: gnuplot-nox)
#
# ABIs are resolved at run time from the package lists, never hard-coded:
# 6.1 from the dependency of linux-image-amd64, 6.12 as the newest
# linux-image-6.12.*+deb12-amd64-unsigned.  Cache:
# ${XDG_CACHE_HOME:-$HOME/.cache}/ftpage/{dl,<abi>}.
# Only the answer goes to stdout; everything else goes to stderr.

set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ftpage"
export DEBIAN_FRONTEND=noninteractive

HOST_PKGS="qemu-system-x86 busybox-static kmod cpio xz-utils gzip iproute2 util-linux"

die() { echo "setup.sh: $*" >&2; exit 1; }
log() { echo "setup.sh: $*" >&2; }

APT_UPDATED=
apt_update() {
	[ -n "$APT_UPDATED" ] && return 0
	log "apt-get update"
	apt-get update -q >&2 || die "apt-get update failed"
	APT_UPDATED=1
}

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# install PKG...: install whatever is missing (apt-get update only then)
install_pkgs() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
		apt_update
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
			die "cannot install ${missing[*]}"
	fi
}

resolve_abi_once() {
	case "$1" in
	6.1)
		apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' |
			sort -V | tail -n1
		;;
	6.12)
		apt-cache search --names-only \
			'^linux-image-6\.12\..*\+deb12-amd64-unsigned$' 2>/dev/null |
			awk '{ print $1 }' |
			sed -n 's/^linux-image-\(6\.12\..*+deb12-amd64\)-unsigned$/\1/p' |
			sort -V | tail -n1
		;;
	*) die "unknown kernel '$1' (want 6.1 or 6.12)" ;;
	esac
}

resolve_abi() {
	local abi
	abi=$(resolve_abi_once "$1")
	if [ -z "$abi" ]; then
		apt_update
		abi=$(resolve_abi_once "$1")
	fi
	[ -n "$abi" ] || die "cannot resolve the Debian ABI of kernel $1"
	echo "$abi"
}

cmd_kdir() {
	local abi dir
	abi=$(resolve_abi "$1")
	dir="/usr/src/linux-headers-$abi"
	if [ ! -f "$dir/Makefile" ] || ! pkg_installed "linux-headers-$abi"; then
		install_pkgs "linux-headers-$abi"
	fi
	[ -f "$dir/Makefile" ] || die "$dir missing after installing linux-headers-$abi"
	echo "$dir"
}

# fetch_deb ABI: print the path of the linux-image-ABI-unsigned .deb in the
# download cache, downloading it if needed.
fetch_deb() {
	local abi="$1" pkg="linux-image-$1-unsigned" dl="$CACHE/dl" deb
	mkdir -p "$dl"
	deb=$(find "$dl" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		# apt-get download warns about the _apt sandbox when run as root in
		# a root-owned dir: harmless.
		if ! (cd "$dl" && apt-get download -q "$pkg" >&2); then
			apt_update
			(cd "$dl" && apt-get download -q "$pkg" >&2) ||
				die "cannot download $pkg"
		fi
		deb=$(find "$dl" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort -V | tail -n1)
	fi
	[ -n "$deb" ] || die "no $pkg .deb in $dl"
	echo "$deb"
}

cmd_kernel() {
	local abi root deb tmp
	abi=$(resolve_abi "$1")
	root="$CACHE/$abi"
	if [ ! -f "$root/.ftpage-ready" ]; then
		install_pkgs kmod xz-utils
		mkdir -p "$CACHE"
		exec 9>"$CACHE/.lock-$abi"
		flock 9
		if [ ! -f "$root/.ftpage-ready" ]; then
			deb=$(fetch_deb "$abi")
			log "extracting $(basename "$deb")"
			tmp="$root.tmp.$$"
			rm -rf "$tmp" "$root"
			mkdir -p "$tmp"
			dpkg-deb -x "$deb" "$tmp"
			[ -f "$tmp/boot/vmlinuz-$abi" ] || die "no vmlinuz in $deb"
			depmod -b "$tmp" "$abi"
			touch "$tmp/.ftpage-ready"
			mv "$tmp" "$root"
		fi
		exec 9>&-
	fi
	echo "$root"
}

usage() {
	sed -n '3,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
abi)    [ $# -eq 2 ] || usage; resolve_abi "$2" ;;
kdir)   [ $# -eq 2 ] || usage; cmd_kdir "$2" ;;
kernel) [ $# -eq 2 ] || usage; cmd_kernel "$2" ;;
deps)   [ $# -eq 1 ] || usage; read -ra p <<<"$HOST_PKGS"; install_pkgs "${p[@]}" ;;
install) [ $# -ge 2 ] || usage; shift; install_pkgs "$@" ;;
*) usage ;;
esac

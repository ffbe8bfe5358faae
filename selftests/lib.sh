# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Helpers for shell selftests, run by busybox sh inside the test VM (see
# vm/init.sh).  Source it with:   . "${FTP_TESTS:-/tests}/lib.sh"
#
# Exit codes (kselftest): 0 pass, 1 fail, 4 skip.  The runner turns them
# into "ok" / "not ok" / "ok ... # SKIP"; a test's own output is shown
# indented with "# ", so it may print nested TAP with the ktap_* helpers.
#
# Environment set by the VM init: FTP_TESTS (dir of tests and this file),
# FTP_ROLE (a or b; "a" in single-VM boots), FTP_TEST (its name), FTP_TIMEOUT
# (its timeout in seconds).
#
# Fixed addresses
#   topology pair  (one VM, two network namespaces joined by a veth pair):
#       netns ftpa: veth-a 10.77.0.1/24      netns ftpb: veth-b 10.77.0.2/24
#   topology twovm (two VMs joined by a QEMU socket netdev), eth0:
#       role a: 10.78.0.1/24                 role b: 10.78.0.2/24
#
# Network namespaces are made with the host's iproute2 (the host root is
# mounted read-only at /host, tmpfs on /host/run), so they live at
# /host/run/netns/NAME; in_a / in_b run a command inside with busybox nsenter.

FTP_TESTS=${FTP_TESTS:-/tests}
FTP_ROLE=${FTP_ROLE:-a}

PAIR_A_NS=ftpa
PAIR_B_NS=ftpb
PAIR_A_IF=veth-a
PAIR_B_IF=veth-b
PAIR_A_ADDR=10.77.0.1
PAIR_B_ADDR=10.77.0.2

TWOVM_A_ADDR=10.78.0.1
TWOVM_B_ADDR=10.78.0.2
# shellcheck disable=SC2034
TWOVM_IF=eth0

# ---- TAP ------------------------------------------------------------------

KTAP_N=0
KTAP_FAILED=0

# ktap_plan N: print the TAP header and plan
ktap_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

ktap_ok() {
	KTAP_N=$((KTAP_N + 1))
	echo "ok $KTAP_N $*"
}

ktap_fail() {
	KTAP_N=$((KTAP_N + 1))
	KTAP_FAILED=$((KTAP_FAILED + 1))
	echo "not ok $KTAP_N $*"
}

# ktap_check DESCRIPTION CMD...: run CMD, ok or not ok
ktap_check() {
	_d=$1
	shift
	if "$@"; then
		ktap_ok "$_d"
	else
		ktap_fail "$_d"
	fi
}

ktap_info() {
	echo "# $*"
}

# ktap_skip REASON: skip the whole test (exit 4)
ktap_skip() {
	echo "SKIP: $*"
	exit 4
}

# ktap_bail REASON: fail the whole test now (exit 1)
ktap_bail() {
	echo "FAIL: $*"
	exit 1
}

# ktap_finish: exit 1 if any ktap_fail, else 0
ktap_finish() {
	[ "$KTAP_FAILED" -eq 0 ] || exit 1
	exit 0
}

# ---- misc -----------------------------------------------------------------

# retry TRIES DELAY CMD...: run CMD until it succeeds, at most TRIES times
retry() {
	_tries=$1
	_delay=$2
	shift 2
	while [ "$_tries" -gt 0 ]; do
		"$@" && return 0
		_tries=$((_tries - 1))
		[ "$_tries" -gt 0 ] && sleep "$_delay"
	done
	return 1
}

# host_cmd CMD...: run a tool of the host's root (iproute2, tc, ...).
# Busybox prefers its own applets: a bare `busybox chroot /host ip` runs
# busybox's ip, not the host's.  Hence the env indirection, and the chroot
# function below so that `chroot /host ip ...` in tests does the right thing.
HOST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
host_cmd() {
	command chroot /host /usr/bin/env PATH="$HOST_PATH" "$@"
}

chroot() {
	if [ $# -ge 2 ] && [ -x "$1/usr/bin/env" ]; then
		_root=$1
		shift
		command chroot "$_root" /usr/bin/env PATH="$HOST_PATH" "$@"
	else
		command chroot "$@"
	fi
}

require_host_root() {
	[ -x /host/bin/sh ] || ktap_skip "host root is not mounted at /host"
}

# ---- topology pair: two netns joined by a veth pair --------------------------

in_a() {
	nsenter --net="/host/run/netns/$PAIR_A_NS" "$@"
}

in_b() {
	nsenter --net="/host/run/netns/$PAIR_B_NS" "$@"
}

pair_setup() {
	require_host_root
	pair_teardown
	modprobe veth 2>/dev/null || true
	# one exec of the host's ip (each costs ~0.5 s over 9p under TCG); the
	# rest with busybox ip inside the namespaces
	printf '%s\n' "netns add $PAIR_A_NS" "netns add $PAIR_B_NS" \
		"link add $PAIR_A_IF netns $PAIR_A_NS type veth peer name $PAIR_B_IF netns $PAIR_B_NS" |
		host_cmd ip -batch - &&
	in_a ip addr add "$PAIR_A_ADDR/24" dev "$PAIR_A_IF" &&
	in_b ip addr add "$PAIR_B_ADDR/24" dev "$PAIR_B_IF" &&
	in_a ip link set lo up &&
	in_b ip link set lo up &&
	in_a ip link set "$PAIR_A_IF" up &&
	in_b ip link set "$PAIR_B_IF" up && return 0
	ktap_bail "pair_setup failed"
}

pair_teardown() {
	[ -e "/host/run/netns/$PAIR_A_NS" ] || [ -e "/host/run/netns/$PAIR_B_NS" ] ||
		return 0
	printf '%s\n' "netns del $PAIR_A_NS" "netns del $PAIR_B_NS" |
		host_cmd ip -force -batch - 2>/dev/null || true
}

# ---- link faults ------------------------------------------------------------

# pair_link up|down: veth-a (netns ftpa) up or down; veth-b loses its carrier
# with it, so both directions stop (TCP connections are not reset)
pair_link() {
	in_a ip link set "$PAIR_A_IF" "$1"
}

# pair_netem ARGS...: a netem qdisc on the egress of both veth ends,
# replacing any root qdisc there; ARGS as for tools/ftp_netem (e.g. "loss
# 100", "delay 5 jitter 1 loss 2 duplicate 1 reorder 25": ms and percent).
# ftp_netem speaks rtnetlink itself: the host's tc takes seconds per call
pair_netem() {
	modprobe sch_netem 2>/dev/null || true
	in_a ftp_netem "$PAIR_A_IF" "$@" && in_b ftp_netem "$PAIR_B_IF" "$@"
}

# pair_netem_clear: back to the default qdisc on both veth ends
pair_netem_clear() {
	in_a ftp_netem "$PAIR_A_IF" del
	in_b ftp_netem "$PAIR_B_IF" del
}

# qdisc_set DEV ARGS...: root qdisc ARGS on DEV in the caller's netns (e.g.
# `qdisc_set eth0 tbf rate 16mbit burst 32kb latency 50ms` to slow a twovm
# link down) with the host's tc (seconds per call: not for timed faults);
# qdisc_clear DEV removes it
qdisc_set() {
	_dev=$1
	shift
	modprobe sch_netem 2>/dev/null || true
	modprobe sch_tbf 2>/dev/null || true
	host_cmd tc qdisc replace dev "$_dev" root "$@"
}

qdisc_clear() {
	host_cmd tc qdisc del dev "$1" root 2>/dev/null || true
}

# ---- topology twovm: two VMs, eth0 configured by the VM init ----------------

twovm_self_addr() {
	if [ "$FTP_ROLE" = b ]; then echo "$TWOVM_B_ADDR"; else echo "$TWOVM_A_ADDR"; fi
}

twovm_peer_addr() {
	if [ "$FTP_ROLE" = b ]; then echo "$TWOVM_A_ADDR"; else echo "$TWOVM_B_ADDR"; fi
}

twovm_peer_role() {
	if [ "$FTP_ROLE" = b ]; then echo a; else echo b; fi
}

# twovm_kill_peer: ask the host runner to SIGKILL the other VM's QEMU (a host
# crash).  The runner watches each console log for the magic line; the
# killed VM's missing results are then expected.  Returns at once: wait
# for the effect (e.g. a connect to the peer timing out) with a bound.
twovm_kill_peer() {
	echo "@@FTPAGE-HOST kill $(twovm_peer_role)@@" >/dev/console
}

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

# pair_if a|b: the veth end of that side
pair_if() {
	if [ "$1" = a ]; then echo "$PAIR_A_IF"; else echo "$PAIR_B_IF"; fi
}

# pair_shaped_link DELAY_US KBIT TOS: a link that honours a packet's DS
# field, on the egress of both veth ends: netem delays every packet by
# DELAY_US (root qdisc 1:), then an HTB shaper (2:, netem's child) sends at
# KBIT kbit/s in all, the IPv4 packets whose DS field is TOS (ECN bits
# aside: ftpage's demand channel, demand_dscp << 2) in class 2:10 ahead of the
# rest in 2:20 -- a strict priority: 2:10 is assured the whole rate, so it
# never waits for the debt of the rest's large (GSO) packets, and 2:20
# borrows what 2:10 leaves. (HTB sends a packet it has the tokens for at
# once: unlike netem's rate, it does not hold it for its wire time.) One
# exec of the host's tc per end.
# pair_netem_clear removes it; pair_class_bytes reads it.
pair_shaped_link() {
	for _m in sch_netem sch_htb cls_u32; do modprobe "$_m" 2>/dev/null || true; done
	pair_netem_clear 2>/dev/null	# netem's change would keep the shaper
	_q="quantum 3028"
	for _s in a b; do
		_dev=$(pair_if "$_s")
		printf '%s\n' \
		    "qdisc add dev $_dev root handle 1: netem delay ${1}us limit 100000" \
		    "qdisc add dev $_dev parent 1:1 handle 2: htb default 20" \
		    "class add dev $_dev parent 2: classid 2:1 htb rate ${2}kbit $_q" \
		    "class add dev $_dev parent 2:1 classid 2:10 htb rate ${2}kbit ceil ${2}kbit prio 0 $_q" \
		    "class add dev $_dev parent 2:1 classid 2:20 htb rate 8kbit ceil ${2}kbit prio 1 $_q" \
		    "filter add dev $_dev parent 2: protocol ip prio 1 u32 match ip dsfield $3 0xfc flowid 2:10" |
		"in_$_s" chroot /host /usr/bin/env PATH="$HOST_PATH" tc -batch - ||
			return 1
	done
}

# pair_class_bytes: the bytes each veth end sent through pair_shaped_link's
# classes, as "A_PRIO A_REST B_PRIO B_REST" (2:10, 2:20; a: the source's)
pair_class_bytes() {
	for _s in a b; do
		_dev=$(pair_if "$_s")
		"in_$_s" chroot /host /usr/bin/env PATH="$HOST_PATH" tc -s class show dev "$_dev" |
		awk '$1 == "class" { c = $3 } $1 == "Sent" { b[c] = $2 }
		     END { if (!("2:10" in b) || !("2:20" in b)) exit 1
			   printf "%s %s ", b["2:10"], b["2:20"] }' || return 1
	done
	echo
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

# ---- e2e: Debian's QEMU (chroot /host, -accel kvm) running guest/e2e_guest --
#
# e2e_init: call first; sets E2E_DEADLINE from FTP_TIMEOUT (30 s of slack).
# The guest's RAM is /dev/ftpage/vm0 (E2E_SIZE); QEMU sees the paths
# E2E_QMP, E2E_SERIAL, ours are /host$...

E2E_SIZE=64M
E2E_GUEST=/lib/ftpage/e2e_guest.elf
E2E_QMP=/tmp/e2e.qmp
E2E_SERIAL=/tmp/e2e.serial
E2E_CTL_PORT=7408
# the page traffic is authenticated: the same key file on both VMs
E2E_KEY=/tmp/e2e.key

e2e_init() {
	E2E_DEADLINE=$(($(date +%s) + ${FTP_TIMEOUT:-600} - 30))
	require_host_root
	[ -c /dev/kvm ] || ktap_skip "no /dev/kvm"
	[ -f "$E2E_GUEST" ] || ktap_bail "$E2E_GUEST missing"
	printf '%s' 'ftpage e2e test key, 32+ bytes' >"$E2E_KEY"
}

# e2e_left: seconds left before the test's deadline
e2e_left() {
	echo $((E2E_DEADLINE - $(date +%s)))
}

# e2e_qemu_start ARGS...: the guest's QEMU, in the background; sets
# QEMU_PID.  Its output goes to /tmp/qemu.out.
e2e_qemu_start() {
	cp "$E2E_GUEST" /host/tmp/e2e_guest.elf
	rm -f "/host$E2E_QMP" "/host$E2E_SERIAL"
	chroot /host qemu-system-x86_64 -accel kvm -cpu host \
		-machine pc,memory-backend=ram0 -m "$E2E_SIZE" \
		-object "memory-backend-file,id=ram0,mem-path=/dev/ftpage/vm0,share=on,size=$E2E_SIZE" \
		-nodefaults -no-user-config -display none \
		-kernel /tmp/e2e_guest.elf -serial "file:$E2E_SERIAL" \
		-qmp "unix:$E2E_QMP,server=on,wait=off" "$@" >/tmp/qemu.out 2>&1 &
	QEMU_PID=$!
	# exec over 9p under TCG is slow: wait for the QMP socket
	while [ ! -S "/host$E2E_QMP" ] && [ "$(e2e_left)" -gt 60 ] &&
		kill -0 "$QEMU_PID" 2>/dev/null; do
		sleep 0.2
	done
	[ -S "/host$E2E_QMP" ] || { e2e_qemu_stop; ktap_bail "QEMU did not start"; }
}

e2e_qemu_stop() {
	e2e_pid_stop "$QEMU_PID"
	sed 's/^/qemu: /' /tmp/qemu.out
}

# e2e_pid_alive PID: process PID runs (not gone, not a zombie: a QEMU that
# ftpagectl migrate started again is no child of ours, nobody reaps it)
e2e_pid_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	case "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null)" in
	'' | Z* | X*) return 1 ;;
	esac
}

# e2e_pid_stop PID: SIGTERM, then until it is gone (bounded)
e2e_pid_stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	_n=100
	while e2e_pid_alive "$1" && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
}

# e2e_aux_start NAME ARGS...: a second, small QEMU for the pre-checks, in
# the background: QMP socket /tmp/NAME.qmp (ours: /host/tmp/NAME.qmp),
# output /tmp/NAME.out, pid in /tmp/NAME.pid; ARGS say what RAM it has.
# e2e_aux_wait NAME: until its QMP socket is there; e2e_aux_stop NAME.
e2e_aux_start() {
	_n=$1
	shift
	rm -f "/host/tmp/$_n.qmp"
	chroot /host qemu-system-x86_64 -accel kvm -cpu host -nodefaults -no-user-config \
		-display none -qmp "unix:/tmp/$_n.qmp,server=on,wait=off" "$@" \
		>"/tmp/$_n.out" 2>&1 &
	echo $! >"/tmp/$_n.pid"
}

e2e_aux_wait() {
	while [ ! -S "/host/tmp/$1.qmp" ] && [ "$(e2e_left)" -gt 60 ] &&
		e2e_pid_alive "$(cat "/tmp/$1.pid")"; do
		sleep 0.2
	done
	[ -S "/host/tmp/$1.qmp" ] || { sed "s/^/$1: /" "/tmp/$1.out"; return 1; }
}

e2e_aux_stop() {
	e2e_pid_stop "$(cat "/tmp/$1.pid")"
	sed "s/^/$1: /" "/tmp/$1.out"
}

# e2e_ticks [FILE]: the number of "tick N" lines (default: the guest's serial)
e2e_ticks() {
	_f=${1:-/host$E2E_SERIAL}
	[ -f "$_f" ] || { echo 0; return; }
	grep -c '^tick ' "$_f" || :
}

# e2e_wait_ticks N [FILE]: until FILE has N ticks, QEMU runs and time is left
e2e_wait_ticks() {
	while [ "$(e2e_ticks "$2")" -lt "$1" ] && [ "$(e2e_left)" -gt 30 ] &&
		e2e_pid_alive "$QEMU_PID"; do
		sleep 0.2
	done
	[ "$(e2e_ticks "$2")" -ge "$1" ]
}

# e2e_lines FILE: a serial log without \r and without a last line the
# guest is still writing (no newline yet: "tick 24" of "tick 247")
e2e_lines() {
	if [ -n "$(tail -c 1 "$1")" ]; then
		sed '$d' "$1"
	else
		cat "$1"
	fi | tr -d '\r'
}

# e2e_ticks_ok FILE MIN [BOOTS]: BOOTS boot lines (default 1), no BAD
# line, at least MIN ticks and each tick one more than the one before (no
# gap, no restart).  A "tick " line without its number counts as the next
# tick: QEMU's UART can lose the characters in flight when the VM stops for
# a migration (its device state does not carry them).
e2e_ticks_ok() {
	e2e_lines "$1" | awk -v min="$2" -v want="${3:-1}" '
		/^boot / { boots++ }
		/BAD/ { bad = 1 }
		/^tick *$/ && n {
			print "# a tick line without its number after tick " prev " (line " NR ")"
			prev++
			next
		}
		/^tick / {
			if (n && $2 != prev + 1) {
				print "# after tick " prev ": " $0 " (line " NR ")"
				bad = 1
			}
			prev = $2
			n++
		}
		END { exit bad || boots != want || n < min }'
}

# e2e_first_tick FILE: the number of the first "tick N" line
e2e_first_tick() {
	tr -d '\r' <"$1" | sed -n 's/^tick \([0-9]*\).*/\1/p' | head -n 1
}

# e2e_last_tick FILE: the number of the last "tick N" line
e2e_last_tick() {
	e2e_lines "$1" | sed -n 's/^tick \([0-9]*\).*/\1/p' | tail -n 1
}

# e2e_policy LEASE_MS ROLLBACK_AFTER_MS: the module's migration policy,
# read by SERVE and PULL (set it on both VMs)
e2e_policy() {
	echo "$1" >/sys/module/ftpage/parameters/lease_ms &&
	echo "$2" >/sys/module/ftpage/parameters/rollback_after_ms
}

# e2e_wait_exit PID SECONDS: wait up to SECONDS for background job PID;
# its exit status, or 124 (still running, then killed)
e2e_wait_exit() {
	_n=$(($2 * 5))
	while kill -0 "$1" 2>/dev/null && [ "$_n" -gt 0 ]; do
		sleep 0.2
		_n=$((_n - 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}

# e2e_state: the state of region vm0
e2e_state() {
	cat "/sys/class/ftpage/ftpage!vm0/state" 2>/dev/null
}

# ---- e2e failure tests (e2e_fail_dest, e2e_fail_link) -----------------------
#
# Source (VM a): e2e_src_begin [--no-push] creates vm0, runs the guest,
# starts the source half of `ftpagectl migrate` in the background (MIG_PID,
# output in /tmp/migrate.out) and returns once the guest runs on b:
# device state sent and pages served on demand. PAUSED_AT: the guest's last
# tick here before the pause.  --no-push: post-copy never completes (only
# faults bring pages), so a failure surely lands in it.

E2E_LEASE_MS=1000
E2E_ROLLBACK_MS=4000

e2e_src_begin() {
	e2e_policy $E2E_LEASE_MS $E2E_ROLLBACK_MS
	ktap_check "create the source region" ftpagectl create vm0 --size "$E2E_SIZE" --role source
	e2e_qemu_start
	ktap_check "the guest runs on the source" e2e_wait_ticks 3
	if [ "$1" = --no-push ]; then
		ftpagectl serve vm0 --listen "$TWOVM_A_ADDR" --no-push --key-file "$E2E_KEY" ||
			ktap_bail "serve --no-push"
	fi
	# emptied before the background start: the loop below must not read a
	# previous migration's "device state sent" before the shell truncates it
	: >/tmp/migrate.out
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$E2E_QMP" --listen "$TWOVM_A_ADDR:$E2E_CTL_PORT" \
		>>/tmp/migrate.out 2>&1 &
	MIG_PID=$!
	while ! grep -q 'device state sent' /tmp/migrate.out && kill -0 "$MIG_PID" 2>/dev/null &&
		[ "$(e2e_left)" -gt 120 ]; do
		sleep 0.2
	done
	PAUSED_AT=$(e2e_last_tick "/host$E2E_SERIAL")
	grep -q 'device state sent' /tmp/migrate.out ||
		{ cat /tmp/migrate.out; ktap_bail "no handover to b"; }
}

# e2e_src_served N: until N pages more were served on demand (the guest
# runs on b), bounded
e2e_src_served() {
	_s0=$(cat "/sys/class/ftpage/ftpage!vm0/pages_served")
	while [ "$(cat "/sys/class/ftpage/ftpage!vm0/pages_served")" -lt $((_s0 + $1)) ] &&
		[ "$(e2e_left)" -gt 120 ]; do
		sleep 0.2
	done
	[ "$(cat "/sys/class/ftpage/ftpage!vm0/pages_served")" -ge $((_s0 + $1)) ]
}

# e2e_src_rolled_back SECONDS: the source half reports the kernel's
# rollback to epoch 0 within SECONDS and exits 1; the region is
# rolled-back, and the same guest runs on here from tick PAUSED_AT on
# (ten more ticks: includes a check of its cold area), with no BAD line.
# ROLLED_AFTER: seconds until the source half exited.
e2e_src_rolled_back() {
	_t0=$(date +%s)
	e2e_wait_exit "$MIG_PID" "$1"
	_rc=$?
	# shellcheck disable=SC2034 # for the tests
	ROLLED_AFTER=$(($(date +%s) - _t0))
	sed 's/^/  /' /tmp/migrate.out
	ktap_check "ftpagectl migrate reports the rollback and fails (exit $_rc)" sh -c \
		"[ $_rc -eq 1 ] && grep -q 'rolled region vm0 back to the frozen image' /tmp/migrate.out &&
		 grep -q 'the guest runs on the source again' /tmp/migrate.out"
	_st=$(e2e_state)
	ktap_check "the source region rolled back ($_st)" [ "$_st" = rolled-back ]
	ktap_check "the guest runs on the source again" e2e_wait_ticks $((PAUSED_AT + 10))
	ktap_info "paused at tick $PAUSED_AT; then here: $(tr -d '\r' <"/host$E2E_SERIAL" |
		grep '^tick' | sed -n "$((PAUSED_AT + 1)),$((PAUSED_AT + 2))p" | tr '\n' ' ')"
	ktap_check "its tick counter goes on from tick $PAUSED_AT: no restart, gap or BAD" \
		e2e_ticks_ok "/host$E2E_SERIAL" $((PAUSED_AT + 10))
}

# Destination (VM b): e2e_dest_begin creates vm0 and starts QEMU waiting
# for the migration; then run `e2e_dest_migrate [ARGS]` (exit status in
# MIG_RC, output in /tmp/migrate.out, shown).
e2e_dest_begin() {
	e2e_policy $E2E_LEASE_MS $E2E_ROLLBACK_MS
	ktap_check "create the destination region" ftpagectl create vm0 --size "$E2E_SIZE" --role dest
	e2e_qemu_start -incoming defer
}

e2e_dest_migrate() {
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$E2E_QMP" --from "$TWOVM_A_ADDR:$E2E_CTL_PORT" \
		--wait "$(e2e_left)" "$@" >/tmp/migrate.out 2>&1
	# shellcheck disable=SC2034 # for the tests
	MIG_RC=$?
	sed 's/^/  /' /tmp/migrate.out
}

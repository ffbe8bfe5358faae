#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the selftest VM (busybox sh, PID 1), packed by vm/run.sh.
#
# Kernel command line:
#   ftp.tests=NAME,NAME...   tests to run, in order (see /tests/TESTS)
#   ftp.role=a|b             VM role (twovm topology; a otherwise)
#   ftp.net=1                configure eth0 (twovm): 10.78.0.1 (a) / .2 (b)
#   ftp.boot=N               the single/pair boot's number, 2 and 3 when
#                            vm/run.sh boots again after an emu_crash
#
# Per test: insmod /lib/ftpage/ftpage.ko unless the manifest says noload,
# run /tests/NAME with a timeout, rmmod ftpage if loaded (must succeed),
# scan the kernel log written during the test.  Output is TAP 13 on the
# console, the test's own output indented with "# ".  Then the full kernel
# log between @@FTPAGE-DMESG-BEGIN@@ / @@FTPAGE-DMESG-END@@ and poweroff.

export PATH=/usr/bin:/bin:/usr/sbin:/sbin
export HOME=/tmp

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /host /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1

BAD='WARNING:|BUG:|Oops|general protection fault|blocked for more than|soft lockup|hard LOCKUP|Call Trace'
MODULE=/lib/ftpage/ftpage.ko

TESTS=
ROLE=a
NET=
read -r cmdline </proc/cmdline
for w in $cmdline; do
	case "$w" in
	ftp.tests=*) TESTS=${w#ftp.tests=} ;;
	ftp.role=*) ROLE=${w#ftp.role=} ;;
	ftp.net=*) NET=${w#ftp.net=} ;;
	esac
done

say() { echo "# init: $*"; }

# the kernel log; /dev/kmsg (kmsg_dump) still has what `dmesg -c` cleared
klog() {
	if [ -x /usr/bin/kmsg_dump ]; then kmsg_dump; else dmesg; fi
}
kmsg() { echo "<6>ftpage-test: $*" >/dev/kmsg; }

[ -w /proc/sys/kernel/hung_task_timeout_secs ] &&
	echo 30 >/proc/sys/kernel/hung_task_timeout_secs

# load MODULE...: modprobe each (dependencies from modules.dep); built-in or
# absent modules are fine
load() {
	for m in "$@"; do
		[ -d "/sys/module/$m" ] && continue
		if ! modprobe "$m" 2>/tmp/modprobe.err; then
			grep -qw "$m" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null ||
				say "modprobe $m failed: $(cat /tmp/modprobe.err)"
		fi
	done
}

say "kernel $(uname -r), role $ROLE, $(nproc) cpus"
ip link set lo up

# KVM (kvm_amd needs ccp on Debian; modules.dep has it)
load kvm_amd
[ -c /dev/kvm ] || say "no /dev/kvm"
# one VM open all along: see tools/kvm_hold.c (the sweep spares it)
HOLD_PID=
if [ -c /dev/kvm ]; then
	kvm_hold &
	HOLD_PID=$!
fi

# host root over 9p at /host (read-only), for the host's tools via chroot
load virtio_pci 9pnet_virtio 9p
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host 2>/tmp/mnt.err; then
	mount -t tmpfs tmpfs /host/tmp
	mount -t tmpfs tmpfs /host/run
	mount -t proc proc /host/proc
	mount -t sysfs sysfs /host/sys
	mount -o bind /dev /host/dev
else
	say "cannot mount the host root: $(cat /tmp/mnt.err)"
fi

load veth
if [ "$NET" = 1 ]; then
	load virtio_net
	if [ "$ROLE" = b ]; then addr=10.78.0.2; else addr=10.78.0.1; fi
	if ! ip addr add "$addr/24" dev eth0 || ! ip link set eth0 up; then
		say "cannot configure eth0"
	fi
fi

# sweep KEEP: SIGKILL every user process except PID 1 and KEEP
sweep() {
	n=0
	while [ $n -lt 10 ]; do
		killed=
		for d in /proc/[0-9]*; do
			p=${d#/proc/}
			[ "$p" = 1 ] || [ "$p" = "$1" ] || [ "$p" = "$HOLD_PID" ] && continue
			# kernel threads have no exe
			readlink "$d/exe" >/dev/null 2>&1 || continue
			kill -9 "$p" 2>/dev/null && killed=1
		done
		[ -z "$killed" ] && return
		n=$((n + 1))
		sleep 0.1
	done
}

# run_test INDEX NAME TIMEOUT FLAGS: print its result line
run_test() {
	i=$1 name=$2 tmo=$3 flags=$4
	why=
	out=/tmp/out.$i
	: >"$out"
	kmsg "begin $i $name"

	if [ ! -x "/tests/$name" ]; then
		echo "not ok $i $name # missing /tests/$name"
		return
	fi
	case " $flags " in
	*" noload "*) ;;
	*)
		if ! insmod "$MODULE" 2>/tmp/insmod.err; then
			sed 's/^/# /' /tmp/insmod.err
			echo "not ok $i $name # insmod failed"
			return
		fi
		;;
	esac

	t0=$(cut -d. -f1 /proc/uptime)
	rm -f /tmp/fifo /tmp/timedout
	mkfifo /tmp/fifo
	(while IFS= read -r l; do
		echo "# $l"
		echo "$l" >>"$out"
	done) </tmp/fifo &
	rdpid=$!
	(cd /tmp && exec env FTP_TESTS=/tests FTP_ROLE="$ROLE" \
		FTP_TIMEOUT="$tmo" FTP_TEST="$name" "/tests/$name") \
		</dev/null >/tmp/fifo 2>&1 &
	tpid=$!
	(sleep "$tmo"; : >/tmp/timedout; kill -TERM "$tpid"; sleep 3;
		kill -KILL "$tpid") 2>/dev/null &
	wpid=$!
	wait "$tpid" 2>/dev/null
	rc=$?
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	# leftovers (servers started in the background) would hold the fifo
	sweep "$rdpid"
	wait "$rdpid"
	rm -f /tmp/fifo

	if [ -e /tmp/timedout ]; then
		why="TIMEOUT after ${tmo}s"
	elif [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
		why="exit=$rc"
	fi

	if [ -d /sys/module/ftpage ]; then
		n=0
		until rmmod ftpage 2>/tmp/rmmod.err; do
			n=$((n + 1))
			if [ $n -ge 5 ]; then
				sed 's/^/# /' /tmp/rmmod.err
				why="${why:+$why; }module did not unload"
				break
			fi
			sleep 1
		done
	fi

	klog | sed -n "/ftpage-test: begin $i $name\$/,\$p" | grep -E "$BAD" >/tmp/bad
	if [ -s /tmp/bad ]; then
		echo "# kernel log during the test:"
		sed 's/^/# /' /tmp/bad
		why="${why:+$why; }kernel log: $(head -n1 /tmp/bad | sed 's/^\[[^]]*\] *//')"
	fi
	kmsg "end $i $name"
	say "$name took $(($(cut -d. -f1 /proc/uptime) - t0)) s"

	if [ -n "$why" ]; then
		echo "not ok $i $name # $why"
	elif [ "$rc" = 4 ]; then
		reason=$(grep -E '^(# )?SKIP' "$out" | tail -n1 | sed -E 's/^(# )?SKIP:? *//')
		echo "ok $i $name # SKIP ${reason:-exit 4}"
	else
		echo "ok $i $name"
	fi
}

# shellcheck disable=SC2046
set -- $(echo "$TESTS" | tr ',' ' ')
echo "TAP version 13"
echo "1..$#"
i=0
for name in "$@"; do
	i=$((i + 1))
	line=$(grep -E "^${name}[[:space:]]" /tests/TESTS | head -n1)
	# shellcheck disable=SC2086
	set -- $line
	if [ $# -lt 3 ]; then
		echo "not ok $i $name # not in /tests/TESTS"
		continue
	fi
	tmo=$3
	shift 3
	run_test "$i" "$name" "$tmo" "$*"
done
echo "# init: done"

echo "@@FTPAGE-DMESG-BEGIN@@"
klog
echo "@@FTPAGE-DMESG-END@@"
sync
poweroff -f

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm, end to end: Debian's QEMU (chroot /host, -accel kvm:
# nested KVM) runs guest/e2e_guest with its RAM in /dev/ftpage/vm0 on VM a,
# and `ftpagectl migrate` moves it live to a QEMU on VM b started with
# -incoming defer: x-ignore-shared on both, so QEMU sends device state only
# and the region moves the memory, post-copy.
#
# VM a (source): runs the guest, checks that migrate's pre-checks refuse
# without stopping it, runs the source half of ftpagectl migrate, checks
# that the epochs b committed (with QEMU's device state) were applied;
# then sends b its guest's serial output and a checksum of the guest's
# cold area read from the frozen region.
# VM b (destination): drives the migration, committing an epoch every
# 300 ms of post-copy, then checks that the guest's
# tick counter goes on without a restart across both serial logs, that no
# memory check of the guest failed, that the cold area checksums (guest's
# and regions') match, that QEMU sent (almost) no RAM, and prints the
# downtime.
. "${FTP_TESTS:-/tests}/lib.sh"

SIZE=64M
CTL_PORT=7408
LOG_PORT=7461
# guest/e2e_guest.c: the cold area, 8 MiB + 32 MiB, in pages
COLD_SKIP=2048
COLD_PAGES=8192
GUEST=/lib/ftpage/e2e_guest.elf
# paths as QEMU (chroot /host) sees them; ours are /host$...
QMP=/tmp/e2e.qmp
SERIAL=/tmp/e2e.serial
DEADLINE=$(($(date +%s) + ${FTP_TIMEOUT:-600} - 30))
# the page traffic is authenticated: the same key on both VMs
KEY=/tmp/e2e.key
printf '%s' 'ftpage e2e test key, 32+ bytes' >"$KEY"

require_host_root
[ -c /dev/kvm ] || ktap_skip "no /dev/kvm"
[ -f "$GUEST" ] || ktap_bail "$GUEST missing"

left() { echo $((DEADLINE - $(date +%s))); }

# qemu_start ARGS...: the guest's QEMU, in the background; sets QEMU_PID
qemu_start() {
	cp "$GUEST" /host/tmp/e2e_guest.elf
	rm -f "/host$QMP" "/host$SERIAL"
	chroot /host qemu-system-x86_64 -accel kvm -cpu host \
		-machine pc,memory-backend=ram0 -m "$SIZE" \
		-object "memory-backend-file,id=ram0,mem-path=/dev/ftpage/vm0,share=on,size=$SIZE" \
		-nodefaults -no-user-config -display none \
		-kernel /tmp/e2e_guest.elf -serial "file:$SERIAL" \
		-qmp "unix:$QMP,server=on,wait=off" "$@" >/tmp/qemu.out 2>&1 &
	QEMU_PID=$!
	# exec over 9p under TCG is slow: wait for the QMP socket
	while [ ! -S "/host$QMP" ] && [ "$(left)" -gt 60 ] && kill -0 "$QEMU_PID" 2>/dev/null; do
		sleep 0.2
	done
	[ -S "/host$QMP" ] || { qemu_stop; ktap_bail "QEMU did not start"; }
}

# ticks FILE: the number of "tick N" lines
ticks() {
	[ -f "$1" ] || { echo 0; return; }
	grep -c '^tick ' "$1" || :
}

cold_sha() {
	dd if=/dev/ftpage/vm0 bs=4096 skip=$COLD_SKIP count=$COLD_PAGES 2>/dev/null |
		sha256sum | cut -d' ' -f1
}

# refused DESCRIPTION PATTERN CMD...: CMD fails, saying PATTERN
refused() {
	_d=$1 _p=$2
	shift 2
	"$@" >/tmp/refused.out 2>&1
	_rc=$?
	sed 's/^/  /' /tmp/refused.out
	ktap_check "$_d" sh -c "[ $_rc -eq 1 ] && grep -q \"\$1\" /tmp/refused.out" _ "$_p"
}

qemu_stop() {
	kill "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	sed 's/^/qemu: /' /tmp/qemu.out
}

if [ "$FTP_ROLE" = a ]; then
	ktap_plan 11
	ktap_check "create the source region" ftpagectl create vm0 --size $SIZE --role source
	qemu_start
	while [ "$(ticks "/host$SERIAL")" -lt 3 ] && [ "$(left)" -gt 200 ] &&
		kill -0 "$QEMU_PID"; do
		sleep 0.2
	done
	ktap_check "the guest runs on the source ($(ticks "/host$SERIAL") ticks)" \
		[ "$(ticks "/host$SERIAL")" -ge 3 ]
	# pre-checks refuse, and leave the guest running
	refused "migrate refuses an unreachable QMP socket" "cannot reach the source QEMU" \
		ftpagectl migrate --key-file "$KEY" --qmp /host/tmp/none.qmp --listen "$TWOVM_A_ADDR:$CTL_PORT"
	refused "migrate --from refuses a QEMU that is not -incoming defer" \
		"start it with -incoming defer" \
		ftpagectl migrate --key-file "$KEY" --qmp "/host$QMP" --from "$TWOVM_B_ADDR:$CTL_PORT"
	t=$(ticks "/host$SERIAL")
	while [ "$(ticks "/host$SERIAL")" -le "$t" ] && [ "$(left)" -gt 200 ]; do
		sleep 0.2
	done
	ktap_check "the guest still runs" [ "$(ticks "/host$SERIAL")" -gt "$t" ]
	ftpagectl migrate --key-file "$KEY" --qmp "/host$QMP" --listen "$TWOVM_A_ADDR:$CTL_PORT"
	ktap_check "ftpagectl migrate, source half" [ $? -eq 0 ]
	n=0
	while kill -0 "$QEMU_PID" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	ktap_check "the source QEMU quit" sh -c "! kill -0 $QEMU_PID 2>/dev/null"
	qemu_stop
	state=$(cat "/sys/class/ftpage/ftpage!vm0/state")
	ktap_check "source region complete ($state)" [ "$state" = complete ]
	# b committed epochs during post-copy, with QEMU's device state
	epoch=$(cat "/sys/class/ftpage/ftpage!vm0/committed_epoch")
	ktap_check "epochs of the destination applied here (${epoch:-?})" [ "${epoch:-0}" -ge 1 ]
	ftpagectl checkpoint vm0 --out /tmp/ck
	ktap_check "its checkpoint is QEMU device state ($(wc -c </tmp/ck) bytes)" \
		[ "$(head -c 4 /tmp/ck)" = QEVM ]
	# to b: the frozen image's cold area, and what the guest printed here
	sha=$(cold_sha)
	{ echo "cold-sha $sha"; cat "/host$SERIAL"; } >/tmp/to-b
	retry 60 1 nc "$TWOVM_B_ADDR" "$LOG_PORT" </tmp/to-b
	ktap_check "destroy the source region" ftpagectl destroy vm0
	ktap_finish
fi

ktap_plan 15
# (nc stops reading at the end of its stdin: keep that open)
sleep "$(left)" | nc -l -p "$LOG_PORT" >/tmp/from-a &
NC_PID=$!
ktap_check "create the destination region" ftpagectl create vm0 --size $SIZE --role dest
qemu_start -incoming defer
ktap_check "destination QEMU waits for the migration" kill -0 "$QEMU_PID"
refused "migrate --listen refuses a QEMU waiting for a migration" "not running or paused" \
	ftpagectl migrate --key-file "$KEY" --qmp "/host$QMP" --listen "$TWOVM_B_ADDR:$CTL_PORT"
state=$(cat "/sys/class/ftpage/ftpage!vm0/state")
ktap_check "the destination region is still empty ($state)" [ "$state" = empty ]

ftpagectl migrate --key-file "$KEY" --qmp "/host$QMP" --from "$TWOVM_A_ADDR:$CTL_PORT" --wait "$(left)" \
	--commit-every 300 >/tmp/migrate.out 2>&1
rc=$?
cat /tmp/migrate.out
ktap_check "ftpagectl migrate (exit $rc)" [ $rc -eq 0 ]
downtime=$(sed -n 's/.*: downtime \([0-9]*\) ms.*/\1/p' /tmp/migrate.out)
ram=$(sed -n "s/.*RAM over QEMU's migration stream \([0-9]*\) bytes.*/\1/p" /tmp/migrate.out)
ktap_info "downtime ${downtime:-?} ms"
# x-ignore-shared: only the firmware and option ROMs (not in the region)
# travel, a few hundred KiB against 64 MiB of guest RAM
ktap_check "QEMU sent no guest RAM (${ram:-?} bytes over its stream)" \
	[ "${ram:-1048576}" -lt 1048576 ]
state=$(cat "/sys/class/ftpage/ftpage!vm0/state")
ktap_check "destination region complete ($state)" [ "$state" = complete ]
ktap_check "epochs sealed during post-copy" grep -q '^ftpagectl migrate: epoch 1 sealed' /tmp/migrate.out

# the guest goes on here: 16 more ticks (two cold-area checks)
base=$(ticks "/host$SERIAL")
while [ "$(ticks "/host$SERIAL")" -lt $((base + 16)) ] && [ "$(left)" -gt 60 ] &&
	kill -0 "$QEMU_PID"; do
	sleep 0.5
done
ktap_check "the guest runs on the destination ($(ticks "/host$SERIAL") ticks here)" \
	[ "$(ticks "/host$SERIAL")" -ge $((base + 16)) ]
sha=$(cold_sha)
qemu_stop

while kill -0 "$NC_PID" 2>/dev/null && [ "$(left)" -gt 10 ]; do
	sleep 0.5
done
kill "$NC_PID" 2>/dev/null
src_sha=$(sed -n 's/^cold-sha //p' /tmp/from-a)
sed 1d /tmp/from-a >/tmp/serial.a
cat /tmp/serial.a "/host$SERIAL" | tr -d '\r' >/tmp/serial.all
ktap_info "source: $(ticks /tmp/serial.a) ticks, then destination: $(ticks "/host$SERIAL") ticks"
ktap_info "around the switch: $(grep '^tick' /tmp/serial.a | tail -n 2 | tr '\n' ' ')|" \
	"$(grep '^tick' "/host$SERIAL" | head -n 2 | tr '\n' ' ')"
ktap_check "got the source's serial output" [ "$(ticks /tmp/serial.a)" -ge 3 ]
ktap_check "one boot, no failed memory check" \
	sh -c '[ "$(grep -c "^boot " /tmp/serial.all)" = 1 ] && ! grep -q BAD /tmp/serial.all'
ktap_check "the tick counter goes on without a gap or restart" sh -c \
	"grep '^tick ' /tmp/serial.all | awk 'NR > 1 && \$2 != prev + 1 { bad = 1 } { prev = \$2 } END { exit bad || NR < 20 }'"
ktap_check "the guest's cold-area checksum is the same before and after" sh -c \
	"[ \$(grep '^cold ' /tmp/serial.all | sort -u | wc -l) = 1 ] && grep -q '^cold ' '/host$SERIAL'"
ktap_check "region cold-area checksums match (${sha%"${sha#????????}"}...)" \
	[ "${src_sha:-none}" = "$sha" ]
ktap_check "destroy the destination region" retry 10 0.5 ftpagectl destroy vm0
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm, end to end: Debian's QEMU (chroot /host, -accel kvm:
# nested KVM) runs guest/e2e_guest with its RAM in /dev/ftpage/vm0 on VM a,
# and `ftpagectl migrate` moves it live to a QEMU on VM b started with
# -incoming defer: x-ignore-shared on both, so QEMU sends device state only
# and the region moves the memory, post-copy.
#
# VM a (source): runs the guest, checks that migrate's pre-checks refuse
# without stopping it (QMP unreachable, a QEMU with plain RAM, and b's
# refusals: QEMU's postcopy on, regions of other sizes), runs the source
# half of ftpagectl migrate, checks
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

LOG_PORT=7461
# guest/e2e_guest.c: the cold area, 8 MiB + 32 MiB, in pages
COLD_SKIP=2048
COLD_PAGES=8192
SIZE=$E2E_SIZE
QMP=$E2E_QMP
SERIAL=$E2E_SERIAL
CTL_PORT=$E2E_CTL_PORT

e2e_init

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

if [ "$FTP_ROLE" = a ]; then
	ktap_plan 15
	ktap_check "create the source region" ftpagectl create vm0 --size "$SIZE" --role source
	# a QEMU with plain RAM, paused before it ran (-S), for a pre-check
	e2e_aux_start plain -machine pc -m 16M -S
	e2e_qemu_start
	while [ "$(e2e_ticks "/host$SERIAL")" -lt 3 ] && [ "$(e2e_left)" -gt 200 ] &&
		kill -0 "$QEMU_PID"; do
		sleep 0.2
	done
	ktap_check "the guest runs on the source ($(e2e_ticks "/host$SERIAL") ticks)" \
		[ "$(e2e_ticks "/host$SERIAL")" -ge 3 ]
	# pre-checks refuse, and leave the guest running
	refused "migrate refuses an unreachable QMP socket" "cannot reach the source QEMU" \
		ftpagectl migrate --key-file "$E2E_KEY" --qmp /host/tmp/none.qmp --listen "$TWOVM_A_ADDR:$CTL_PORT"
	refused "migrate --from refuses a QEMU that is not -incoming defer" \
		"start it with -incoming defer" \
		ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$QMP" --from "$TWOVM_B_ADDR:$CTL_PORT"
	e2e_aux_wait plain
	refused "migrate refuses a QEMU whose RAM is not in an ftpage region" \
		"ftpage region: .*mem-path=/dev/ftpage/NAME" \
		ftpagectl migrate --key-file "$E2E_KEY" --qmp /host/tmp/plain.qmp --listen "$TWOVM_A_ADDR:$CTL_PORT"
	e2e_aux_stop plain
	# b first comes with a QEMU on a region of another size: its half
	# refuses after the greeting, ours ends without stopping the guest
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$QMP" --listen "$TWOVM_A_ADDR:$CTL_PORT" >/tmp/migrate.out 2>&1 &
	e2e_wait_exit $! 120
	rc=$?
	sed 's/^/  /' /tmp/migrate.out
	state=$(e2e_state)
	ktap_check "after b's refusal the source half ends, guest not stopped (exit $rc, region $state)" \
		sh -c "[ $rc -eq 1 ] && [ $state = local ] && grep -q 'the guest was not stopped' /tmp/migrate.out"
	t=$(e2e_ticks "/host$SERIAL")
	while [ "$(e2e_ticks "/host$SERIAL")" -le "$t" ] && [ "$(e2e_left)" -gt 200 ]; do
		sleep 0.2
	done
	ktap_check "the guest still runs" [ "$(e2e_ticks "/host$SERIAL")" -gt "$t" ]
	# a capped link: the post-copy lasts seconds, long enough for b to
	# commit epochs while pages still arrive (the push alone would
	# finish within the downtime here)
	ktap_check "cap our egress: tbf 32mbit" \
		qdisc_set eth0 tbf rate 32mbit burst 32kb latency 100ms
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$QMP" --listen "$TWOVM_A_ADDR:$CTL_PORT" >/tmp/migrate.out 2>&1 &
	MIG_PID=$!
	# b migrates with --no-done: the source region stays readable once
	# complete, until b declares the migration done (after our data)
	while [ "$(e2e_state)" != complete ] && kill -0 "$MIG_PID" 2>/dev/null &&
		[ "$(e2e_left)" -gt 90 ]; do
		sleep 0.5
	done
	state=$(e2e_state)
	ktap_check "source region complete ($state)" [ "$state" = complete ]
	qdisc_clear eth0
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
	# b: ftpagectl done; the source half then quits its QEMU and exits 0
	e2e_wait_exit "$MIG_PID" $(($(e2e_left) - 30))
	rc=$?
	cat /tmp/migrate.out
	ktap_check "ftpagectl migrate, source half (exit $rc)" [ $rc -eq 0 ]
	e2e_wait_exit "$QEMU_PID" 20
	ktap_check "the source QEMU quit" [ $? -ne 124 ]
	e2e_qemu_stop
	state=$(e2e_state)
	ktap_check "source region done ($state)" [ "$state" = "done" ]
	ktap_check "destroy the source region" ftpagectl destroy vm0
	ktap_finish
fi

ktap_plan 22
# (nc stops reading at the end of its stdin: keep that open)
sleep "$(e2e_left)" | nc -l -p "$LOG_PORT" >/tmp/from-a &
NC_PID=$!
ktap_check "create the destination region" ftpagectl create vm0 --size "$SIZE" --role dest
# two small QEMUs for the pre-checks, waiting for a migration on regions
# of half the size: one with QEMU's own postcopy on (x-ignore-shared is
# refused with it), one plain
AUX=32M
for r in vm1 vm2; do
	ftpagectl create $r --size $AUX --role dest || ktap_bail "create $r"
done
for r in vm1 vm2; do
	if [ $r = vm1 ]; then n=pcopy; g=on; else n=small; g=off; fi
	e2e_aux_start $n -machine pc,memory-backend=m -m $AUX -incoming defer \
		-object "memory-backend-file,id=m,mem-path=/dev/ftpage/$r,share=on,size=$AUX" \
		-global migration.x-postcopy-ram=$g
done
e2e_qemu_start -incoming defer
ktap_check "destination QEMU waits for the migration" kill -0 "$QEMU_PID"
refused "migrate --listen refuses a QEMU waiting for a migration" "not running or paused" \
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$QMP" --listen "$TWOVM_B_ADDR:$CTL_PORT"
e2e_aux_wait pcopy && e2e_aux_wait small
refused "migrate refuses a QEMU that refuses x-ignore-shared (postcopy-ram on)" \
	"refused capability x-ignore-shared: .*postcopy-ram off" \
	ftpagectl migrate --key-file "$E2E_KEY" --qmp /host/tmp/pcopy.qmp --from "$TWOVM_A_ADDR:$CTL_PORT"
refused "migrate refuses regions of different sizes on the two hosts" \
	"size mismatch: .*same -m/size on both sides" \
	ftpagectl migrate --key-file "$E2E_KEY" --qmp /host/tmp/small.qmp --from "$TWOVM_A_ADDR:$CTL_PORT" \
	--wait "$(e2e_left)"
e2e_aux_stop pcopy
e2e_aux_stop small
ktap_check "destroy vm1 and vm2" sh -c \
	'ftpagectl destroy vm1 && ftpagectl destroy vm2'
state=$(e2e_state)
ktap_check "the destination region is still empty ($state)" [ "$state" = empty ]

# through tee: the progress lines reach the console (make demo) as they come
{
	ftpagectl migrate --key-file "$E2E_KEY" --qmp "/host$QMP" --from "$TWOVM_A_ADDR:$CTL_PORT" \
		--wait "$(e2e_left)" --commit-every 300 --no-done 2>&1
	echo $? >/tmp/migrate.rc
} | tee /tmp/migrate.out
rc=$(cat /tmp/migrate.rc)
ktap_check "ftpagectl migrate (exit $rc)" [ "$rc" -eq 0 ]
downtime=$(sed -n 's/.*: downtime \([0-9]*\) ms.*/\1/p' /tmp/migrate.out)
ram=$(sed -n "s/.*RAM over QEMU's migration stream \([0-9]*\) bytes.*/\1/p" /tmp/migrate.out)
ktap_check "downtime measured and printed (${downtime:-?} ms)" [ -n "$downtime" ]
ktap_check "progress shown: pages local, rate, ETA, demand faults, latency p50/p99" \
	grep -qE '[0-9]+/[0-9]+ pages local +[0-9.]+ MiB/s ETA [^,]+, demand [0-9]+, pushed [0-9]+, p50 [0-9]+ us p99 [0-9]+ us' \
	/tmp/migrate.out
# x-ignore-shared: only the firmware and option ROMs (not in the region)
# travel, a few hundred KiB against 64 MiB of guest RAM
ktap_check "QEMU sent no guest RAM (${ram:-?} bytes over its stream)" \
	[ "${ram:-1048576}" -lt 1048576 ]
state=$(e2e_state)
ktap_check "destination region complete ($state)" [ "$state" = complete ]
ktap_check "epochs sealed during post-copy" grep -q '^ftpagectl migrate: epoch 1 sealed' /tmp/migrate.out

# the guest goes on here: 16 more ticks (two cold-area checks)
base=$(e2e_ticks "/host$SERIAL")
while [ "$(e2e_ticks "/host$SERIAL")" -lt $((base + 16)) ] && [ "$(e2e_left)" -gt 60 ] &&
	kill -0 "$QEMU_PID"; do
	sleep 0.5
done
ktap_check "the guest runs on the destination ($(e2e_ticks "/host$SERIAL") ticks here)" \
	[ "$(e2e_ticks "/host$SERIAL")" -ge $((base + 16)) ]
sha=$(cold_sha)
e2e_qemu_stop

while kill -0 "$NC_PID" 2>/dev/null && [ "$(e2e_left)" -gt 10 ]; do
	sleep 0.5
done
kill "$NC_PID" 2>/dev/null
src_sha=$(sed -n 's/^cold-sha //p' /tmp/from-a)
sed 1d /tmp/from-a >/tmp/serial.a
cat /tmp/serial.a "/host$SERIAL" | tr -d '\r' >/tmp/serial.all
ktap_info "source: $(e2e_ticks /tmp/serial.a) ticks, then destination: $(e2e_ticks "/host$SERIAL") ticks"
ktap_info "around the switch: $(grep '^tick' /tmp/serial.a | tail -n 2 | tr '\n' ' ')|" \
	"$(grep '^tick' "/host$SERIAL" | head -n 2 | tr '\n' ' ')"
ktap_check "got the source's serial output" [ "$(e2e_ticks /tmp/serial.a)" -ge 3 ]
ktap_check "one boot, no failed memory check" \
	sh -c '[ "$(grep -c "^boot " /tmp/serial.all)" = 1 ] && ! grep -q BAD /tmp/serial.all'
ktap_check "the tick counter goes on without a gap or restart" e2e_ticks_ok /tmp/serial.all 20
ktap_check "the guest's cold-area checksum is the same before and after" sh -c \
	"[ \$(grep '^cold ' /tmp/serial.all | sort -u | wc -l) = 1 ] && grep -q '^cold ' '/host$SERIAL'"
ktap_check "region cold-area checksums match (${sha%"${sha#????????}"}...)" \
	[ "${src_sha:-none}" = "$sha" ]
ktap_check "ftpagectl done" ftpagectl "done" vm0
state=$(e2e_state)
ktap_check "destination region done ($state)" [ "$state" = "done" ]
ktap_check "destroy the destination region" retry 10 0.5 ftpagectl destroy vm0
ktap_finish

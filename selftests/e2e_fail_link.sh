#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm, end to end, failure: the link fails during post-copy.
# VM a runs the guest and migrates it to VM b with `ftpagectl migrate`
# (lib.sh e2e_*); once the guest runs on b, a takes its end of the link
# down (ip link set eth0 down):
#  1. for longer than rollback_after_ms (4 s here; post-copy without push,
#     so it stays in progress): the source kernel rolls back to the frozen
#     image, the source half resumes the paused QEMU, and the same guest
#     goes on from its tick at the pause. Link up again, b's kernel hears
#     it was rolled back: b's region is abandoned, its migrate fails.
#  2. for 1.5 s, shorter than the deadline, with the background push: the
#     kernel rides it out, the migration completes and is declared done;
#     the guest's tick counter goes on across a's and b's serial logs.
. "${FTP_TESTS:-/tests}/lib.sh"

CUT_S=1.5
SYNC_PORT=7462
LOG_PORT=7461

e2e_init

if [ "$FTP_ROLE" = a ]; then
	ktap_plan 16
	ktap_info "1. the link down for longer than rollback_after_ms"
	# (nc stops reading at the end of its stdin: keep that open)
	sleep "$(e2e_left)" | nc -l -p $SYNC_PORT >/tmp/from-b &
	SYNC_PID=$!
	e2e_src_begin --no-push
	ktap_check "the guest runs on the destination (pages served on demand)" e2e_src_served 64
	ip link set "$TWOVM_IF" down
	e2e_src_rolled_back 60
	ip link set "$TWOVM_IF" up
	ktap_info "link down; rolled back and resumed ${ROLLED_AFTER} s later" \
		"(lease ${E2E_LEASE_MS} ms, rollback after ${E2E_ROLLBACK_MS} ms)"
	# b says when it saw it was abandoned: our region must serve till then
	while ! grep -q abandoned /tmp/from-b && kill -0 "$SYNC_PID" 2>/dev/null &&
		[ "$(e2e_left)" -gt 200 ]; do
		sleep 0.5
	done
	kill "$SYNC_PID" 2>/dev/null
	ktap_info "b: $(cat /tmp/from-b)"
	e2e_qemu_stop
	ktap_check "destroy the source region" ftpagectl destroy vm0

	ktap_info "2. the link down for $CUT_S s, less than rollback_after_ms"
	e2e_src_begin
	state=$(e2e_state)
	ip link set "$TWOVM_IF" down
	sleep $CUT_S
	ip link set "$TWOVM_IF" up
	ktap_check "the cut came during post-copy (source region $state)" [ "$state" = frozen ]
	e2e_wait_exit "$MIG_PID" $(($(e2e_left) - 60))
	rc=$?
	sed 's/^/  /' /tmp/migrate.out
	ktap_check "ftpagectl migrate, source half: the migration is done (exit $rc)" sh -c \
		"[ $rc -eq 0 ] && grep -q 'declared the migration done' /tmp/migrate.out"
	state=$(e2e_state)
	ktap_check "source region done ($state)" [ "$state" = "done" ]
	e2e_wait_exit "$QEMU_PID" 20
	ktap_check "the source QEMU quit" [ $? -ne 124 ]
	e2e_qemu_stop
	retry 60 1 nc "$TWOVM_B_ADDR" "$LOG_PORT" <"/host$E2E_SERIAL"
	ktap_check "got the guest's serial output to b" [ $? -eq 0 ]
	ktap_check "destroy the source region" ftpagectl destroy vm0
	ktap_finish
fi

ktap_plan 10
# 1. the long cut
e2e_dest_begin
e2e_dest_migrate
ktap_check "ftpagectl migrate fails: the source rolled back (exit $MIG_RC)" sh -c \
	"[ $MIG_RC -eq 1 ] && grep -q 'the source rolled back' /tmp/migrate.out"
state=$(e2e_state)
ktap_check "the destination region is abandoned ($state)" [ "$state" = abandoned ]
retry 30 1 sh -c "echo 'abandoned after $(e2e_ticks) ticks here' | nc $TWOVM_A_ADDR $SYNC_PORT"
e2e_qemu_stop
ktap_check "destroy the destination region" retry 10 0.5 ftpagectl destroy vm0

# 2. the brief cut
# (nc stops reading at the end of its stdin: keep that open)
sleep "$(e2e_left)" | nc -l -p "$LOG_PORT" >/tmp/serial.a &
NC_PID=$!
e2e_dest_begin
e2e_dest_migrate
ktap_check "ftpagectl migrate completes across the cut (exit $MIG_RC)" [ "$MIG_RC" -eq 0 ]
state=$(e2e_state)
ktap_check "the migration is declared done ($state)" sh -c \
	"[ $state = done ] && grep -q 'migration declared done' /tmp/migrate.out"
base=$(e2e_ticks)
ktap_check "the guest runs on the destination" e2e_wait_ticks $((base + 10))
e2e_qemu_stop
while kill -0 "$NC_PID" 2>/dev/null && [ "$(e2e_left)" -gt 10 ]; do
	sleep 0.5
done
kill "$NC_PID" 2>/dev/null
cat /tmp/serial.a "/host$E2E_SERIAL" >/tmp/serial.all
ktap_info "source: $(e2e_ticks /tmp/serial.a) ticks, then destination: $(e2e_ticks) ticks"
ktap_check "the tick counter goes on from a to b: no restart, gap or BAD" \
	e2e_ticks_ok /tmp/serial.all 20
ktap_check "destroy the destination region" retry 10 0.5 ftpagectl destroy vm0
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm, end to end, failure: the destination host dies during
# post-copy, after it committed epochs. VM a runs the guest (lib.sh e2e_*),
# serves its region without push (post-copy stays in progress) and
# migrates it to VM b with `ftpagectl migrate`; b commits an epoch (with
# QEMU's device state) every 300 ms. Once an epoch was applied on a, a has
# the host kill VM b. The source kernel hears no heartbeat for
# rollback_after_ms (4 s here) and rolls the region back to the last
# applied epoch N; the source half reports it and resumes from epoch N by
# itself, with no step by hand: it quits the paused QEMU, starts it again
# (same command line, root and cwd) with -incoming defer and loads epoch N's
# device state into it. The guest goes on from where it was at epoch N on
# b: no boot, no BAD, ticks counting on from past the tick where a paused it.
# (Rollback to epoch 0, cont of the paused QEMU: e2e_fail_link.)
. "${FTP_TESTS:-/tests}/lib.sh"

e2e_init

if [ "$FTP_ROLE" = b ]; then
	# migrate until killed; reaching the end means a never had us killed
	e2e_dest_begin
	e2e_dest_migrate --commit-every 300
	ktap_bail "VM b was not killed (migrate exit $MIG_RC)"
fi

ktap_plan 10
e2e_src_begin --no-push
ktap_check "the guest runs on the destination (pages served on demand)" e2e_src_served 64
while [ "$(cat "/sys/class/ftpage/ftpage!vm0/committed_epoch")" -lt 2 ] &&
	[ "$(e2e_left)" -gt 120 ]; do
	sleep 0.2
done
epoch=$(cat "/sys/class/ftpage/ftpage!vm0/committed_epoch")
ktap_check "epochs of b applied here ($epoch)" [ "$epoch" -ge 2 ]
twovm_kill_peer
t0=$(date +%s)
# the rollback, then QEMU started again (exec over 9p is slow under TCG)
e2e_wait_exit "$MIG_PID" 180
rc=$?
ktap_info "VM b killed; the source rolled back and resumed $(($(date +%s) - t0)) s later" \
	"(lease ${E2E_LEASE_MS} ms, rollback after ${E2E_ROLLBACK_MS} ms)"
sed 's/^/  /' /tmp/migrate.out
epoch=$(cat "/sys/class/ftpage/ftpage!vm0/committed_epoch")
ktap_check "ftpagectl migrate reports the rollback to epoch $epoch and fails (exit $rc)" sh -c \
	"[ $rc -eq 1 ] && grep -q 'rolled region vm0 back to epoch $epoch' /tmp/migrate.out"
state=$(e2e_state)
ktap_check "the source region rolled back ($state)" [ "$state" = rolled-back ]
# the paused QEMU quit (our child: reap it); the one started again is not ours
wait "$QEMU_PID" 2>/dev/null
QEMU_PID=$(sed -n 's/.*the source QEMU runs again as pid \([0-9]*\).*/\1/p' /tmp/migrate.out)
# shellcheck disable=SC2317 # called by ktap_check
restarted() {
	[ -n "$QEMU_PID" ] && e2e_pid_alive "$QEMU_PID" &&
		grep -q "the guest runs on the source from epoch $epoch" /tmp/migrate.out &&
		! grep -q 'To run the guest' /tmp/migrate.out
}
ktap_check "it started the source QEMU again by itself (pid ${QEMU_PID:-?}) from epoch $epoch" \
	restarted
QEMU_PID=${QEMU_PID:-0}
ktap_check "the guest runs on the source again" e2e_wait_ticks 10
first=$(e2e_first_tick "/host$E2E_SERIAL")
ktap_info "paused here at tick $PAUSED_AT; resumed from epoch $epoch at tick ${first:-?}"
# shellcheck disable=SC2317 # called by ktap_check
resumed_ok() {
	[ "${first:-0}" -gt "$PAUSED_AT" ] && e2e_ticks_ok "/host$E2E_SERIAL" 10 0
}
ktap_check "it goes on from epoch $epoch, past tick $PAUSED_AT: no boot, no BAD, no gap" \
	resumed_ok
e2e_qemu_stop
ktap_check "destroy the source region" ftpagectl destroy vm0
ktap_finish

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm, end to end, failure: the destination host dies during
# post-copy. VM a runs the guest (lib.sh e2e_*), serves its region without
# push (post-copy stays in progress) and migrates it to VM b with
# `ftpagectl migrate`; once the guest runs on b (pages served on demand) a
# has the host kill VM b. The source kernel hears no heartbeat for
# rollback_after_ms (4 s here) and rolls the region back to the frozen
# image; the source half reports it and resumes the paused QEMU: the same
# guest goes on from the tick where it was paused, no restart, no BAD.
. "${FTP_TESTS:-/tests}/lib.sh"

e2e_init

if [ "$FTP_ROLE" = b ]; then
	# migrate until killed; reaching the end means a never had us killed
	e2e_dest_begin
	e2e_dest_migrate
	ktap_bail "VM b was not killed (migrate exit $MIG_RC)"
fi

ktap_plan 8
e2e_src_begin --no-push
ktap_check "the guest runs on the destination (pages served on demand)" e2e_src_served 64
twovm_kill_peer
e2e_src_rolled_back 90
ktap_info "VM b killed; rolled back and resumed ${ROLLED_AFTER} s later" \
	"(lease ${E2E_LEASE_MS} ms, rollback after ${E2E_ROLLBACK_MS} ms)"
e2e_qemu_stop
ktap_check "destroy the source region" ftpagectl destroy vm0
ktap_finish

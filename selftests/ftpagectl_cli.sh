#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ftpagectl command line: every subcommand on a real module, its exit
# codes and messages, status --json fields, sizes with suffixes.
. "${FTP_TESTS:-/tests}/lib.sh"

ktap_plan 23

fails() {	# fails CMD...: the command exits non-zero
	! "$@" >/tmp/cli.out 2>&1
}

json_has() {	# json_has KEY...: status --json of r1 names every KEY
	j=$(ftpagectl status r1 --json) || return 1
	for k in "$@"; do
		echo "$j" | grep -q "\"$k\":" || { echo "# missing $k in $j"; return 1; }
	done
}

ktap_check "version answers the API handshake" sh -c 'ftpagectl version | grep -q "^api 1 features"'
ktap_check "create r1 --size 64M" ftpagectl create r1 --size 64M
ktap_check "node /dev/ftpage/r1 exists" test -c /dev/ftpage/r1
ktap_check "create r1 again fails (exists)" sh -c 'fails() { ! "$@" >/tmp/cli.out 2>&1; }; fails ftpagectl create r1 --size 64M && grep -q "File exists" /tmp/cli.out'
ktap_check "bad size refused" fails ftpagectl create r2 --size 12x
ktap_check "bad role refused" fails ftpagectl create r2 --size 4K --role sideways
ktap_check "status --json has the documented fields" json_has name role state size \
	pages_total pages_present demand_faults pages_fetched pages_pushed bytes_rx \
	bytes_tx fault_latency_us p50 p99 max errors epoch committed_epoch journal_bytes \
	push_budget
ktap_check "status shows 16384 pages, state local" sh -c \
	'ftpagectl status r1 --json | grep -q "\"state\":\"local\",\"size\":67108864,\"pages_total\":16384"'
ktap_check "human status has a progress bar" sh -c 'ftpagectl status r1 | grep -q "pages present"'
ktap_check "freeze" ftpagectl freeze r1
ktap_check "state frozen in sysfs" sh -c '[ "$(cat /sys/class/ftpage/ftpage!r1/state)" = frozen ]'
ktap_check "commit on a source fails" fails ftpagectl commit r1
ktap_check "rollback of a frozen source works" ftpagectl rollback r1
ktap_check "checkpoint of epoch 0 is empty" sh -c \
	'ftpagectl checkpoint r1 --out /tmp/ck && [ ! -s /tmp/ck ]'
ktap_check "destroy r1" ftpagectl destroy r1
ktap_check "status of a missing region fails" fails ftpagectl status r1
# serve needs a key, or --insecure
ktap_check "create r3, a source" ftpagectl create r3 --size 1M
ktap_check "serve without --key-file or --insecure fails, says why" sh -c \
	'! ftpagectl serve r3 --listen 127.0.0.1:7499 >/tmp/cli.out 2>&1 && grep -q "has no key" /tmp/cli.out'
head -c 8 /dev/urandom >/tmp/short.key
ktap_check "an 8-byte key file is refused" fails ftpagectl serve r3 --listen 127.0.0.1:7499 \
	--key-file /tmp/short.key
head -c 32 /dev/urandom >/tmp/cli.key
ktap_check "serve --key-file" ftpagectl serve r3 --listen 127.0.0.1:7499 --key-file /tmp/cli.key
ktap_check "status: not insecure" sh -c 'ftpagectl status r3 --json | grep -q "\"insecure\":false"'
ktap_check "destroy r3" ftpagectl destroy r3
ktap_check "serve --insecure: status says insecure" sh -c \
	'ftpagectl create r4 --size 1M && ftpagectl serve r4 --listen 127.0.0.1:7498 --insecure &&
	 ftpagectl status r4 --json | grep -q "\"insecure\":true" && ftpagectl destroy r4'
ktap_finish

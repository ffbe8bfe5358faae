#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology twovm: VM b serves tcp_echo, VM a echoes 1 MiB through it over
# the VMs' link, then has the host kill VM b and shows that b is gone (a
# connect times out or the host is unreachable) within a bound.
. "${FTP_TESTS:-/tests}/lib.sh"

PORT=7002
BYTES=1048576

if [ "$FTP_ROLE" = b ]; then
	# serve until killed; reaching the end means a never had us killed
	end=$(($(date +%s) + ${FTP_TIMEOUT:-240} - 20))
	while [ "$(date +%s)" -lt "$end" ]; do
		tcp_echo -t 10 serve "$TWOVM_B_ADDR" "$PORT" 2>&1 | grep -v '^tcp_echo: timed out'
	done
	ktap_bail "VM b was not killed"
fi

ktap_plan 4
peer=$(twovm_peer_addr)
ktap_check "b reachable" retry 120 1 ping -c 1 -W 1 "$peer"

# b may come up later than a: retry while refused / unreachable / timed out
n=0
while :; do
	out=$(tcp_echo -t 10 client "$peer" "$PORT" "$BYTES" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 1 ] || [ $n -ge 60 ] && break
	n=$((n + 1))
	sleep 1
done
echo "$out"
ktap_check "echo of $BYTES bytes through b verified" \
	sh -c "[ $rc -eq 0 ] && echo \"\$1\" | grep -q 'bytes echoed, checksum .*, ok\$'" _ "$out"

twovm_kill_peer
# b's server restarts at once after each connection, so "refused" means b
# is still alive; a dead b does not answer at all.
t0=$(date +%s)
dead=
while [ $(($(date +%s) - t0)) -lt 60 ]; do
	out=$(tcp_echo -t 3 client "$peer" "$PORT" 1024 2>&1)
	rc=$?
	echo "$out"
	if [ $rc -eq 124 ] || echo "$out" | grep -q 'No route to host'; then
		dead=1
		break
	fi
	sleep 0.5
done
ktap_check "connect to b fails after killing it ($(($(date +%s) - t0)) s)" [ -n "$dead" ]
ktap_check "ping to b fails" sh -c "! ping -c 2 -W 1 $peer >/dev/null"
ktap_finish

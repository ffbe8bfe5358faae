#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology pair: 1 MiB through tcp_echo from netns ftpb to a server in ftpa
# across the veth pair.
. "${FTP_TESTS:-/tests}/lib.sh"

PORT=7001
BYTES=1048576

ktap_plan 4
pair_setup
trap pair_teardown EXIT

ktap_check "ftpb reaches ftpa" retry 10 0.5 in_b ping -c 1 -W 1 "$PAIR_A_ADDR"

in_a tcp_echo -t 20 serve "$PAIR_A_ADDR" "$PORT" &
srv=$!
# the server is up when a connect succeeds: the client retries
out=
n=0
while [ $n -lt 20 ]; do
	out=$(in_b tcp_echo -t 20 client "$PAIR_A_ADDR" "$PORT" "$BYTES" 2>&1)
	rc=$?
	[ $rc -ne 3 ] && break	# 3: refused, server not listening yet
	n=$((n + 1))
	sleep 0.2
done
echo "$out"
ktap_check "client echoed $BYTES bytes" [ "$rc" -eq 0 ]
ktap_check "client verified the content" \
	sh -c "echo \"\$1\" | grep -q \"^tcp_echo: $BYTES bytes echoed, checksum [0-9a-f]*, ok\$\"" _ "$out"
wait "$srv"
ktap_check "server exited 0" [ $? -eq 0 ]
ktap_finish

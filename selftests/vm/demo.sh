#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: live-migrate a running QEMU/KVM guest between two test VMs
# with ftpage, and show it as it happens.
#
#   demo.sh [--kernel 6.1|6.12] [--fail dest|link]
#
# Runs the end-to-end test (selftests/e2e_qemu.sh, topology twovm) with
# vm/run.sh and follows both VMs' consoles: VM a starts the guest and the
# source half of `ftpagectl migrate`, VM b the destination QEMU and the
# half that drives the migration and prints the progress. Ends with the
# migration's report and the test's verdict.
#
# --fail dest|link (make demo FAIL=...): the failure demos run the tests
# e2e_fail_dest (VM b is killed during post-copy) / e2e_fail_link (the
# link is cut for longer than rollback_after_ms, then briefly): the source
# kernel rolls back and the guest runs on the source again.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM="$REPO/selftests/vm"
KERNEL=6.1
FAIL=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2:?}; shift 2 ;;
	--fail) FAIL=${2:-}; shift 2 ;;
	*) sed -n '3,18s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

TEST=e2e_qemu
case "$FAIL" in
'') ;;
dest | link)
	TEST=e2e_fail_$FAIL
	if ! grep -q "^${TEST}[[:space:]]" "$REPO/selftests/TESTS"; then
		echo "demo: FAIL=$FAIL shows the kernel rolling the guest back to the source;"
		echo "demo: that needs the fault-tolerance work in progress (test $TEST is not there yet)."
		exit 2
	fi
	;;
*) echo "demo: FAIL=$FAIL: want dest or link" >&2; exit 2 ;;
esac

ABI=$("$VM/setup.sh" abi "$KERNEL")
OUT="$REPO/selftests/build/vm/$ABI"
LOG="$REPO/selftests/build/vm/demo.log"
mkdir -p "$OUT"
rm -f "$OUT/$TEST.a.log" "$OUT/$TEST.b.log"

echo "demo: two test VMs (QEMU/TCG, Debian $KERNEL kernel, ${ABI}), joined by a link;"
echo "demo: in each, Debian's QEMU with KVM (nested) and its guest RAM in /dev/ftpage/vm0."
echo "demo: VM a = source, VM b = destination. Setup and build log: $LOG"
echo

"$VM/run.sh" --kernel "$KERNEL" --test "$TEST" >"$LOG" 2>&1 &
RUN=$!
TAILS=()
cleanup() {
	local p
	for p in "${TAILS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'kill $RUN 2>/dev/null; exit 130' INT TERM

# follow LOG LABEL: the test's own lines of a console log, as they come
follow() {
	tail -n +1 -F "$1" 2>/dev/null |
		sed -un -e 's/\r$//' -e '/^# init:/d' -e '/^# TAP version/d' -e '/^# 1\.\./d' \
			-e "s/^# /[$2] /p"
}
follow "$OUT/$TEST.a.log" "source " &
TAILS+=($!)
follow "$OUT/$TEST.b.log" "dest   " &
TAILS+=($!)

rc=0
wait "$RUN" || rc=$?
sleep 1
cleanup
TAILS=()

echo
echo "==== report"
if [ -n "$FAIL" ] && [ -f "$OUT/$TEST.a.log" ]; then
	tr -d '\r' <"$OUT/$TEST.a.log" |
		grep -E '^# (# |(  )?ftpagectl(: migration| migrate: (the (destination|guest runs|source QEMU runs)|quitting|cannot resume))|  (To run|  [0-9]\.|    ))' |
		sed -e 's/^# # /  /' -e 's/^# \(  \)\{0,1\}//'
elif [ -f "$OUT/$TEST.b.log" ]; then
	tr -d '\r' <"$OUT/$TEST.b.log" | sed -n '/^# migration of .* \(complete\|done\)/,/^# ok [0-9]/p' |
		sed -e '/^# ok [0-9]/d' -e 's/^# //'
fi
grep -E '^\[time\] .*(boot|total)' "$LOG" || true
tail -n 1 "$LOG"
if [ $rc -eq 0 ]; then
	if [ -n "$FAIL" ]; then
		echo "demo: the source rolled back and the guest ran on there; every check passed."
	else
		echo "demo: the guest moved live; every check passed (counter, memory, checksums)."
	fi
else
	echo "demo: FAILED; see $LOG and the console logs in $OUT"
fi
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_out.sh LOG DIR: take the files tools/ftpbench printed on the test
# VM's console (bench.txt, bench.json, bench.gp between
# "@@FTPAGE-BENCH-FILE <name>@@" and "@@FTPAGE-BENCH-END@@") out of LOG into
# DIR, add the host's CPU to them, render bench.gp into bench.png with
# gnuplot (Debian's gnuplot-nox, installed on demand) and print bench.txt.
# Called by run.sh --bench.

set -euo pipefail

VM=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log=$1
dir=$2
mkdir -p "$dir"
rm -f "$dir"/bench.{txt,json,gp,png}
tr -d '\r' <"$log" | awk -v dir="$dir" '
	/^# @@FTPAGE-BENCH-FILE [a-z.]+@@$/ {
		f = $3; sub(/@@$/, "", f); out = dir "/" f; printf "" >out; next
	}
	/^# @@FTPAGE-BENCH-END@@$/ { if (out != "") close(out); out = ""; next }
	out != "" { sub(/^# ?/, ""); print >>out }'
for f in bench.txt bench.json bench.gp; do
	[ -s "$dir/$f" ] || { echo "bench_out.sh: no $f in $log" >&2; exit 1; }
done

host=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1 | tr -d '"\\')
host="${host:-unknown CPU}, $(nproc) cores, QEMU $(qemu-system-x86_64 --version |
	sed -n '1s/.*version \([^ ]*\).*/\1/p')"
# other VMs on the host slow this one down: say how busy it was
load=$(cut -d' ' -f1-3 /proc/loadavg)
sed -i "1s|^|host: $host, load average $load at the end; the test VM below runs on it under TCG\n|" \
	"$dir/bench.txt"
sed -i "0,/^{/s|^{|{\n  \"host\": \"$host\", \"host_loadavg\": \"$load\",|" "$dir/bench.json"

if ! command -v gnuplot >/dev/null; then
	"$VM/setup.sh" install gnuplot-nox || true
fi
if command -v gnuplot >/dev/null; then
	(cd "$dir" && gnuplot bench.gp) || echo "bench_out.sh: gnuplot failed" >&2
else
	echo "bench_out.sh: no gnuplot: no bench.png" >&2
fi
echo
cat "$dir/bench.txt"
echo
echo "bench: $(cd "$dir" && ls bench.* | sed "s|^|$dir/|" | xargs)"

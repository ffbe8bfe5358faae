#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_out.sh LOG DIR [NAME]: take the files a benchmark tool printed on
# the test VM's console (NAME.txt, NAME.json and, if there is one, NAME.gp
# between "@@FTPAGE-BENCH-FILE <name>@@" and "@@FTPAGE-BENCH-END@@") out of
# LOG into DIR, add the host's CPU to them, render NAME.gp into NAME.png
# with gnuplot (Debian's gnuplot-nox, installed on demand) and print
# NAME.txt. NAME: bench (tools/ftpbench, the default) or wan (tools/ftpwan).
# Called by run.sh --bench / --bench-wan.

set -euo pipefail

VM=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log=$1
dir=$2
name=${3:-bench}
mkdir -p "$dir"
rm -f "$dir/$name".{txt,json,gp,png}
tr -d '\r' <"$log" | awk -v dir="$dir" '
	/^# @@FTPAGE-BENCH-FILE [a-z.]+@@$/ {
		f = $3; sub(/@@$/, "", f); out = dir "/" f; printf "" >out; next
	}
	/^# @@FTPAGE-BENCH-END@@$/ { if (out != "") close(out); out = ""; next }
	out != "" { sub(/^# ?/, ""); print >>out }'
want="$name.txt $name.json"
[ "$name" = bench ] && want="$want bench.gp"
for f in $want; do
	[ -s "$dir/$f" ] || { echo "bench_out.sh: no $f in $log" >&2; exit 1; }
done

host=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1 | tr -d '"\\')
host="${host:-unknown CPU}, $(nproc) cores, QEMU $(qemu-system-x86_64 --version |
	sed -n '1s/.*version \([^ ]*\).*/\1/p')"
# other VMs on the host slow this one down: say how busy it was
load=$(cut -d' ' -f1-3 /proc/loadavg)
sed -i "1s|^|host: $host, load average $load at the end; the test VM below runs on it under TCG\n|" \
	"$dir/$name.txt"
sed -i "0,/^{/s|^{|{\n  \"host\": \"$host\", \"host_loadavg\": \"$load\",|" "$dir/$name.json"

if [ -s "$dir/$name.gp" ]; then
	if ! command -v gnuplot >/dev/null; then
		"$VM/setup.sh" install gnuplot-nox || true
	fi
	if command -v gnuplot >/dev/null; then
		(cd "$dir" && gnuplot "$name.gp") || echo "bench_out.sh: gnuplot failed" >&2
	else
		echo "bench_out.sh: no gnuplot: no $name.png" >&2
	fi
fi
echo
cat "$dir/$name.txt"
echo
echo "$name: $(cd "$dir" && ls "$name".* | sed "s|^|$dir/|" | xargs)"

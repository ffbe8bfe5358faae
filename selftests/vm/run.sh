#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the selftests in QEMU test VMs (TCG, nested KVM inside) booting
# Debian's stock 6.1 and 6.12 kernels.
#
#   run.sh [--kernel 6.1|6.12]... [--test NAME]... [--extra DIR]
#   run.sh --bench DIR [--kernel 6.1|6.12]
#   run.sh --bench-wan DIR [--kernel 6.1|6.12]
#
#   --kernel K   kernel(s) to test (repeat or comma-separate); default both
#   --test NAME  run only these tests (repeat or comma-separate)
#   --extra DIR  also run every executable in DIR as a test
#                (topology single, module loaded, timeout 300 s)
#   --bench DIR  instead of the tests, run the benchmark (tools/ftpbench,
#                topology pair, kernel 6.1 unless given, timeout
#                $FTP_BENCH_TIMEOUT or 900 s); table, JSON, chart into DIR
#   --bench-wan DIR  the same with the WAN benchmark (tools/ftpwan: push
#                over a long capped link, 1..8 streams); wan.txt, wan.json
#
# Expects the userspace tools and tests built (make -C userspace, make -C
# selftests: the top-level `make test` does both); builds the module per
# kernel into ${XDG_CACHE_HOME:-~/.cache}/ftpage/build/<abi>.
# Manifest: selftests/TESTS.  All single/pair tests of a kernel run in one
# boot; each twovm test gets its own pair of VMs.  Logs, initramfs:
# selftests/build/vm/<abi>/.
#
# Environment:
#   CI=true       a skipped test counts as a failure
#   FTP_KO_DIR    use FTP_KO_DIR/<abi>/ftpage.ko instead of building the
#                 module (for working on the runner itself)
#   FTP_BOOT_MARGIN  seconds added to the sum of the tests' timeouts to
#                 bound a boot (default 120); the VM is killed after that
#
# Last line: "N passed, N failed[, N skipped]"; exit status 1 if anything
# failed.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ST="$REPO/selftests"
VM="$ST/vm"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ftpage"
OUT="$ST/build/vm"
BAD_RE='WARNING:|BUG:|Oops|general protection fault|blocked for more than|soft lockup|hard LOCKUP|Call Trace'
# bump when the packed base (busybox, kernel modules) changes
BASE_VERSION=2
BASE_MODULES="kvm_amd virtio_net net_failover failover virtio_ring virtio
virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet 9pnet_virtio netfs
fscache 9p veth sch_netem sch_tbf sch_htb cls_u32 gcm ctr ghash_generic aesni_intel tcp_bbr
tcp_diag"

usage() {
	sed -n '3,37s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

KERNELS=()
SELECT=()
EXTRA=
BENCH=
BENCH_TOOL=ftpbench
BENCH_NAME=bench
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) [ $# -ge 2 ] || usage; IFS=, read -ra k <<<"$2"; KERNELS+=("${k[@]}"); shift 2 ;;
	--test) [ $# -ge 2 ] || usage; IFS=, read -ra k <<<"$2"; SELECT+=("${k[@]}"); shift 2 ;;
	--extra) [ $# -ge 2 ] || usage; EXTRA=$2; shift 2 ;;
	--bench) [ $# -ge 2 ] || usage; BENCH=$(realpath -m "$2"); shift 2 ;;
	--bench-wan)
		[ $# -ge 2 ] || usage
		BENCH=$(realpath -m "$2") BENCH_TOOL=ftpwan BENCH_NAME=wan
		shift 2
		;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -z "$BENCH" ] || [ ${#KERNELS[@]} -gt 0 ] || KERNELS=(6.1)
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(6.1 6.12)
for k in "${KERNELS[@]}"; do
	case "$k" in 6.1 | 6.12) ;; *) echo "run.sh: unknown kernel '$k'" >&2; exit 2 ;; esac
done

msg() { echo "run.sh: $*"; }
now_ms() { date +%s%3N; }
T_STAGE=0
stage_begin() { T_STAGE=$(now_ms); }
# stage_end LABEL
stage_end() {
	local d=$(($(now_ms) - T_STAGE))
	printf '[time] %-40s %4d.%ds\n' "$1" $((d / 1000)) $(((d % 1000) / 100))
}

T_START=$(now_ms)
QEMU_PIDS=()
cleanup() {
	local p
	for p in "${QEMU_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- manifest ---------------------------------------------------------------

declare -A TOPO TMO FLAGS SRC
ORDER=()
while read -r name topo tmo flags; do
	case "$name" in '' | '#'*) continue ;; esac
	case "$topo" in single | pair | twovm) ;; *)
		echo "run.sh: TESTS: $name: bad topology '$topo'" >&2; exit 2 ;;
	esac
	[[ "$tmo" =~ ^[0-9]+$ ]] || { echo "run.sh: TESTS: $name: bad timeout '$tmo'" >&2; exit 2; }
	flags=${flags%%#*}
	TOPO[$name]=$topo TMO[$name]=$tmo FLAGS[$name]=$(echo "$flags" | xargs) # normalise spaces
	SRC[$name]="$ST/build/$name"
	ORDER+=("$name")
done <"$ST/TESTS"

if [ -n "$EXTRA" ]; then
	[ -d "$EXTRA" ] || { echo "run.sh: --extra $EXTRA: not a directory" >&2; exit 2; }
	for f in "$EXTRA"/*; do
		if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
		name=$(basename "$f")
		if [ -n "${TOPO[$name]:-}" ]; then
			echo "run.sh: extra test $name clashes with a TESTS entry" >&2
			exit 2
		fi
		TOPO[$name]=single TMO[$name]=300 FLAGS[$name]='' SRC[$name]=$f
		ORDER+=("$name")
	done
fi

# --bench: the benchmark binary as the only test, /tests/bench in the VM
if [ -n "$BENCH" ]; then
	TOPO[bench]=pair TMO[bench]=${FTP_BENCH_TIMEOUT:-900} FLAGS[bench]=''
	SRC[bench]="$ST/build/tools/$BENCH_TOOL"
	SELECT=(bench)
fi

if [ ${#SELECT[@]} -eq 0 ]; then
	SELECT=("${ORDER[@]}")
else
	for name in "${SELECT[@]}"; do
		[ -n "${TOPO[$name]:-}" ] ||
			{ echo "run.sh: unknown test '$name' (not in selftests/TESTS)" >&2; exit 2; }
	done
fi
[ ${#SELECT[@]} -gt 0 ] || { echo "run.sh: no tests" >&2; exit 2; }

# ---- results ----------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0
SUMMARY=()
# result KERNEL NAME ok|fail|skip [DETAIL]
result() {
	local k=$1 name=$2 r=$3 detail=${4:-}
	if [ "$r" = skip ] && [ "${CI:-}" = true ]; then
		r=fail
		detail="skipped in CI: $detail"
	fi
	case "$r" in
	ok) PASSED=$((PASSED + 1)) ;;
	skip) SKIPPED=$((SKIPPED + 1)) ;;
	*) FAILED=$((FAILED + 1)) ;;
	esac
	SUMMARY+=("$(printf '%-5s %-4s %-24s %s' "$k" "$r" "$name" "$detail")")
	printf 'run.sh: %-5s %-4s %s%s\n' "$k" "$r" "$name" "${detail:+ ($detail)}"
}

# ---- host packages ----------------------------------------------------------

stage_begin
"$VM/setup.sh" deps
BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -n "$BUSYBOX" ] || { echo "run.sh: busybox not found" >&2; exit 1; }
stage_end "package setup"

# Tests' binaries: a test named in the manifest without one is a build failure.
MISSING=()
RUNNABLE=()
for name in "${SELECT[@]}"; do
	if [ -f "${SRC[$name]}" ] && [ -x "${SRC[$name]}" ]; then
		RUNNABLE+=("$name")
	else
		MISSING+=("$name")
	fi
done
[ -x "$REPO/userspace/ftpagectl" ] || msg "note: userspace/ftpagectl is not built"
for f in "$ST"/build/*; do
	[ -f "$f" ] && [ -z "${TOPO[$(basename "$f")]:-}" ] &&
		msg "note: $(basename "$f") is built but not listed in selftests/TESTS"
done

# ---- initramfs --------------------------------------------------------------

# build_base ABI ROOT: print the path of the cached base archive (busybox,
# kernel modules with their dependencies, modules.dep)
build_base() {
	local abi=$1 root=$2 key f st m line p rel app
	key=$({
		echo "$BASE_VERSION $abi $BASE_MODULES"
		sha256sum "$BUSYBOX"
		stat -c %Y "$root/.ftpage-ready"
	} | sha256sum | cut -c1-16)
	f="$CACHE/initrd/$abi-base-$key.cpio.gz"
	if [ -f "$f" ]; then
		echo "$f"
		return
	fi
	mkdir -p "$CACHE/initrd"
	rm -f "$CACHE/initrd/$abi-base-"*
	st=$(mktemp -d "$CACHE/initrd/stage.XXXXXX")
	mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,host,etc,root}
	mkdir -p "$st/lib/modules/$abi"
	cp "$BUSYBOX" "$st/bin/busybox"
	while read -r app; do
		[ "$app" = bin/busybox ] && continue
		mkdir -p "$st/$(dirname "$app")"
		ln -sf /bin/busybox "$st/$app"
	done < <("$BUSYBOX" --list-full)
	for m in $BASE_MODULES; do
		if ! line=$(modprobe -d "$root" -S "$abi" --show-depends "$m" 2>&1); then
			echo "run.sh: note: module $m not in $abi" >&2
			continue
		fi
		while read -r line; do
			case "$line" in
			insmod\ *)
				p=$(echo "$line" | awk '{ print $2 }')
				rel=${p#"$root"/}
				rel=${rel%.xz}
				[ -f "$st/$rel" ] && continue
				mkdir -p "$st/$(dirname "$rel")"
				case "$p" in
				*.xz) xz -dc "$p" >"$st/$rel" ;;
				*) cp "$p" "$st/$rel" ;;
				esac
				;;
			esac
		done <<<"$(modprobe -d "$root" -S "$abi" --show-depends "$m")"
	done
	cp "$root/lib/modules/$abi"/modules.{builtin,builtin.modinfo,order} \
		"$st/lib/modules/$abi/" 2>/dev/null || true
	depmod -b "$st" "$abi"
	mknod -m 600 "$st/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$st/dev/null" c 1 3 2>/dev/null || true
	(cd "$st" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$f.tmp"
	mv "$f.tmp" "$f"
	rm -rf "$st"
	echo "$f"
}

# build_initrd ABI BASE KO DEST TESTS...: the base plus an archive of init,
# tests, tools and the module
build_initrd() {
	local abi=$1 base=$2 ko=$3 dest=$4 st name t
	shift 4
	st=$(mktemp -d "$OUT/stage.XXXXXX")
	mkdir -p "$st/tests" "$st/usr/bin" "$st/lib/ftpage"
	install -m 0755 "$VM/init.sh" "$st/init"
	install -m 0644 "$ST/lib.sh" "$st/tests/lib.sh"
	: >"$st/tests/TESTS"
	for name in "$@"; do
		install -m 0755 "${SRC[$name]}" "$st/tests/$name"
		echo "$name ${TOPO[$name]} ${TMO[$name]} ${FLAGS[$name]}" >>"$st/tests/TESTS"
	done
	for t in "$ST"/build/tools/*; do
		[ -f "$t" ] && [ -x "$t" ] && install -m 0755 "$t" "$st/usr/bin/"
	done
	# guests for QEMU in the VM (selftests/guest/)
	for t in "$ST"/build/guest/*.elf; do
		[ -f "$t" ] && install -m 0644 "$t" "$st/lib/ftpage/"
	done
	[ -x "$REPO/userspace/ftpagectl" ] &&
		install -m 0755 "$REPO/userspace/ftpagectl" "$st/usr/bin/ftpagectl"
	if [ -n "$ko" ]; then
		if command -v strip >/dev/null; then
			strip --strip-debug -o "$st/lib/ftpage/ftpage.ko" "$ko"
		else
			cp "$ko" "$st/lib/ftpage/ftpage.ko"
		fi
	fi
	{
		cat "$base"
		(cd "$st" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1
	} >"$dest"
	rm -rf "$st"
}

# ---- VMs --------------------------------------------------------------------

port_busy() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }'
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		port_busy "$p" || { echo "$p"; return; }
	done
}

# Guest RAM in MiB. The single/pair boot holds both regions of a pair test
# in one VM: epoch_seal_bench's 100,000-page epoch is 391 MiB in the dest,
# 391 MiB in the source region and 391 MiB staged on the source at once.
# A twovm VM holds one side.
MEM_SINGLE=2048
MEM_TWOVM=1024

# qemu_start LOG MEM APPEND NETARGS...: start a VM with MEM MiB in the
# background, set QPID
qemu_start() {
	local log=$1 mem=$2 append=$3
	shift 3
	qemu-system-x86_64 -accel tcg -cpu max -m "$mem" -smp 2 \
		-kernel "$VMLINUZ" -initrd "$INITRD" \
		-append "console=ttyS0 loglevel=5 panic=-1 $append" \
		-nographic -no-reboot -nic none \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"$@" </dev/null >"$log" 2>&1 &
	QPID=$!
	QEMU_PIDS+=("$QPID")
}

# kill_vms ROLE:PID:LOG...: every one of them, at once
kill_vms() {
	local spec pid
	for spec in "$@"; do
		IFS=: read -r _ pid _ <<<"$spec"
		kill -9 "$pid" 2>/dev/null || true
	done
}

# watch_vms TIMEOUT ROLE:PID:LOG...: wait for the VMs to power off; kill a
# VM on request of another (magic console line) or all on timeout.  The
# first VM is a: after it powers off the others get A_GRACE more seconds.
# Sets KILLED_<role>=1 and TIMEDOUT (empty, timeout, or grace).
A_GRACE=60
watch_vms() {
	local timeout=$1 deadline spec role pid log alive target a_done='' seen=''
	local loaded=''
	shift
	deadline=$(($(date +%s) + timeout))
	TIMEDOUT=
	KILLED_a='' KILLED_b=
	while :; do
		alive=
		for spec in "$@"; do
			IFS=: read -r role pid log <<<"$spec"
			kill -0 "$pid" 2>/dev/null && alive=1
			# shellcheck disable=SC2013
			for target in $(grep -ao '@@FTPAGE-HOST kill [ab]@@' "$log" 2>/dev/null |
				sed 's/.*kill \([ab]\)@@/\1/' | sort -u); do
				[ "$target" = "$role" ] && continue
				local v="KILLED_$target"
				[ -n "${!v}" ] && continue
				for s in "$@"; do
					IFS=: read -r r2 p2 _ <<<"$s"
					if [ "$r2" = "$target" ]; then
						kill -9 "$p2" 2>/dev/null || true
						printf -v "$v" 1
						msg "killed VM $target on request of VM $role"
					fi
				done
			done
		done
		[ -z "$alive" ] && break
		# a VM that reports a crash or lockup before ftpage was ever loaded
		# (the emulator's doing, emu_crash) is stopped now: it boots again,
		# rather than hang until the boot's timeout
		for spec in "$@"; do
			IFS=: read -r role pid log <<<"$spec"
			[[ " $loaded " == *" $role "* ]] && continue
			if grep -qaF "$LOADED_MSG" "$log" 2>/dev/null; then
				loaded="$loaded $role"
			elif grep -av '^# ' "$log" 2>/dev/null |
				grep -qaE "$BAD_RE|Kernel panic"; then
				loaded="$loaded $role"
				msg "VM $role: a kernel report before ftpage was loaded: stopping it"
				kill_vms "$spec"
			fi
		done
		# a VM the emulator crashed (not one killed on request) stops the
		# others at once: the test boots again whole (boot_twovm)
		for spec in "${@:2}"; do
			IFS=: read -r role pid log <<<"$spec"
			local k="KILLED_$role"
			if [[ " $seen " == *" $role "* ]] || [ -n "${!k}" ] ||
				kill -0 "$pid" 2>/dev/null; then
				continue
			fi
			seen="$seen $role"
			emu_crash "$log" || continue
			msg "VM $role crashed in QEMU's making: stopping the others"
			kill_vms "$@"
		done
		# once VM a is done, the others get a bounded grace period
		if [ $# -gt 1 ] && [ -z "$a_done" ]; then
			IFS=: read -r role pid log <<<"$1"
			if ! kill -0 "$pid" 2>/dev/null; then
				a_done=1
				if [ $(($(date +%s) + A_GRACE)) -lt "$deadline" ]; then
					deadline=$(($(date +%s) + A_GRACE))
				fi
			fi
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			if [ -n "$a_done" ]; then
				TIMEDOUT=grace
				msg "VM a powered off ${A_GRACE}s ago: killing the other VMs"
			else
				TIMEDOUT=timeout
				msg "timeout after ${timeout}s: killing QEMU"
			fi
			kill_vms "$@"
		fi
		sleep 0.5
	done
	for spec in "$@"; do
		IFS=: read -r role pid log <<<"$spec"
		{ wait "$pid"; } 2>/dev/null || true
	done
}

# tap_result LOG NAME: print "ok", "skip REASON", "fail DETAIL" or "missing"
tap_result() {
	local line
	line=$(tr -d '\r' <"$1" | grep -aE "^(not )?ok [0-9]+ $2( |\$)" | tail -n1 || true)
	case "$line" in
	"") echo missing ;;
	"not ok "*) echo "fail ${line#*# }" ;;
	*"# SKIP"*)
		line=${line#*# SKIP}
		echo "skip ${line#"${line%%[! ]*}"}"
		;;
	*) echo ok ;;
	esac
}

# finished LOG: did the VM's init get to the end?
finished() {
	# no grep -q: it would close the pipe early, and under pipefail tr's
	# SIGPIPE would make a finished log look unfinished
	tr -d '\r' <"$1" | grep -a '^@@FTPAGE-DMESG-END@@' >/dev/null
}

# bad_kernel_log LOG: print console lines matching the bad patterns (test
# output, indented "# ", excluded)
bad_kernel_log() {
	tr -d '\r' <"$1" | grep -av '^# ' | grep -aE "$BAD_RE" || true
}

# emu_crash LOG: did this boot end in a crash of QEMU's making, not ours?
# Two kinds. Any oops or panic before ftpage was ever loaded: none of our
# code ran. And an "Oops: int3" whose int3 is gone from the code it
# trapped in: TCG (MTTCG) has been seen to run a stale translation of a
# static-key site after text_poke_bp() rewrote it (a flip while a module
# loads, KVM's preempt notifiers, sched_clock going stable), so the int3
# belongs to no patch and the kernel dies. The kernel's "Code:" line shows
# the bytes as they are now, RIP (just after the int3) marked <..>: a byte
# other than cc before it means the int3 was a patch in flight. An int3 that
# is really there (padding, or after a ret, reached by a wild jump) shows
# cc and is ours to fail, and so is any other oops, WARNING or BUG first,
# unless its register dump shows EFLAGS no CPU can have (bits 22-63).
INT3_RE='int3: [0-9a-f]{4} \[#'	# 6.12 says "Oops: " before it, 6.1 not
LOADED_MSG='ftpage: loading out-of-tree module'	# its first load says so
emu_crash() {
	local log first code flags
	log=$(tr -d '\r' <"$1" | grep -av '^# ' || true)
	first=$(grep -aE "$BAD_RE|Kernel panic|$INT3_RE" <<<"$log" | head -n1)
	[ -n "$first" ] || return 1
	grep -qaF "$LOADED_MSG" <<<"$log" || return 0
	# the first report's flags with a reserved bit (22-63) set: no x86
	# CPU can, TCG has been seen to (a kernel #DB with TF among them)
	flags=$(grep -aF -A20 -m1 "$first" <<<"$log" |
		grep -aoE -m1 'EFLAGS: [0-9a-f]+' || true)
	[ -n "$flags" ] && (( (16#${flags#EFLAGS: } >> 22) != 0 )) && return 0
	grep -qaE "$INT3_RE" <<<"$first" || return 1
	code=$(grep -aEA12 -m1 "$INT3_RE" <<<"$log" |
		grep -a -m1 ' Code: ' || true)
	[[ "$code" =~ \ ([0-9a-f]{2})\ \<[0-9a-f]{2}\> ]] &&
		[ "${BASH_REMATCH[1]}" != cc ]
}

# retry_boot K N LOG...: after boot N (from 1) of at most BOOT_TRIES:
# true, and the logs kept as LOG.crashN, when one of them shows an
# emu_crash, for the caller to boot again
BOOT_TRIES=3
EMU_CRASHES=0
retry_boot() {
	local k=$1 n=$2 log l
	shift 2
	[ "$n" -lt $BOOT_TRIES ] || return 1
	for log in "$@"; do
		emu_crash "$log" || continue
		msg "$k: $(basename "$log"): the kernel crashed in QEMU's making" \
			"(see emu_crash), booting again:"
		tr -d '\r' <"$log" | grep -av '^# ' |
			grep -aE "$BAD_RE|Kernel panic|$INT3_RE|RIP:|Code:" |
			head -n 4 || true
		for l in "$@"; do
			mv "$l" "$l.crash$n"
		done
		EMU_CRASHES=$((EMU_CRASHES + 1))
		return 0
	done
	return 1
}

# show_log LOG: the console log without the dmesg dump (unless it has
# something bad)
show_log() {
	echo "----- $1"
	tr -d '\r' <"$1" | sed '/^@@FTPAGE-DMESG-BEGIN@@/,/^@@FTPAGE-DMESG-END@@/d'
	if tr -d '\r' <"$1" | sed -n '/^@@FTPAGE-DMESG-BEGIN@@/,/^@@FTPAGE-DMESG-END@@/p' |
		grep -qaE "$BAD_RE"; then
		echo "----- kernel log"
		tr -d '\r' <"$1" | sed -n '/^@@FTPAGE-DMESG-BEGIN@@/,/^@@FTPAGE-DMESG-END@@/p'
	fi
	echo "----- end of $1"
}

# boot_timeout TESTS...: sum of the tests' timeouts plus a margin for the
# boot and the per-test work of init (FTP_BOOT_MARGIN seconds, default 120)
boot_timeout() {
	local t=${FTP_BOOT_MARGIN:-120} name
	for name in "$@"; do
		t=$((t + TMO[$name] + 10))
	done
	echo "$t"
}

# boot_single K ABI TESTS...: one VM running the tests in order; after an
# emu_crash, another running those without a result (the one the crash
# cut short among them)
boot_single() {
	local k=$1 abi=$2 log r bad failed=0 name attempt tmo logs=() left l
	shift 2
	log="$OUT/$abi/single.log"
	left=("$@")
	stage_begin
	for attempt in $(seq $BOOT_TRIES); do
		tmo=$(boot_timeout "${left[@]}")
		qemu_start "$log" "$MEM_SINGLE" "ftp.tests=$(IFS=,; echo "${left[*]}") ftp.role=a ftp.boot=$attempt"
		watch_vms "$tmo" "a:$QPID:$log"
		retry_boot "$k" "$attempt" "$log" || break
		logs+=("$log.crash$attempt")
		l=("${left[@]}")
		left=()
		for name in "${l[@]}"; do
			[ "$(tap_result "$log.crash$attempt" "$name")" = missing ] && left+=("$name")
		done
		# crashed after the last test: nothing to boot for (the
		# log stays where --bench looks for its output too)
		if [ ${#left[@]} -eq 0 ]; then
			cp "$log.crash$attempt" "$log"
			log=
			break
		fi
	done
	[ -z "$log" ] || logs+=("$log")
	stage_end "$k boot: $# single/pair tests"
	for name in "$@"; do
		r=missing
		for l in "${logs[@]}"; do
			[ "$r" = missing ] && r=$(tap_result "$l" "$name")
		done
		case "$r" in
		ok) result "$k" "$name" ok ;;
		skip*) result "$k" "$name" skip "${r#skip }" ;;
		fail*) result "$k" "$name" fail "${r#fail }"; failed=1 ;;
		missing)
			result "$k" "$name" fail "no result${TIMEDOUT:+ (VM timed out after ${tmo}s)}"
			failed=1
			;;
		esac
	done
	if [ -z "$log" ]; then
		msg "console logs: ${logs[*]}"
		return
	fi
	bad=$(bad_kernel_log "$log")
	if [ -n "$bad" ] && [ $failed = 0 ]; then
		result "$k" "(kernel log)" fail "$(echo "$bad" | head -n1)"
		failed=1
	fi
	if [ -n "$TIMEDOUT" ] && [ $failed = 0 ]; then
		result "$k" "(boot)" fail "VM timed out after ${tmo}s"
		failed=1
	fi
	if ! finished "$log" && [ $failed = 0 ]; then
		result "$k" "(boot)" fail "VM init did not finish"
		failed=1
	fi
	if [ $failed = 1 ]; then
		show_log "$log"
	fi
	msg "console logs: ${logs[*]}"
}

# twovm_run K NAME LOGA LOGB TIMEOUT: boot VMs a and b joined by a socket
# netdev and wait for them (watch_vms); false (a result recorded) when VM a
# never listened on its socket
twovm_run() {
	local k=$1 name=$2 loga=$3 logb=$4 tmo=$5 port pa pb tries=0 i
	while :; do
		port=$(free_port)
		qemu_start "$loga" "$MEM_TWOVM" "ftp.tests=$name ftp.role=a ftp.net=1" \
			-netdev "socket,id=n0,listen=127.0.0.1:$port" \
			-device "virtio-net-pci,netdev=n0,mac=52:54:00:78:00:0a,romfile="
		pa=$QPID
		i=0
		while [ $i -lt 100 ] && kill -0 "$pa" 2>/dev/null && ! port_busy "$port"; do
			sleep 0.1
			i=$((i + 1))
		done
		port_busy "$port" && break
		kill -9 "$pa" 2>/dev/null || true
		{ wait "$pa"; } 2>/dev/null || true
		tries=$((tries + 1))
		if [ $tries -ge 5 ]; then
			result "$k" "$name" fail "VM a did not listen on its netdev socket"
			show_log "$loga"
			return 1
		fi
	done
	qemu_start "$logb" "$MEM_TWOVM" "ftp.tests=$name ftp.role=b ftp.net=1" \
		-netdev "socket,id=n0,connect=127.0.0.1:$port" \
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:78:00:0b,romfile="
	pb=$QPID
	watch_vms "$tmo" "a:$pa:$loga" "b:$pb:$logb"
}

# boot_twovm K ABI NAME: VMs a and b joined by a socket netdev
boot_twovm() {
	local k=$1 abi=$2 name=$3 loga logb ra rb tmo failed=0 bad attempt
	loga="$OUT/$abi/$name.a.log"
	logb="$OUT/$abi/$name.b.log"
	tmo=$(boot_timeout "$name")
	stage_begin
	for attempt in $(seq $BOOT_TRIES); do
		twovm_run "$k" "$name" "$loga" "$logb" "$tmo" || return
		retry_boot "$k" "$attempt" "$loga" "$logb" || break
	done
	stage_end "$k boot: $name (2 VMs)"

	ra=$(tap_result "$loga" "$name")
	if [ -n "$KILLED_b" ]; then
		rb=ok
	else
		rb=$(tap_result "$logb" "$name")
	fi
	[ -n "$KILLED_a" ] && ra="fail VM a was killed on request of VM b"
	case "$ra/$rb" in
	ok/ok) result "$k" "$name" ok ;;
	skip*/ok | skip*/skip*) result "$k" "$name" skip "${ra#skip }" ;;
	ok/skip*) result "$k" "$name" skip "b: ${rb#skip }" ;;
	*)
		local d=
		[ "$ra" = ok ] || d="a: ${ra}"
		[ "$rb" = ok ] || d="${d:+$d; }b: ${rb}"
		case "$TIMEDOUT" in
		grace) d="$d (killed ${A_GRACE}s after VM a powered off)" ;;
		timeout) d="$d (VMs timed out after ${tmo}s)" ;;
		esac
		result "$k" "$name" fail "$d"
		failed=1
		;;
	esac
	bad="$(bad_kernel_log "$loga")$(bad_kernel_log "$logb")"
	if [ -n "$bad" ] && [ $failed = 0 ]; then
		result "$k" "$name (kernel log)" fail "$(echo "$bad" | head -n1)"
		failed=1
	fi
	if [ $failed = 0 ] && { ! finished "$loga" || { [ -z "$KILLED_b" ] && ! finished "$logb"; }; }; then
		result "$k" "$name (boot)" fail "VM init did not finish"
		failed=1
	fi
	if [ $failed = 1 ]; then
		show_log "$loga"
		show_log "$logb"
	fi
	msg "console logs: $loga $logb"
}

# ---- per kernel -------------------------------------------------------------

for k in "${KERNELS[@]}"; do
	stage_begin
	ROOT=$("$VM/setup.sh" kernel "$k")
	ABI=$(basename "$ROOT")
	VMLINUZ="$ROOT/boot/vmlinuz-$ABI"
	stage_end "$k kernel fetch ($ABI)"
	mkdir -p "$OUT/$ABI"

	for name in "${MISSING[@]}"; do
		result "$k" "$name" fail "build failure: no ${SRC[$name]}"
	done

	# the module: every test needs it packed (noload tests insmod it
	# themselves, with parameters of their own)
	KO=
	MOD_OK=0
	if [ ${#RUNNABLE[@]} -gt 0 ]; then
		stage_begin
		if [ -n "${FTP_KO_DIR:-}" ]; then
			KO="$FTP_KO_DIR/$ABI/ftpage.ko"
			[ -f "$KO" ] && MOD_OK=1
			stage_end "$k module (from FTP_KO_DIR)"
		else
			KDIR=$("$VM/setup.sh" kdir "$k")
			BLD="$CACHE/build/$ABI"
			if make -C "$REPO" module KDIR="$KDIR" BUILDDIR="$BLD" \
				>"$OUT/$ABI/module-build.log" 2>&1 &&
				[ -f "$BLD/kmod/ftpage.ko" ]; then
				KO="$BLD/kmod/ftpage.ko"
				MOD_OK=1
			else
				msg "$k: module build failed:"
				tail -n 40 "$OUT/$ABI/module-build.log"
			fi
			stage_end "$k module build"
		fi
	fi

	SINGLE=()
	TWOVM=()
	PACK=()
	for name in "${RUNNABLE[@]}"; do
		if [ $MOD_OK = 0 ]; then
			result "$k" "$name" fail "module build failed"
			continue
		fi
		PACK+=("$name")
		if [ "${TOPO[$name]}" = twovm ]; then
			TWOVM+=("$name")
		else
			SINGLE+=("$name")
		fi
	done
	[ ${#PACK[@]} -gt 0 ] || continue

	stage_begin
	BASE=$(build_base "$ABI" "$ROOT")
	INITRD="$OUT/$ABI/initrd.gz"
	build_initrd "$ABI" "$BASE" "$KO" "$INITRD" "${PACK[@]}"
	stage_end "$k initramfs"

	[ ${#SINGLE[@]} -gt 0 ] && boot_single "$k" "$ABI" "${SINGLE[@]}"
	if [ -n "$BENCH" ]; then
		d=$BENCH
		[ ${#KERNELS[@]} -eq 1 ] || d="$BENCH/$k"
		"$VM/bench_out.sh" "$OUT/$ABI/single.log" "$d" "$BENCH_NAME" ||
			result "$k" "bench (output)" fail "no bench output"
	fi
	for name in "${TWOVM[@]}"; do
		boot_twovm "$k" "$ABI" "$name"
	done
done

T_STAGE=$T_START
stage_end "total"
echo
echo "Summary:"
for line in "${SUMMARY[@]}"; do
	echo "  $line"
done
echo
[ $EMU_CRASHES = 0 ] ||
	echo "$EMU_CRASHES boot(s) crashed in QEMU's making and ran again (logs *.crashN)"
if [ "$SKIPPED" -gt 0 ]; then
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
	echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" -eq 0 ]

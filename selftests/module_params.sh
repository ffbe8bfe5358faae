#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Module load/unload with parameters; bad parameters refuse the load with a
# dmesg line that names the parameter and the valid range.
. "${FTP_TESTS:-/tests}/lib.sh"

KO=/lib/ftpage/ftpage.ko
P=/sys/module/ftpage/parameters

ktap_plan 32

param_is() {
	[ "$(cat "$P/$1" 2>/dev/null)" = "$2" ]
}

# refused PARAM=VALUE: insmod fails, module absent, dmesg explains
refused() {
	dmesg -c >/dev/null
	if insmod "$KO" "$1" 2>/dev/null; then
		rmmod ftpage
		ktap_fail "insmod $1 refused"
		return
	fi
	_name=${1%%=*}
	if [ ! -d /sys/module/ftpage ] &&
	   dmesg | grep -q "ftpage: parameter $_name=.* refused: ${2:-must be an integer in}"; then
		ktap_ok "insmod $1 refused with a dmesg reason"
	else
		dmesg | tail -5 | sed 's/^/# /'
		ktap_fail "insmod $1 refused with a dmesg reason"
	fi
}

ktap_check "insmod with defaults" insmod "$KO"
ktap_check "control node present" test -c /dev/ftpage/control
ktap_check "default port 7407" param_is port 7407
ktap_check "default max_regions 64" param_is max_regions 64
ktap_check "default debug 0" param_is debug 0
ktap_check "default streams 2" param_is streams 2
ktap_check "streams can be changed at run time" sh -c \
	"echo 4 > $P/streams && [ \"\$(cat $P/streams)\" = 4 ]"
ktap_check "default bulk_cc bbr" param_is bulk_cc bbr
ktap_check "bulk_cc can be changed at run time, to cubic and to the default" \
	sh -c "echo cubic > $P/bulk_cc && [ \"\$(cat $P/bulk_cc)\" = cubic ] &&
	       echo > $P/bulk_cc && [ -z \"\$(cat $P/bulk_cc)\" ]"
ktap_check "default bulk_gain 125" param_is bulk_gain 125
ktap_check "bulk_gain can be changed at run time, to 0 (no bound) and 400" \
	sh -c "echo 0 > $P/bulk_gain && [ \"\$(cat $P/bulk_gain)\" = 0 ] &&
	       echo 400 > $P/bulk_gain && [ \"\$(cat $P/bulk_gain)\" = 400 ]"
ktap_check "default demand_dscp 18 (AF21)" param_is demand_dscp 18
ktap_check "demand_dscp can be changed at run time, to 0 (unmarked) and 46" \
	sh -c "echo 0 > $P/demand_dscp && [ \"\$(cat $P/demand_dscp)\" = 0 ] &&
	       echo 46 > $P/demand_dscp && [ \"\$(cat $P/demand_dscp)\" = 46 ]"
ktap_check "rmmod" rmmod ftpage
ktap_check "control node gone after rmmod" test ! -e /dev/ftpage/control

ktap_check "insmod port=9000 max_regions=2 debug=3 fault_timeout_ms=500" \
	insmod "$KO" port=9000 max_regions=2 debug=3 fault_timeout_ms=500
ktap_check "parameters read back" sh -c \
	"[ \"\$(cat $P/port $P/max_regions $P/debug $P/fault_timeout_ms | tr '\n' ' ')\" = '9000 2 3 500 ' ]"
ktap_check "parameters are read-only after load" sh -c "! (echo 1 > $P/port) 2>/dev/null"
ktap_check "rmmod" rmmod ftpage

refused port=0
refused port=65536
refused max_regions=0
refused debug=4
refused fault_timeout_ms=abc
refused port=-1
refused streams=0
refused streams=9
refused bulk_gain=401
refused bulk_gain=-5
refused demand_dscp=64
refused bulk_cc=tcp/bbr "not a congestion control name"
refused bulk_cc=a_name_far_too_long "not a congestion control name"

ktap_finish

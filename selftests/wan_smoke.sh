#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology pair: the WAN benchmark of `make bench-wan` (tools/ftpwan.c)
# with small sizes, so that it cannot rot: no delay and 50 ms round trips,
# 1 and 4 push streams, a capped link. It asserts that each migration
# completes with the source's exact content, that the push's in-flight
# budget engaged at the path's size (at 50 ms, not at its floor), and
# that the streams it has no share for paused (with no delay) while all 4
# pushed at 50 ms; timings are printed, never checked.
exec ftpwan --smoke

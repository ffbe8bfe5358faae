#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology pair: the WAN benchmark of `make bench-wan` (tools/ftpwan.c)
# with small sizes, so that it cannot rot: 0.1 and 50 ms round trips, 1
# and 4 push streams, a capped link that sends packets with the demand
# channel's DSCP first. It asserts that each migration completes with the
# source's exact content, that the push's in-flight budget engaged at the
# path's size (at 50 ms, not at its floor), that the streams it has no
# share for paused (at 0.1 ms) while all 4 pushed at 50 ms, and that the
# demand replies, and not the push, were marked; timings are printed,
# never checked.
exec ftpwan --smoke

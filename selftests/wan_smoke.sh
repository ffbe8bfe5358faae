#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology pair: the WAN benchmark of `make bench-wan` (tools/ftpwan.c)
# with small sizes, so that it cannot rot: one round-trip time (50 ms),
# 1 and 4 push streams, a capped link. It asserts that each migration
# completes with the source's exact content and that the push's in-flight
# budget engaged at the path's size, not at its floor; timings are
# printed, never checked.
exec ftpwan --smoke

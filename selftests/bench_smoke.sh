#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Topology pair: the benchmark of `make bench` (tools/ftpbench.c) with tiny
# sizes, so that it cannot rot. It asserts only that every part produced
# sane figures (non-zero counts, guest checksums, page content, module
# counters); timings are printed, never checked.
exec ftpbench --smoke

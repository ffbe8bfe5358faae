// SPDX-License-Identifier: GPL-2.0
/*
 * ft_corrupt (topology pair): ft_netem with netem flipping bits in 1% of
 * the packets. veth marks them checksum-unnecessary, so TCP's checksum
 * does not catch what lands in the stream: the CRC32C of every message
 * does (a kernel line "checksum mismatch"), the connection is reset and
 * resumed, and the migration and the epoch end exactly as the model says.
 */
#define NETEM		"corrupt 1"
#define TEST		"ft_corrupt"
#define CHECKS		16
#define FT_CORRUPT
#include "ft_netem.c"

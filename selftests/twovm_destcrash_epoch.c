// SPDX-License-Identifier: GPL-2.0
/*
 * twovm_destcrash_epoch (topology twovm): the destination host dies while
 * a large epoch streams to the source; the source rolls back by itself to
 * the epoch before, the partial one is not applied. The test is
 * twovm_destcrash.c built for that case (see there).
 */
#define DESTCRASH_EPOCH	1
#include "twovm_destcrash.c"

// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the wire parser (kmod/proto.c, the same file the
 * module builds): feed arbitrary bytes through the receive loop the module
 * runs -- header, then the fixed part of the payload, then the page data --
 * and check that whatever the parser accepts is within its own limits.
 *
 *   make -C selftests fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define check(cond) do { if (!(cond)) abort(); } while (0)

static void parse_stream(const uint8_t *data, size_t size, uint64_t nr_pages)
{
	const struct ftp_proto_limits lim = { .nr_pages = nr_pages };
	unsigned char fixed[FTP_PROTO_MAX_FIXED];
	struct ftp_hdr h;
	size_t off = 0;

	while (size - off >= sizeof(h)) {
		unsigned int type;
		int len;
		__u32 flen, tag;

		memcpy(&h, data + off, sizeof(h));
		off += sizeof(h);
		len = ftp_proto_check_hdr(&h);
		if (len < 0)
			return;			/* the module drops the link */
		type = le16_to_cpu(h.type);
		flen = ftp_proto_fixed_len(type);
		/* Sealed: the payload is the plaintext here, then the tag. */
		tag = le16_to_cpu(h.flags) & FTP_HDR_SEALED ? FTP_SEAL_TAG_LEN : 0;
		check(!(le16_to_cpu(h.flags) & ~FTP_HDR_SEALED));
		check(flen <= sizeof(fixed));
		check(flen + tag <= (__u32)len);
		check((__u32)len <= (tag ? FTP_PROTO_MAX_SEALED : FTP_PROTO_MAX_PAYLOAD));
		check((__u32)len - flen - tag == 0 ||
		      (ftp_proto_has_page(type) &&
		       (__u32)len - flen - tag == FTP_PROTO_PAGE_SIZE));
		if (size - off < flen)
			return;
		memcpy(fixed, data + off, flen);
		off += flen;
		if (ftp_proto_check_fixed(type, fixed, &lim))
			return;
		if (type == FTP_MSG_PAGE_REQ || type == FTP_MSG_PAGE_DATA ||
		    type == FTP_MSG_PAGE_ZERO) {
			const struct ftp_msg_page *m = (const void *)fixed;

			check(le64_to_cpu(m->pgoff) < nr_pages);
		} else if (type == FTP_MSG_ZERO_RANGE) {
			const struct ftp_msg_range *m = (const void *)fixed;
			uint64_t start = le64_to_cpu(m->pgoff);
			uint64_t count = le64_to_cpu(m->count);

			check(count && start < nr_pages && count <= nr_pages - start);
		} else if (type == FTP_MSG_EPOCH_PAGE) {
			const struct ftp_msg_epoch_page *m = (const void *)fixed;

			check(m->epoch && le64_to_cpu(m->pgoff) < nr_pages);
		} else if (type == FTP_MSG_EPOCH_STATE) {
			const struct ftp_msg_epoch_state *m = (const void *)fixed;
			uint64_t off = le64_to_cpu(m->offset);
			uint32_t n = le32_to_cpu(m->len);

			check(n && n <= FTP_PROTO_PAGE_SIZE &&
			      off + n <= FTP_PROTO_STATE_MAX);
		}
		if (size - off < (size_t)len - flen)
			return;
		off += len - flen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t nr_pages;

	/* The first byte picks the region size the limits come from. */
	if (!size)
		return 0;
	nr_pages = 1ULL << (data[0] % 41);
	parse_stream(data + 1, size - 1, nr_pages);
	return 0;
}

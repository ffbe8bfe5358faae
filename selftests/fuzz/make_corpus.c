// SPDX-License-Identifier: GPL-2.0
/*
 * Writes a seed corpus of valid message streams for proto_fuzz, one file
 * per message type, using the same encoder the module uses.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"

static unsigned char buf[1 + 3 * (sizeof(struct ftp_hdr) + FTP_PROTO_MAX_PAYLOAD)];

static size_t put(size_t off, unsigned int type, const void *fixed, __u32 flen,
		  __u32 data_len, __u64 id)
{
	struct ftp_hdr h;

	ftp_proto_hdr(&h, type, flen + data_len, id);
	memcpy(buf + off, &h, sizeof(h));
	memcpy(buf + off + sizeof(h), fixed, flen);
	memset(buf + off + sizeof(h) + flen, 0xa5, data_len);
	ftp_proto_set_csum(&h, fixed, flen, buf + off + sizeof(h) + flen, data_len);
	memcpy(buf + off, &h, sizeof(h));
	return off + sizeof(h) + flen + data_len;
}

/* A sealed message as the wire carries it: header, payload, tag. */
static size_t put_sealed(size_t off, unsigned int type, const void *fixed,
			 __u32 flen, __u32 data_len)
{
	struct ftp_hdr h;
	__u32 len = flen + data_len;

	ftp_proto_hdr(&h, type, len + FTP_SEAL_TAG_LEN, 0);
	h.flags = cpu_to_le16(FTP_HDR_SEALED);
	h.csum = cpu_to_le32(ftp_proto_hdr_crc(&h));
	memcpy(buf + off, &h, sizeof(h));
	memcpy(buf + off + sizeof(h), fixed, flen);
	memset(buf + off + sizeof(h) + flen, 0x3c, data_len + FTP_SEAL_TAG_LEN);
	return off + sizeof(h) + len + FTP_SEAL_TAG_LEN;
}

static int save(const char *dir, const char *name, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct ftp_msg_hello hello = {
		.version_min = cpu_to_le16(1), .version_max = cpu_to_le16(1),
		.channel = cpu_to_le16(FTP_CHAN_DEMAND), .generation = cpu_to_le16(7),
		.session = cpu_to_le64(42), .region_size = cpu_to_le64(1 << 24),
	};
	struct ftp_msg_hello_ack ack = {
		.version = cpu_to_le16(1), .region_pages = cpu_to_le64(4096),
	};
	struct ftp_msg_error err = { .code = cpu_to_le32(FTP_ERR_VERSION) };
	struct ftp_msg_page pg = { .pgoff = cpu_to_le64(5) };
	struct ftp_msg_range rg = { .pgoff = cpu_to_le64(16), .count = cpu_to_le64(64) };
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	memcpy(hello.region, "vm0", 3);
	buf[0] = 12;	/* 4096 pages */
	bad |= save(argv[1], "hello", put(1, FTP_MSG_HELLO, &hello, sizeof(hello), 0, 0));
	bad |= save(argv[1], "hello_ack", put(1, FTP_MSG_HELLO_ACK, &ack, sizeof(ack), 0, 0));
	/* the authenticated handshake: challenges, a proof, AUTH */
	hello.features = cpu_to_le64(FTP_PROTO_FEAT_AUTH);
	memset(hello.auth, 0x5a, FTP_AUTH_CHALLENGE_LEN);
	ack.features = cpu_to_le64(FTP_PROTO_FEAT_AUTH);
	memset(ack.auth, 0xa5, sizeof(ack.auth));
	bad |= save(argv[1], "hello_auth", put(1, FTP_MSG_HELLO, &hello, sizeof(hello), 0, 0));
	bad |= save(argv[1], "hello_ack_auth",
		    put(1, FTP_MSG_HELLO_ACK, &ack, sizeof(ack), 0, 0));
	bad |= save(argv[1], "auth", put(1, FTP_MSG_AUTH, ack.auth,
					   sizeof(struct ftp_msg_auth), 0, 0));
	/* push stream 3 of a destination that runs several */
	hello.channel = cpu_to_le16(FTP_CHAN(FTP_CHAN_BULK, 3));
	hello.features = cpu_to_le64(FTP_PROTO_FEAT_AUTH | FTP_PROTO_FEAT_STREAMS |
				     FTP_PROTO_FEAT_JSTREAMS);
	bad |= save(argv[1], "hello_stream",
		    put(1, FTP_MSG_HELLO, &hello, sizeof(hello), 0, 0));
	/* and its journal stream 3 */
	hello.channel = cpu_to_le16(FTP_CHAN(FTP_CHAN_JOURNAL, 3));
	bad |= save(argv[1], "hello_jstream",
		    put(1, FTP_MSG_HELLO, &hello, sizeof(hello), 0, 0));
	hello.channel = cpu_to_le16(FTP_CHAN_DEMAND);
	/* the encrypted handshake, then sealed messages */
	hello.features = cpu_to_le64(FTP_PROTO_FEAT_AUTH | FTP_PROTO_FEAT_ENCRYPT);
	bad |= save(argv[1], "hello_encrypt",
		    put(1, FTP_MSG_HELLO, &hello, sizeof(hello), 0, 0));
	bad |= save(argv[1], "sealed",
		    put_sealed(put_sealed(1, FTP_MSG_PAGE_DATA, &pg, sizeof(pg),
					  FTP_PROTO_PAGE_SIZE),
			       FTP_MSG_PAGE_REQ, &pg, sizeof(pg), 0));
	bad |= save(argv[1], "error", put(1, FTP_MSG_ERROR, &err, sizeof(err), 0, 0));
	bad |= save(argv[1], "page_req",
		    put(put(1, FTP_MSG_PAGE_REQ, &pg, sizeof(pg), 0, ftp_id_make(7, 1)),
			FTP_MSG_PAGE_REQ, &pg, sizeof(pg), 0, ftp_id_make(7, 2)));
	bad |= save(argv[1], "page_data", put(1, FTP_MSG_PAGE_DATA, &pg, sizeof(pg),
					      FTP_PROTO_PAGE_SIZE, ftp_id_make(7, 1)));
	bad |= save(argv[1], "page_zero", put(1, FTP_MSG_PAGE_ZERO, &pg, sizeof(pg), 0, 0));
	bad |= save(argv[1], "zero_range", put(1, FTP_MSG_ZERO_RANGE, &rg, sizeof(rg), 0, 0));
	bad |= save(argv[1], "complete", put(1, FTP_MSG_COMPLETE, NULL, 0, 0, 0));
	{
		struct ftp_msg_epoch ep = { .epoch = cpu_to_le64(3), .pages = cpu_to_le64(1),
					    .state_len = cpu_to_le64(100) };
		struct ftp_msg_epoch_page epg = { .epoch = cpu_to_le64(3),
						  .pgoff = cpu_to_le64(9) };
		struct ftp_msg_epoch_state est = { .epoch = cpu_to_le64(3),
						   .len = cpu_to_le32(100) };
		struct ftp_msg_epoch ack = { .epoch = cpu_to_le64(3) };
		size_t off = put(1, FTP_MSG_EPOCH_BEGIN, &ep, sizeof(ep), 0, 0);

		off = put(off, FTP_MSG_EPOCH_PAGE, &epg, sizeof(epg), FTP_PROTO_PAGE_SIZE, 0);
		bad |= save(argv[1], "epoch", off);
		off = put(1, FTP_MSG_EPOCH_STATE, &est, sizeof(est), FTP_PROTO_PAGE_SIZE, 0);
		off = put(off, FTP_MSG_EPOCH_COMMIT, &ep, sizeof(ep), 0, 0);
		bad |= save(argv[1], "epoch_commit", off);
		bad |= save(argv[1], "epoch_ack", put(1, FTP_MSG_EPOCH_ACK, &ack, sizeof(ack), 0, 0));
	}
	return bad;
}

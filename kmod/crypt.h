/* SPDX-License-Identifier: GPL-2.0 */
/* Message encryption of a connection (crypt.c). */
#ifndef FTP_CRYPT_H
#define FTP_CRYPT_H

#include <linux/mutex.h>
#include <linux/types.h>

#include "proto.h"

struct crypto_aead;
struct aead_request;

#define FTP_SEAL_NONCE_LEN	12	/* GCM's natural nonce */

/* Header, the largest payload, and its tag. */
#define FTP_SEAL_BUF_LEN	(sizeof(struct ftp_hdr) + FTP_PROTO_MAX_SEALED)

/* One direction of a sealed connection. */
struct ftp_seal_dir {
	struct crypto_aead *tfm;
	struct aead_request *req;
	u64 seq;		/* messages sealed (tx) or opened (rx) */
	u8 iv[FTP_SEAL_NONCE_LEN];	/* the nonce: 4 zero bytes, @seq LE */
	u8 *buf;		/* FTP_SEAL_BUF_LEN: header, payload, tag */
};

struct ftp_seal {
	struct mutex tx_lock;	/* serialises senders: protects @tx */
	struct ftp_seal_dir tx;
	struct ftp_seal_dir rx;	/* the connection's one receiver's */
	u32 rx_page;		/* rx: offset of the page of the message
				 * just opened in @rx.buf, or 0 */
};

int ftp_seal_available(void);
struct ftp_seal *ftp_seal_new(const u8 *session_key, bool source);
void ftp_seal_free(struct ftp_seal *s);
int ftp_seal_encrypt(struct ftp_seal_dir *d, u32 aad, u32 len);
int ftp_seal_decrypt(struct ftp_seal_dir *d, u32 aad, u32 len);

#endif /* FTP_CRYPT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/* Peer authentication with a pre-shared key (auth.c). */
#ifndef FTP_AUTH_H
#define FTP_AUTH_H

#include <linux/socket.h>
#include <linux/types.h>

#include "proto.h"

struct crypto_shash;
struct ftp_region;

int ftp_region_set_key(struct ftp_region *r, u8 *key, u32 len);
void ftp_region_clear_key(struct ftp_region *r);

struct crypto_shash *ftp_auth_new(struct ftp_region *r, bool insecure);
void ftp_auth_free(struct crypto_shash *tfm);

/* Destination side. */
void ftp_auth_hello(struct crypto_shash *tfm, struct ftp_msg_hello *hello,
		    bool encrypt);
int ftp_auth_dest(struct crypto_shash *tfm, const char *rname,
		  const struct ftp_msg_hello *hello,
		  const struct ftp_msg_hello_ack *ack,
		  struct ftp_msg_auth *proof, u8 *skey);

/* Source side. */
int ftp_auth_source_ack(struct crypto_shash *tfm, const char *rname,
			const struct sockaddr_storage *peer,
			const struct ftp_msg_hello *hello,
			struct ftp_msg_hello_ack *ack, bool require_encrypt,
			bool can_encrypt);
int ftp_auth_source_check(struct crypto_shash *tfm, const char *rname,
			  const struct sockaddr_storage *peer,
			  const struct ftp_msg_hello *hello,
			  const struct ftp_msg_hello_ack *ack,
			  const struct ftp_msg_auth *proof, u8 *skey);

/* Do these HELLO or HELLO_ACK features ask for (agree to) encryption? */
static inline bool ftp_auth_encrypts(__le64 features)
{
	return le64_to_cpu(features) & FTP_PROTO_FEAT_ENCRYPT;
}

#endif /* FTP_AUTH_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Message encryption: AES-256-GCM on a connection once its handshake
 * authenticated both peers (the framing is in proto.h).
 *
 * Each direction of a connection has its own key, derived from the
 * connection's session key (which is bound to both sides' fresh
 * challenges), and counts its messages: message n is sealed with nonce
 * n. Keys never outlive their connection, so a nonce is never reused
 * under one key, across reconnects included. The header is the
 * associated data: a flipped length, type or request id fails the tag
 * check as surely as a flipped payload byte.
 *
 * A direction works in place in one buffer of header, payload and tag:
 * the sender copies the message in and encrypts it there, the receiver
 * reads the sealed message into it and decrypts it there. Senders of a
 * connection are serialised by @tx_lock; it has one receiver.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <crypto/hash.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "crypt.h"

#define FTP_SEAL_ALG		"gcm(aes)"
#define FTP_SEAL_KEY_LEN	32	/* AES-256 */
#define FTP_SEAL_LABEL_LEN	16

/* Key labels: a source sends with the "s2d" key, a destination with "d2s". */
static const char ftp_label_s2d[FTP_SEAL_LABEL_LEN] = "ftpage1 key s2d";
static const char ftp_label_d2s[FTP_SEAL_LABEL_LEN] = "ftpage1 key d2s";

/* Derive each direction's key: HMAC-SHA256(session key, label). */
static int ftp_seal_derive(const u8 *skey, u8 *s2d, u8 *d2s)
{
	struct crypto_shash *tfm;
	int ret;

	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	BUILD_BUG_ON(FTP_AUTH_MAC_LEN != FTP_SEAL_KEY_LEN);
	ret = crypto_shash_setkey(tfm, skey, FTP_AUTH_MAC_LEN);
	if (!ret)
		ret = crypto_shash_tfm_digest(tfm, ftp_label_s2d,
					      FTP_SEAL_LABEL_LEN, s2d);
	if (!ret)
		ret = crypto_shash_tfm_digest(tfm, ftp_label_d2s,
					      FTP_SEAL_LABEL_LEN, d2s);
	crypto_free_shash(tfm);
	return ret;
}

static void ftp_seal_dir_free(struct ftp_seal_dir *d)
{
	aead_request_free(d->req);
	if (d->tfm)
		crypto_free_aead(d->tfm);
	kfree_sensitive(d->buf);
}

/* Can this kernel seal at all? 0, or -ENOPKG (logged). */
int ftp_seal_available(void)
{
	if (crypto_has_alg(FTP_SEAL_ALG, CRYPTO_ALG_TYPE_AEAD, CRYPTO_ALG_TYPE_MASK))
		return 0;
	pr_err_ratelimited("no %s in this kernel (modules gcm, aesni_intel): cannot encrypt\n",
			   FTP_SEAL_ALG);
	return -ENOPKG;
}

static int ftp_seal_dir_init(struct ftp_seal_dir *d, const u8 *key)
{
	int ret;

	d->tfm = crypto_alloc_aead(FTP_SEAL_ALG, 0, 0);
	if (IS_ERR(d->tfm)) {
		ret = PTR_ERR(d->tfm);
		d->tfm = NULL;
		if (ret == -ENOENT)
			ftp_seal_available();	/* say why */
		return ret == -ENOENT ? -ENOPKG : ret;
	}
	ret = crypto_aead_setkey(d->tfm, key, FTP_SEAL_KEY_LEN);
	if (!ret)
		ret = crypto_aead_setauthsize(d->tfm, FTP_SEAL_TAG_LEN);
	if (ret)
		return ret;
	d->req = aead_request_alloc(d->tfm, GFP_KERNEL);
	d->buf = kmalloc(FTP_SEAL_BUF_LEN, GFP_KERNEL);
	if (!d->req || !d->buf)
		return -ENOMEM;
	return 0;
}

/*
 * The seal of one connection, from its session key; @source says which
 * end we are. ERR_PTR on failure.
 */
struct ftp_seal *ftp_seal_new(const u8 *skey, bool source)
{
	u8 s2d[FTP_SEAL_KEY_LEN], d2s[FTP_SEAL_KEY_LEN];
	struct ftp_seal *s;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	mutex_init(&s->tx_lock);
	ret = ftp_seal_derive(skey, s2d, d2s);
	if (!ret)
		ret = ftp_seal_dir_init(&s->tx, source ? s2d : d2s);
	if (!ret)
		ret = ftp_seal_dir_init(&s->rx, source ? d2s : s2d);
	memzero_explicit(s2d, sizeof(s2d));
	memzero_explicit(d2s, sizeof(d2s));
	if (ret) {
		ftp_seal_free(s);
		return ERR_PTR(ret);
	}
	return s;
}

void ftp_seal_free(struct ftp_seal *s)
{
	if (!s)
		return;
	ftp_seal_dir_free(&s->tx);
	ftp_seal_dir_free(&s->rx);
	kfree_sensitive(s);
}

/*
 * Encrypt (@enc) or decrypt @d->buf in place: @aad bytes of header, then
 * @len bytes of payload (decrypt: including the tag; encrypt: the tag is
 * written after them). The nonce is the direction's next sequence number.
 * 0, -EBADMSG for a message that fails its tag, or another -errno.
 */
static int ftp_seal_crypt(struct ftp_seal_dir *d, bool enc, u32 aad, u32 len)
{
	struct scatterlist sg;
	DECLARE_CRYPTO_WAIT(wait);
	__le64 seq = cpu_to_le64(d->seq);
	int ret;

	/* Not on the stack: an asynchronous driver may read it later. */
	memset(d->iv, 0, sizeof(d->iv));
	memcpy(d->iv + sizeof(d->iv) - sizeof(seq), &seq, sizeof(seq));
	sg_init_one(&sg, d->buf, aad + len + (enc ? FTP_SEAL_TAG_LEN : 0));
	aead_request_set_callback(d->req, CRYPTO_TFM_REQ_MAY_SLEEP |
				  CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &wait);
	aead_request_set_ad(d->req, aad);
	aead_request_set_crypt(d->req, &sg, &sg, len, d->iv);
	ret = crypto_wait_req(enc ? crypto_aead_encrypt(d->req) :
				    crypto_aead_decrypt(d->req), &wait);
	/* A nonce is spent once anything was computed with it. */
	d->seq++;
	return ret;
}

int ftp_seal_encrypt(struct ftp_seal_dir *d, u32 aad, u32 len)
{
	return ftp_seal_crypt(d, true, aad, len);
}

int ftp_seal_decrypt(struct ftp_seal_dir *d, u32 aad, u32 len)
{
	return ftp_seal_crypt(d, false, aad, len);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Peer authentication with a pre-shared key: mutual HMAC-SHA256
 * challenge-response at the start of every channel (the message flow is
 * in proto.h).
 *
 * A region's key comes only from FTPAGE_IOC_SET_KEY; it is kept under
 * r->lock, never logged, and wiped when replaced or when the region is
 * destroyed. SERVE and PULL key one "hmac(sha256)" transform with it, which
 * every handshake of that serve or pull shares (each hashes with its own
 * descriptor); the crypto API wipes it when it is freed.
 *
 * Each side proves it holds the key by a MAC over the whole HELLO and
 * HELLO_ACK, which carry a fresh random challenge from each side: a MAC
 * seen on the wire never verifies in another handshake (replay), and the
 * two sides' MACs differ by their label (reflection). A challenge the peer
 * echoes back is refused outright.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "ftpage.h"
#include "auth.h"

/* Fixed-length labels, so that no two MAC inputs can be confused. */
#define FTP_AUTH_LABEL_LEN	16
static const char ftp_label_source[FTP_AUTH_LABEL_LEN] = "ftpage1 source";
static const char ftp_label_dest[FTP_AUTH_LABEL_LEN] = "ftpage1 dest";
static const char ftp_label_session[FTP_AUTH_LABEL_LEN] = "ftpage1 session";

/* Install @key (kmalloc'd, @len bytes) as @r's key; @key is taken over. */
int ftp_region_set_key(struct ftp_region *r, u8 *key, u32 len)
{
	u8 *old;

	mutex_lock(&r->lock);
	if (r->state == FTPAGE_STATE_DEAD) {
		mutex_unlock(&r->lock);
		kfree_sensitive(key);
		return -ENOENT;
	}
	old = r->key;
	r->key = key;
	r->key_len = len;
	mutex_unlock(&r->lock);
	kfree_sensitive(old);
	return 0;
}

/* Wipe @r's key (destroy). */
void ftp_region_clear_key(struct ftp_region *r)
{
	u8 *old;

	mutex_lock(&r->lock);
	old = r->key;
	r->key = NULL;
	r->key_len = 0;
	mutex_unlock(&r->lock);
	kfree_sensitive(old);
}

/*
 * The keyed MAC a SERVE or PULL of @r authenticates with: NULL when
 * @insecure, ERR_PTR(-ENOKEY) when @r has no key.
 */
struct crypto_shash *ftp_auth_new(struct ftp_region *r, bool insecure)
{
	struct crypto_shash *tfm;
	int ret;

	if (insecure)
		return NULL;
	tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(tfm)) {
		pr_err("region %s: no hmac(sha256) in this kernel: %ld\n",
		       r->name, PTR_ERR(tfm));
		return tfm;
	}
	mutex_lock(&r->lock);
	ret = r->key ? crypto_shash_setkey(tfm, r->key, r->key_len) : -ENOKEY;
	mutex_unlock(&r->lock);
	if (ret) {
		crypto_free_shash(tfm);
		if (ret == -ENOKEY)
			pr_err("region %s: no key to authenticate the peer with: set one (ftpagectl --key-file) or run with --insecure\n",
			       r->name);
		return ERR_PTR(ret);
	}
	return tfm;
}

void ftp_auth_free(struct crypto_shash *tfm)
{
	if (tfm)
		crypto_free_shash(tfm);
}

/* HMAC(K, label | HELLO | HELLO_ACK with its proof zeroed) into @out. */
static int ftp_auth_hmac(struct crypto_shash *tfm, const char *label,
			 const struct ftp_msg_hello *hello,
			 const struct ftp_msg_hello_ack *ack, u8 *out)
{
	struct ftp_msg_hello_ack a = *ack;
	SHASH_DESC_ON_STACK(desc, tfm);
	int ret;

	memset(a.auth + FTP_AUTH_CHALLENGE_LEN, 0, FTP_AUTH_MAC_LEN);
	desc->tfm = tfm;
	ret = crypto_shash_init(desc);
	if (!ret)
		ret = crypto_shash_update(desc, label, FTP_AUTH_LABEL_LEN);
	if (!ret)
		ret = crypto_shash_update(desc, (const u8 *)hello, sizeof(*hello));
	if (!ret)
		ret = crypto_shash_update(desc, (const u8 *)&a, sizeof(a));
	if (!ret)
		ret = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return ret;
}

/* Is @mac the MAC of @label over this handshake? In constant time. */
static bool ftp_auth_check(struct crypto_shash *tfm, const char *label,
			   const struct ftp_msg_hello *hello,
			   const struct ftp_msg_hello_ack *ack, const u8 *mac)
{
	u8 want[FTP_AUTH_MAC_LEN];
	bool ok;

	ok = !ftp_auth_hmac(tfm, label, hello, ack, want) &&
	     !crypto_memneq(want, mac, FTP_AUTH_MAC_LEN);
	memzero_explicit(want, sizeof(want));
	return ok;
}

static bool ftp_auth_wanted(__le64 features)
{
	return le64_to_cpu(features) & FTP_PROTO_FEAT_AUTH;
}

static bool ftp_auth_echoed(const struct ftp_msg_hello *hello,
			    const struct ftp_msg_hello_ack *ack)
{
	return !memcmp(hello->auth, ack->auth, FTP_AUTH_CHALLENGE_LEN);
}

/*
 * Destination: a HELLO that asks for authentication, with a challenge,
 * and for encryption if @encrypt.
 */
void ftp_auth_hello(struct crypto_shash *tfm, struct ftp_msg_hello *hello,
		    bool encrypt)
{
	if (!tfm)
		return;
	hello->features |= cpu_to_le64(FTP_PROTO_FEAT_AUTH);
	if (encrypt)
		hello->features |= cpu_to_le64(FTP_PROTO_FEAT_ENCRYPT);
	do {
		get_random_bytes(hello->auth, FTP_AUTH_CHALLENGE_LEN);
	} while (!memchr_inv(hello->auth, 0, FTP_AUTH_CHALLENGE_LEN));
}

/*
 * Destination: check the source's proof in @ack, derive the session key
 * into @skey and fill @proof, our answer. 0 or -EKEYREJECTED (logged).
 */
int ftp_auth_dest(struct crypto_shash *tfm, const char *rname,
		  const struct ftp_msg_hello *hello,
		  const struct ftp_msg_hello_ack *ack,
		  struct ftp_msg_auth *proof, u8 *skey)
{
	const char *why;

	if (!tfm)
		return 0;
	why = "it does not authenticate (served with --insecure?)";
	if (!ftp_auth_wanted(ack->features))
		goto refuse;
	why = "it echoed our challenge";
	if (ftp_auth_echoed(hello, ack))
		goto refuse;
	why = "its proof is wrong: the keys differ, or a replayed handshake";
	if (!ftp_auth_check(tfm, ftp_label_source, hello, ack,
			    ack->auth + FTP_AUTH_CHALLENGE_LEN))
		goto refuse;
	/* The proof covers the features: they are the source's own. */
	if (ftp_auth_encrypts(hello->features) != ftp_auth_encrypts(ack->features)) {
		pr_warn_ratelimited("region %s: source refused: %s\n", rname,
				    ftp_auth_encrypts(ack->features) ?
				    "it encrypts unasked" :
				    "it does not encrypt (no gcm(aes) there, or an ftpage without encryption)");
		return -ENOPROTOOPT;
	}
	if (ftp_auth_hmac(tfm, ftp_label_dest, hello, ack, proof->mac) ||
	    ftp_auth_hmac(tfm, ftp_label_session, hello, ack, skey))
		return -EKEYREJECTED;
	return 0;

refuse:
	pr_warn_ratelimited("region %s: source not authenticated: %s\n",
			    rname, why);
	return -EKEYREJECTED;
}

/*
 * Source: does the HELLO's authentication fit ours (both with a key, or
 * both without)? Then, with a key, put our challenge and proof into @ack,
 * and agree to encrypt when the destination asks and we @can_encrypt. 0,
 * -EKEYREJECTED, or -ENOPROTOOPT when we @require_encrypt and it did not
 * ask (logged).
 */
int ftp_auth_source_ack(struct crypto_shash *tfm, const char *rname,
			const struct sockaddr_storage *peer,
			const struct ftp_msg_hello *hello,
			struct ftp_msg_hello_ack *ack, bool require_encrypt,
			bool can_encrypt)
{
	const char *why;

	if (!tfm) {
		why = "wants authentication, but we serve with --insecure";
		if (ftp_auth_wanted(hello->features))
			goto refuse;
		return 0;
	}
	why = "not authenticated: it does not authenticate (no key there, or --insecure)";
	if (!ftp_auth_wanted(hello->features))
		goto refuse;
	if (require_encrypt && !ftp_auth_encrypts(hello->features)) {
		pr_warn_ratelimited("region %s: destination %pISpc refused: it does not encrypt, and we require it (pull with --encrypt)\n",
				    rname, peer);
		return -ENOPROTOOPT;
	}
	ack->features |= cpu_to_le64(FTP_PROTO_FEAT_AUTH);
	if (ftp_auth_encrypts(hello->features) && can_encrypt)
		ack->features |= cpu_to_le64(FTP_PROTO_FEAT_ENCRYPT);
	do {
		get_random_bytes(ack->auth, FTP_AUTH_CHALLENGE_LEN);
	} while (!memchr_inv(ack->auth, 0, FTP_AUTH_CHALLENGE_LEN) ||
		 ftp_auth_echoed(hello, ack));
	if (ftp_auth_hmac(tfm, ftp_label_source, hello, ack,
			  ack->auth + FTP_AUTH_CHALLENGE_LEN))
		return -EKEYREJECTED;
	return 0;

refuse:
	pr_warn_ratelimited("region %s: destination %pISpc %s\n", rname, peer,
			    why);
	return -EKEYREJECTED;
}

/*
 * Source: check the destination's @proof for the handshake of @hello and
 * @ack, derive the session key into @skey. 0 or -EKEYREJECTED (logged).
 */
int ftp_auth_source_check(struct crypto_shash *tfm, const char *rname,
			  const struct sockaddr_storage *peer,
			  const struct ftp_msg_hello *hello,
			  const struct ftp_msg_hello_ack *ack,
			  const struct ftp_msg_auth *proof, u8 *skey)
{
	if (!ftp_auth_check(tfm, ftp_label_dest, hello, ack, proof->mac)) {
		pr_warn_ratelimited("region %s: destination %pISpc not authenticated: its proof is wrong: the keys differ, or a replayed handshake\n",
				    rname, peer);
		return -EKEYREJECTED;
	}
	return ftp_auth_hmac(tfm, ftp_label_session, hello, ack, skey) ?
		-EKEYREJECTED : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel TCP: sockets in the caller's network namespace, whole-message
 * send and receive, and framing of protocol messages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/pkt_sched.h>
#include <linux/tcp.h>
#include <linux/uio.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "ftpage.h"
#include "crypt.h"
#include "transport.h"

/*
 * Kernel sockets (sock_create_kern) hold no reference on their network
 * namespace, and TCP timers of a closing socket may outlive us: create
 * them as ordinary sockets of the ioctl caller, which pin the namespace,
 * and whose accepted children inherit that.
 */
static int ftp_sock_create(struct net *net, int family, struct ftp_sock *fs)
{
	return __sock_create(net, family, SOCK_STREAM, IPPROTO_TCP, &fs->sock, 0);
}

void ftp_sock_release(struct ftp_sock *fs)
{
	ftp_seal_free(fs->seal);
	fs->seal = NULL;
	if (!fs->sock)
		return;
	sock_release(fs->sock);
	fs->sock = NULL;
}

/*
 * Release @fs once what was sent has gone out: a FIN after it, not the
 * reset of the zero linger every data socket has (which drops what is
 * not sent yet). For a connection refused with an ERROR.
 */
void ftp_sock_release_gently(struct ftp_sock *fs)
{
	if (fs->sock) {
		lock_sock(fs->sock->sk);
		sock_reset_flag(fs->sock->sk, SOCK_LINGER);
		release_sock(fs->sock->sk);
		kernel_sock_shutdown(fs->sock, SHUT_WR);
	}
	ftp_sock_release(fs);
}

/*
 * Encrypt every message from now on, both ways, with @s (ftp_seal_new(),
 * taken over). Both ends do it at the same point of the handshake
 * (proto.h).
 */
void ftp_sock_seal(struct ftp_sock *fs, struct ftp_seal *s)
{
	ftp_seal_free(fs->seal);
	fs->seal = s;
}

/* Has the peer closed the connection, or has it failed? */
bool ftp_sock_peer_gone(struct ftp_sock *fs)
{
	struct sock *sk = fs->sock->sk;

	return (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) || READ_ONCE(sk->sk_err) ||
	       READ_ONCE(sk->sk_state) != TCP_ESTABLISHED;
}

/* Wake up whoever is blocked on the socket; the owner releases it later. */
void ftp_sock_shutdown(struct ftp_sock *fs)
{
	if (fs->sock)
		kernel_sock_shutdown(fs->sock, SHUT_RDWR);
}

static void ftp_sock_set_sndtimeo(struct socket *sock, unsigned int timeout_ms)
{
	struct sock *sk = sock->sk;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_sndtimeo, msecs_to_jiffies(timeout_ms));
	release_sock(sk);
}

/* Options of every data connection. */
static void ftp_sock_tune(struct socket *sock)
{
	struct sock *sk = sock->sk;

	/* Page faults wait on these sockets: no reclaim recursion into I/O. */
	sk->sk_allocation = GFP_NOIO;
	/* Never share current->task_frag with a sender we faulted inside. */
	sk->sk_use_task_frag = false;
	tcp_sock_set_nodelay(sk);
	/* Close at once on teardown instead of lingering in FIN states. */
	sock_no_linger(sk);
	/*
	 * A peer host that vanished without a RST must still end the
	 * connection: probe an idle link, and give up on unacknowledged data.
	 */
	sock_set_keepalive(sk);
	tcp_sock_set_keepidle(sk, FTP_KEEPALIVE_IDLE_S);
	tcp_sock_set_keepintvl(sk, FTP_KEEPALIVE_INTVL_S);
	tcp_sock_set_keepcnt(sk, FTP_KEEPALIVE_CNT);
	tcp_sock_set_user_timeout(sk, FTP_USER_TIMEOUT_MS);
	ftp_sock_set_sndtimeo(sock, FTP_USER_TIMEOUT_MS);
	/*
	 * No SO_SNDBUF/SO_RCVBUF: fixed sizes would turn off the kernel's
	 * buffer autotuning, which grows each socket to the path's
	 * bandwidth-delay product (up to tcp_wmem/tcp_rmem's maximum, a
	 * sysctl a long fat pipe may want raised); a long link that one
	 * stream cannot fill takes more push streams ("streams").
	 */
}

/*
 * @fs is the demand channel: faults wait on it. Its packets carry DSCP
 * demand_dscp, so that a WAN or a shaper that honours it sends them ahead
 * of the push, whose queue at the bottleneck would otherwise be theirs
 * too (docs/wan.txt). TC_PRIO_INTERACTIVE, set last because IP_TOS
 * derives a priority of its own, puts them in the first band of a
 * priority qdisc on their host.
 */
void ftp_sock_demand(struct ftp_sock *fs)
{
	struct sock *sk = fs->sock->sk;
	int tos = READ_ONCE(ftp_demand_dscp) << 2;
	int ret;

	if (tos) {
		/* IPv4, and IPv4-mapped peers of an IPv6 socket */
		ip_sock_set_tos(sk, tos);
		if (sk->sk_family == AF_INET6) {
			ret = sock_common_setsockopt(fs->sock, SOL_IPV6,
						     IPV6_TCLASS,
						     KERNEL_SOCKPTR(&tos),
						     sizeof(tos));
			if (ret)
				pr_warn_ratelimited("demand channel: IPv6 traffic class not set (%d), its IPv6 packets go unmarked\n",
						    ret);
		}
	}
	sock_set_priority(sk, TC_PRIO_INTERACTIVE);
}

/*
 * @t serves the demand channel (requests out, replies in, or replies
 * out): faults wait for it, so on a busy CPU it runs ahead of the push's
 * and the journal's threads, as nvme-tcp's I/O work runs on a
 * WQ_HIGHPRI workqueue.
 */
void ftp_thread_demand(struct task_struct *t)
{
	set_user_nice(t, MIN_NICE);
}

/*
 * @fs carries bulk data (the push, an epoch): give it the bulk_cc
 * congestion control. A loss-based one fills the bottleneck's buffer, and
 * the demand channel's replies queue behind that; BBR paces at the path's
 * rate and keeps the queue short (docs/wan.txt). Only the sender's
 * choice matters; both ends set it, so it follows the data either way.
 */
void ftp_sock_bulk(struct ftp_sock *fs)
{
	char name[FTP_CC_NAME_MAX];
	int ret;

	kernel_param_lock(THIS_MODULE);
	strscpy(name, ftp_bulk_cc, sizeof(name));
	kernel_param_unlock(THIS_MODULE);
	if (!name[0])
		return;
	/* Our threads may load tcp_<name> and use any algorithm. */
	ret = sock_common_setsockopt(fs->sock, SOL_TCP, TCP_CONGESTION,
				     KERNEL_SOCKPTR(name), strlen(name));
	if (ret)
		pr_warn_ratelimited("congestion control \"%s\" unavailable (%d), bulk streams use the default\n",
				    name, ret);
}

/*
 * Bound the receives of a handshake to @timeout_ms in all; 0 returns to
 * waiting forever (data channels, whose liveness keepalive watches).
 */
void ftp_sock_set_deadline(struct ftp_sock *fs, unsigned int timeout_ms)
{
	struct sock *sk = fs->sock->sk;
	long t = msecs_to_jiffies(timeout_ms);

	fs->deadline = timeout_ms ? jiffies + t : 0;
	lock_sock(sk);
	WRITE_ONCE(sk->sk_rcvtimeo, timeout_ms ? t : MAX_SCHEDULE_TIMEOUT);
	release_sock(sk);
}

int ftp_sock_listen(struct net *net, const struct sockaddr_storage *addr,
		    int addrlen, struct ftp_sock *fs)
{
	int ret;

	ret = ftp_sock_create(net, addr->ss_family, fs);
	if (ret)
		return ret;
	sock_set_reuseaddr(fs->sock->sk);
	/* Accepted sockets clone this one's options. */
	ftp_sock_tune(fs->sock);
	ret = kernel_bind(fs->sock, (struct sockaddr *)addr, addrlen);
	if (!ret)
		ret = kernel_listen(fs->sock, 16);
	if (ret)
		ftp_sock_release(fs);
	return ret;
}

int ftp_sock_accept(struct ftp_sock *listener, struct ftp_sock *fs)
{
	int ret;

	ret = kernel_accept(listener->sock, &fs->sock, 0);
	if (ret)
		return ret;
	ftp_sock_tune(fs->sock);
	return 0;
}

int ftp_sock_connect(struct net *net, const struct sockaddr_storage *addr,
		     int addrlen, struct ftp_sock *fs)
{
	int ret;

	ret = ftp_sock_create(net, addr->ss_family, fs);
	if (ret)
		return ret;
	ftp_sock_tune(fs->sock);
	/* A blocking connect waits up to sk_sndtimeo: bound it tighter. */
	ftp_sock_set_sndtimeo(fs->sock, FTP_HANDSHAKE_TIMEOUT_MS);
	ret = kernel_connect(fs->sock, (struct sockaddr *)addr, addrlen, 0);
	if (ret) {
		ftp_sock_release(fs);
		return ret == -EINPROGRESS || ret == -EAGAIN ? -ETIMEDOUT : ret;
	}
	ftp_sock_set_sndtimeo(fs->sock, FTP_USER_TIMEOUT_MS);
	return 0;
}

/*
 * Send all of @vec; 0 or a negative errno. With @nowait, -EAGAIN when the
 * socket has no room at all; once a byte is out the rest is sent even if
 * that blocks, so a message is never left half sent.
 */
static int ftp_sock_sendv(struct ftp_sock *fs, struct kvec *vec, size_t nr,
			  size_t len, bool nowait)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	int ret;

	if (nowait)
		msg.msg_flags |= MSG_DONTWAIT;
	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, vec, nr, len);
	while (msg_data_left(&msg)) {
		ret = sock_sendmsg(fs->sock, &msg);
		if (ret > 0) {
			atomic64_add(ret, &fs->bytes_tx);
			msg.msg_flags &= ~MSG_DONTWAIT;
			continue;
		}
		if (ret == -EAGAIN && msg_data_left(&msg) == len)
			return -EAGAIN;		/* nowait, nothing went out */
		/* Half a message is on the wire: the stream is unusable. */
		if (msg_data_left(&msg) != len)
			kernel_sock_shutdown(fs->sock, SHUT_RDWR);
		return ret == -EAGAIN || !ret ? -ETIMEDOUT : ret;
	}
	return 0;
}

/*
 * Wait no longer than the handshake deadline in the next receive: -ETIMEDOUT
 * once it has passed, else 0.
 */
static int ftp_sock_time_left(struct ftp_sock *fs)
{
	long left = (long)(fs->deadline - jiffies);

	if (left <= 0)
		return -ETIMEDOUT;
	WRITE_ONCE(fs->sock->sk->sk_rcvtimeo, left);
	return 0;
}

/*
 * Receive exactly @len bytes; -ECONNRESET when the peer closed. While a
 * handshake deadline is set, a peer trickling bytes cannot hold us longer.
 */
int ftp_sock_recv(struct ftp_sock *fs, void *buf, size_t len)
{
	struct kvec vec = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	int ret;

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &vec, 1, len);
	while (msg_data_left(&msg)) {
		if (fs->deadline && ftp_sock_time_left(fs))
			return -ETIMEDOUT;
		ret = sock_recvmsg(fs->sock, &msg, MSG_WAITALL);
		if (ret == 0)
			return -ECONNRESET;
		if (ret < 0)
			return ret == -EAGAIN ? -ETIMEDOUT : ret;
		atomic64_add(ret, &fs->bytes_rx);
	}
	return 0;
}

/* The IPv4 address of @ss (an IPv4-mapped IPv6 one too), or 0. */
static __be32 ftp_addr_v4(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
	if (ss->ss_family == AF_INET6 && ipv6_addr_v4mapped(&s6->sin6_addr))
		return s6->sin6_addr.s6_addr32[3];
	return 0;
}

/*
 * Same host address? Ports are not compared; an IPv4 address equals its
 * IPv4-mapped form (a dual-stack listener sees IPv4 peers so).
 */
bool ftp_addr_equal(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	__be32 a4 = ftp_addr_v4(a), b4 = ftp_addr_v4(b);

	if (a4 || b4)
		return a4 == b4;
	return a->ss_family == AF_INET6 && b->ss_family == AF_INET6 &&
	       ipv6_addr_equal(&a6->sin6_addr, &b6->sin6_addr);
}

/* The kernel's CRC32C (slicing-by-8 or the CPU's instruction). */
u32 ftp_proto_crc32c(u32 crc, const void *p, u32 len)
{
	return ~__crc32c_le(~crc, p, len);
}

/*
 * A message on a sealed connection: header, payload and tag encrypted in
 * place in the seal's buffer, then sent in one piece.
 */
static int ftp_send_sealed(struct ftp_sock *fs, bool nowait, unsigned int type,
			   u64 id, const void *payload, u32 len,
			   const void *data, u32 data_len)
{
	struct ftp_seal *s = fs->seal;
	struct ftp_hdr *h = (struct ftp_hdr *)s->tx.buf;
	u8 *p = (u8 *)(h + 1);
	struct kvec vec;
	int ret;

	if (WARN_ON_ONCE(len + data_len > FTP_PROTO_MAX_PAYLOAD))
		return -EINVAL;
	mutex_lock(&s->tx_lock);
	ftp_proto_hdr(h, type, len + data_len + FTP_SEAL_TAG_LEN, id);
	h->flags = cpu_to_le16(FTP_HDR_SEALED);
	h->csum = cpu_to_le32(ftp_proto_hdr_crc(h));
	if (len)
		memcpy(p, payload, len);
	if (data_len)
		memcpy(p + len, data, data_len);
	ret = ftp_seal_encrypt(&s->tx, sizeof(*h), len + data_len);
	if (ret) {
		/* A nonce may be spent: nothing more on this connection. */
		kernel_sock_shutdown(fs->sock, SHUT_RDWR);
		goto out_unlock;
	}
	vec.iov_base = h;
	vec.iov_len = sizeof(*h) + len + data_len + FTP_SEAL_TAG_LEN;
	ret = ftp_sock_sendv(fs, &vec, 1, vec.iov_len, nowait);
	/*
	 * Not a byte left (nowait, no room: ftp_sock_sendv() says -EAGAIN
	 * only then): the ciphertext dies with the buffer, so its nonce may
	 * seal the next message.
	 */
	if (nowait && ret == -EAGAIN)
		s->tx.seq--;
out_unlock:
	mutex_unlock(&s->tx_lock);
	return ret;
}

static int ftp_send_msg_how(struct ftp_sock *fs, bool nowait, unsigned int type,
			    u64 id, const void *payload, u32 len,
			    const void *data, u32 data_len)
{
	struct ftp_hdr h;
	struct kvec vec[3];
	size_t nr = 0;

	if (fs->seal)
		return ftp_send_sealed(fs, nowait, type, id, payload, len,
				       data, data_len);
	ftp_proto_hdr(&h, type, len + data_len, id);
	ftp_proto_set_csum(&h, payload, len, data, data_len);
	vec[nr++] = (struct kvec){ .iov_base = &h, .iov_len = sizeof(h) };
	if (len)
		vec[nr++] = (struct kvec){ .iov_base = (void *)payload, .iov_len = len };
	if (data_len)
		vec[nr++] = (struct kvec){ .iov_base = (void *)data, .iov_len = data_len };
	return ftp_sock_sendv(fs, vec, nr, sizeof(h) + len + data_len, nowait);
}

/* Send one message: header, fixed payload, optional trailing page data. */
int ftp_send_msg(struct ftp_sock *fs, unsigned int type, u64 id,
		 const void *payload, u32 len, const void *data, u32 data_len)
{
	return ftp_send_msg_how(fs, false, type, id, payload, len, data, data_len);
}

/* A small message, only if the socket has room now: else -EAGAIN. */
int ftp_try_send_msg(struct ftp_sock *fs, unsigned int type, u64 id,
		     const void *payload, u32 len)
{
	return ftp_send_msg_how(fs, true, type, id, payload, len, NULL, 0);
}

int ftp_send_error(struct ftp_sock *fs, enum ftp_err code)
{
	struct ftp_msg_error e = { .code = cpu_to_le32(code) };

	return ftp_send_msg(fs, FTP_MSG_ERROR, 0, &e, sizeof(e), NULL, 0);
}

static int ftp_check_csum(struct ftp_sock *fs, u32 crc)
{
	if (crc == fs->rx_csum)
		return 0;
	pr_warn_ratelimited("checksum mismatch on a received message: connection reset\n");
	return -EBADMSG;
}

/*
 * The rest of a sealed message whose header @h (@len payload bytes, tag
 * included) was read: into the seal's buffer, opened there; the fixed part
 * is copied to @m, a page stays for ftp_recv_page().
 */
static int ftp_recv_sealed(struct ftp_sock *fs, const struct ftp_hdr *h,
			   union ftp_msg_fixed *m,
			   const struct ftp_proto_limits *lim, u32 len)
{
	struct ftp_seal *s = fs->seal;
	struct ftp_hdr *sh = (struct ftp_hdr *)s->rx.buf;
	unsigned int type = le16_to_cpu(h->type);
	u32 flen = ftp_proto_fixed_len(type);
	int ret;

	/* The length is about to be trusted: is the header intact? */
	fs->rx_csum = le32_to_cpu(h->csum);
	ret = ftp_check_csum(fs, ftp_proto_hdr_crc(h));
	if (ret)
		return ret;
	*sh = *h;
	ret = ftp_sock_recv(fs, sh + 1, len);
	if (ret)
		return ret;
	ret = ftp_seal_decrypt(&s->rx, sizeof(*sh), len);
	if (ret) {
		pr_warn_ratelimited("a received message failed its authentication tag (tampered or corrupted): connection reset\n");
		return -EBADMSG;
	}
	memcpy(m, sh + 1, flen);
	s->rx_page = ftp_proto_has_page(type) ? sizeof(*sh) + flen : 0;
	return ftp_proto_check_fixed(type, m, lim) ? -EPROTO : type;
}

/*
 * Receive one message's header and the fixed part of its payload, both
 * validated; returns the message type, or -EPROTO for a malformed message
 * or -EBADMSG for a corrupted one (the caller drops the connection), or
 * another -errno. The page that follows the types ftp_proto_has_page()
 * names is for the caller to receive with ftp_recv_page(), which checks
 * the message's checksum then.
 */
int ftp_recv_msg(struct ftp_sock *fs, struct ftp_hdr *h, union ftp_msg_fixed *m,
		 const struct ftp_proto_limits *lim)
{
	unsigned int type;
	u32 len;
	int ret;

	ret = ftp_sock_recv(fs, h, sizeof(*h));
	if (ret)
		return ret;
	ret = ftp_proto_check_hdr(h);
	if (ret < 0)
		return -EPROTO;
	/* Sealed exactly when the connection is: no downgrade, either way. */
	if (!fs->seal != !(le16_to_cpu(h->flags) & FTP_HDR_SEALED))
		return -EPROTO;
	if (fs->seal)
		return ftp_recv_sealed(fs, h, m, lim, ret);
	type = le16_to_cpu(h->type);
	len = ftp_proto_fixed_len(type);
	ret = ftp_sock_recv(fs, m, len);
	if (ret)
		return ret;
	fs->rx_csum = le32_to_cpu(h->csum);
	fs->rx_crc = ftp_proto_crc32c(ftp_proto_hdr_crc(h), m, len);
	if (!ftp_proto_has_page(type)) {
		ret = ftp_check_csum(fs, fs->rx_crc);
		if (ret)
			return ret;
	}
	return ftp_proto_check_fixed(type, m, lim) ? -EPROTO : type;
}

/* The page of the message ftp_recv_msg() just returned, checksummed. */
int ftp_recv_page(struct ftp_sock *fs, void *buf)
{
	struct ftp_seal *s = fs->seal;
	int ret;

	if (s) {
		/* Opened already, with the rest of its message. */
		if (WARN_ON_ONCE(!s->rx_page))
			return -EPROTO;
		memcpy(buf, s->rx.buf + s->rx_page, FTP_PROTO_PAGE_SIZE);
		s->rx_page = 0;
		return 0;
	}
	ret = ftp_sock_recv(fs, buf, FTP_PROTO_PAGE_SIZE);
	if (ret)
		return ret;
	return ftp_check_csum(fs, ftp_proto_crc32c(fs->rx_crc, buf,
						   FTP_PROTO_PAGE_SIZE));
}

static const char *const ftp_err_names[] = {
	[FTP_ERR_VERSION] = "no common protocol version",
	[FTP_ERR_NO_REGION] = "no such source region",
	[FTP_ERR_SIZE] = "region size differs",
	[FTP_ERR_BUSY] = "region is served to another destination",
	[FTP_ERR_PROTO] = "malformed message",
	[FTP_ERR_RANGE] = "page index out of range",
	[FTP_ERR_SHUTDOWN] = "region shut down",
	[FTP_ERR_ROLLED_BACK] = "the source rolled back",
	[FTP_ERR_DONE] = "the migration was declared done",
	[FTP_ERR_AUTH] = "authentication failed",
	[FTP_ERR_ENCRYPT] = "the source requires encryption",
	[FTP_ERR_PEER] = "not the destination the source expects",
};

const char *ftp_chan_name(unsigned int kind)
{
	switch (kind) {
	case FTP_CHAN_DEMAND:
		return "demand";
	case FTP_CHAN_BULK:
		return "bulk";
	case FTP_CHAN_JOURNAL:
		return "journal";
	default:
		return "unknown";
	}
}

const char *ftp_err_name(unsigned int code)
{
	if (code < ARRAY_SIZE(ftp_err_names) && ftp_err_names[code])
		return ftp_err_names[code];
	return "unknown error";
}

/* Local errno for a peer's protocol error code. */
int ftp_err_to_errno(unsigned int code)
{
	switch (code) {
	case FTP_ERR_VERSION:
		return -EPROTONOSUPPORT;
	case FTP_ERR_NO_REGION:
		return -ENOENT;
	case FTP_ERR_SIZE:
		return -EINVAL;
	case FTP_ERR_BUSY:
		return -EBUSY;
	case FTP_ERR_SHUTDOWN:
		return -ESHUTDOWN;
	case FTP_ERR_ROLLED_BACK:
		return -ESTALE;
	case FTP_ERR_DONE:
		return -EALREADY;
	case FTP_ERR_AUTH:
		return -EKEYREJECTED;
	case FTP_ERR_ENCRYPT:
		return -ENOPROTOOPT;
	case FTP_ERR_PEER:
		return -EACCES;
	default:
		return -EPROTO;
	}
}

/*
 * A thread "@what/@name" of ours, referenced so that stopping it never
 * races with its exit; woken now (@run) or by the caller.
 */
int ftp_thread_start(struct task_struct **task, int (*fn)(void *), void *arg,
		     const char *what, const char *name, bool run)
{
	struct task_struct *t = kthread_create(fn, arg, "%s/%s", what, name);

	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	if (run)
		wake_up_process(t);
	*task = t;
	return 0;
}

/* Stop and release *@task if there is one. */
void ftp_thread_stop(struct task_struct **task)
{
	struct task_struct *t = *task;

	if (!t)
		return;
	kthread_stop(t);
	put_task_struct(t);
	*task = NULL;
}

/* A thread whose work is over waits here for kthread_stop() by its owner. */
void ftp_thread_idle_until_stop(void)
{
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
}

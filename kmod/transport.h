/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FTP_TRANSPORT_H
#define FTP_TRANSPORT_H

#include <linux/socket.h>
#include <linux/uio.h>

#include "proto.h"

struct net;
struct task_struct;

struct ftp_seal;

struct ftp_sock {
	struct socket *sock;
	struct ftp_seal *seal;	/* encrypted after the handshake, or NULL */
	unsigned long deadline;	/* jiffies; 0 = none (see set_deadline) */
	atomic64_t bytes_tx;
	atomic64_t bytes_rx;
	u32 rx_csum;		/* receiver only: of the message being read */
	u32 rx_crc;		/* its CRC so far */
};

/* How long a connect, or a whole handshake, may take. */
#define FTP_HANDSHAKE_TIMEOUT_MS	5000
/* Dead-peer detection on data connections (keepalive, TCP_USER_TIMEOUT). */
#define FTP_KEEPALIVE_IDLE_S		5
#define FTP_KEEPALIVE_INTVL_S		2
#define FTP_KEEPALIVE_CNT		5
#define FTP_USER_TIMEOUT_MS		15000

int ftp_sock_listen(struct net *net, const struct sockaddr_storage *addr,
		    int addrlen, struct ftp_sock *fs);
int ftp_sock_accept(struct ftp_sock *listener, struct ftp_sock *fs);
int ftp_sock_connect(struct net *net, const struct sockaddr_storage *addr,
		     int addrlen, struct ftp_sock *fs);
void ftp_sock_set_deadline(struct ftp_sock *fs, unsigned int timeout_ms);
void ftp_sock_bulk(struct ftp_sock *fs);
void ftp_sock_demand(struct ftp_sock *fs);
void ftp_thread_demand(struct task_struct *t);
void ftp_sock_seal(struct ftp_sock *fs, struct ftp_seal *s);
void ftp_sock_shutdown(struct ftp_sock *fs);
bool ftp_sock_peer_gone(struct ftp_sock *fs);
void ftp_sock_release(struct ftp_sock *fs);
void ftp_sock_release_gently(struct ftp_sock *fs);

int ftp_sock_recv(struct ftp_sock *fs, void *buf, size_t len);
bool ftp_addr_equal(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b);

int ftp_send_msg(struct ftp_sock *fs, unsigned int type, u64 id,
		 const void *payload, u32 len, const void *data, u32 data_len);
int ftp_try_send_msg(struct ftp_sock *fs, unsigned int type, u64 id,
		     const void *payload, u32 len);
int ftp_send_error(struct ftp_sock *fs, enum ftp_err code);
/* Room for the fixed part of any message. */
union ftp_msg_fixed {
	struct ftp_msg_hello hello;
	struct ftp_msg_hello_ack ack;
	struct ftp_msg_error error;
	struct ftp_msg_page page;
	struct ftp_msg_range range;
	struct ftp_msg_epoch epoch;
	struct ftp_msg_epoch_page epoch_page;
	struct ftp_msg_epoch_state epoch_state;
	struct ftp_msg_heartbeat heartbeat;
	struct ftp_msg_lease lease;
	struct ftp_msg_auth auth;
};

int ftp_recv_msg(struct ftp_sock *fs, struct ftp_hdr *h, union ftp_msg_fixed *m,
		 const struct ftp_proto_limits *lim);

int ftp_recv_page(struct ftp_sock *fs, void *buf);

int ftp_thread_start(struct task_struct **task, int (*fn)(void *), void *arg,
		     const char *what, const char *name, bool run);
void ftp_thread_stop(struct task_struct **task);
void ftp_thread_idle_until_stop(void);

const char *ftp_err_name(unsigned int code);
const char *ftp_chan_name(unsigned int kind);
int ftp_err_to_errno(unsigned int code);

#endif /* FTP_TRANSPORT_H */

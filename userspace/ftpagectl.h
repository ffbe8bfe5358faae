/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ftpagectl: what the subcommands in other files share with ftpagectl.c.
 */
#ifndef FTPAGECTL_H
#define FTPAGECTL_H

#include <stdint.h>
#include <sys/socket.h>

#include <linux/ftpage.h>

extern const char *prog;

/* Print "prog: " fmt (with arg) [": strerror(err)"] and exit(1). */
void die(const char *fmt, const char *arg, int err) __attribute__((noreturn));
/* Open the control node and do the API handshake; returns the fd. */
int ctl_open(struct ftpage_api *api_out);
/* "ADDR:PORT", "ADDR", "[V6ADDR]:PORT"; returns the length, 0 if bad. */
socklen_t parse_addr(const char *s, struct sockaddr_storage *ss);
/*
 * SET_KEY of region NAME on control fd from the bytes of FILE (16..64);
 * 0, or -1 with a message.
 */
int set_key_file(int fd, const char *name, const char *file);
/*
 * The SERVE/PULL flags and key of --key-file FILE / --insecure /
 * --encrypt, and SERVE's --allow ADDR.
 */
struct auth_opts {
	const char *key_file;
	int insecure;
	int encrypt;
	const char *allow;
};
/* SERVE or PULL (cmd) of p on a new control fd, keyed by a; 0 or -1. */
int peer_call(unsigned long cmd, struct ftpage_peer *p,
	      const struct auth_opts *a);
/* The state blob of region name's last committed epoch (malloc'd, in
 * c->buf, c->state_len bytes), or NULL with the error printed. */
void *checkpoint_get(const char *name, struct ftpage_checkpoint *c);
/* "local", "pulling", ... */
const char *ftp_state_name(uint32_t state);

/* migrate.c */
int cmd_migrate(int argc, char **argv);

#endif /* FTPAGECTL_H */

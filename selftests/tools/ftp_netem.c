// SPDX-License-Identifier: GPL-2.0
/*
 * ftp_netem - set or remove a netem root qdisc over rtnetlink (a tool, not
 * a test). The host's tc, run from the 9p-mounted host root, takes 2..10 s
 * per call in a TCG test VM; this takes milliseconds, so a test can time a
 * link fault. Acts in the caller's network namespace (use nsenter).
 *
 *   ftp_netem DEV del
 *   ftp_netem DEV stats
 *   ftp_netem DEV [delay MS] [jitter MS] [loss PCT] [duplicate PCT]
 *                 [reorder PCT] [corrupt PCT] [rate KBIT] [limit PACKETS]
 *
 * PCT may have decimals (0.5); reorder needs a delay (as with tc). rate
 * caps the egress at KBIT kbit/s (tc's "rate", netem's TCA_NETEM_RATE:
 * each packet leaves when the link would be free). The qdisc replaces
 * whatever root qdisc DEV has. stats prints what the root qdisc sent and
 * dropped (netem counts its losses as drops): "sent P packets B bytes,
 * dropped D". Exit 0, 1 on error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

struct req {
	struct nlmsghdr n;
	struct tcmsg t;
	char buf[512];
};

static void addattr(struct nlmsghdr *n, int type, const void *data, int len)
{
	struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static uint32_t prob(const char *s)
{
	double p = strtod(s, NULL);

	if (p <= 0)
		return 0;
	if (p >= 100)
		return UINT32_MAX;
	return (uint32_t)(p / 100.0 * UINT32_MAX);
}

/* kbit/s (decimals allowed) to netem's bytes/s, at least 1 */
static uint32_t rate_bytes(const char *s)
{
	double b = strtod(s, NULL) * 1000.0 / 8.0;

	if (b < 1)
		return 1;
	if (b >= UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)b;
}

/* The root qdisc's counters in an RTM_NEWQDISC answer. */
static int print_stats(struct nlmsghdr *h, int len)
{
	struct rtattr *a = TCA_RTA(NLMSG_DATA(h));
	struct tc_stats st;
	int n = TCA_PAYLOAD(h);

	if (!NLMSG_OK(h, len) || h->nlmsg_type != RTM_NEWQDISC)
		return -1;
	for (; RTA_OK(a, n); a = RTA_NEXT(a, n)) {
		if (a->rta_type != TCA_STATS || RTA_PAYLOAD(a) < sizeof(st))
			continue;
		memcpy(&st, RTA_DATA(a), sizeof(st));
		printf("sent %u packets %llu bytes, dropped %u\n", st.packets,
		       (unsigned long long)st.bytes, st.drops);
		return 0;
	}
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: ftp_netem DEV del|stats | ftp_netem DEV [delay MS] "
		"[jitter MS] [loss PCT] [duplicate PCT] [reorder PCT] [corrupt PCT] "
		"[rate KBIT] [limit N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct tc_netem_qopt q = { .limit = 1000 };
	struct tc_netem_reorder ro = { 0 };
	struct tc_netem_corrupt co = { 0 };
	struct tc_netem_rate ra = { 0 };
	int64_t latency = 0, jitter = 0;
	struct req r;
	bool del, stats;
	char ans[4096];
	struct nlmsghdr *h;
	int fd, i, ifindex, len;

	if (argc < 2)
		return usage();
	ifindex = (int)if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "ftp_netem: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	del = argc == 3 && !strcmp(argv[2], "del");
	stats = argc == 3 && !strcmp(argv[2], "stats");
	for (i = 2; !del && !stats && i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "delay"))
			latency = (int64_t)(strtod(argv[i + 1], NULL) * 1e6);
		else if (!strcmp(argv[i], "jitter"))
			jitter = (int64_t)(strtod(argv[i + 1], NULL) * 1e6);
		else if (!strcmp(argv[i], "loss"))
			q.loss = prob(argv[i + 1]);
		else if (!strcmp(argv[i], "duplicate"))
			q.duplicate = prob(argv[i + 1]);
		else if (!strcmp(argv[i], "reorder"))
			ro.probability = prob(argv[i + 1]);
		else if (!strcmp(argv[i], "corrupt"))
			co.probability = prob(argv[i + 1]);
		else if (!strcmp(argv[i], "rate"))
			ra.rate = rate_bytes(argv[i + 1]);
		else if (!strcmp(argv[i], "limit"))
			q.limit = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else
			return usage();
	}
	if (ro.probability && !latency) {
		fprintf(stderr, "ftp_netem: reorder needs a delay\n");
		return 2;
	}

	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	r.n.nlmsg_type = stats ? RTM_GETQDISC : del ? RTM_DELQDISC : RTM_NEWQDISC;
	/* a get answers only with NLM_F_ECHO; the qdisc comes before the ack */
	r.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (stats ? NLM_F_ECHO : 0) |
			  (del || stats ? 0 : NLM_F_CREATE | NLM_F_REPLACE);
	r.n.nlmsg_seq = 1;
	r.t.tcm_family = AF_UNSPEC;
	r.t.tcm_ifindex = ifindex;
	r.t.tcm_parent = TC_H_ROOT;
	if (!del && !stats) {
		struct rtattr *opt;

		addattr(&r.n, TCA_KIND, "netem", 6);
		/* legacy fields in psched ticks (64 ns), the 64-bit ones in ns */
		q.latency = (uint32_t)(latency >> 6);
		q.jitter = (uint32_t)(jitter >> 6);
		if (ro.probability)
			q.gap = 1;
		opt = (struct rtattr *)((char *)&r.n + NLMSG_ALIGN(r.n.nlmsg_len));
		addattr(&r.n, TCA_OPTIONS, &q, sizeof(q));
		if (ro.probability)
			addattr(&r.n, TCA_NETEM_REORDER, &ro, sizeof(ro));
		if (co.probability)
			addattr(&r.n, TCA_NETEM_CORRUPT, &co, sizeof(co));
		if (ra.rate)
			addattr(&r.n, TCA_NETEM_RATE, &ra, sizeof(ra));
		if (latency)
			addattr(&r.n, TCA_NETEM_LATENCY64, &latency, sizeof(latency));
		if (jitter)
			addattr(&r.n, TCA_NETEM_JITTER64, &jitter, sizeof(jitter));
		/* TCA_OPTIONS holds the qopt and the attributes after it */
		opt->rta_len = (unsigned short)((char *)&r.n +
			       NLMSG_ALIGN(r.n.nlmsg_len) - (char *)opt);
	}

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || sendto(fd, &r, r.n.nlmsg_len, 0, (struct sockaddr *)&sa,
			     sizeof(sa)) < 0) {
		fprintf(stderr, "ftp_netem: netlink: %s\n", strerror(errno));
		return 1;
	}
	len = (int)recv(fd, ans, sizeof(ans), 0);
	if (len < (int)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		fprintf(stderr, "ftp_netem: no answer: %s\n", strerror(errno));
		return 1;
	}
	h = (struct nlmsghdr *)ans;
	if (stats && h->nlmsg_type != NLMSG_ERROR) {
		close(fd);
		if (!print_stats(h, len))
			return 0;
		fprintf(stderr, "ftp_netem: %s: no qdisc statistics\n", argv[1]);
		return 1;
	}
	if (h->nlmsg_type == NLMSG_ERROR) {
		int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;

		/* deleting the default qdisc: nothing to remove */
		if (e && !(del && (e == ENOENT || e == EINVAL))) {
			fprintf(stderr, "ftp_netem: %s %s: %s\n",
				del ? "del" : stats ? "stats" : "netem",
				argv[1], strerror(e));
			return 1;
		}
	}
	close(fd);
	if (stats)	/* acknowledged, but no qdisc of ours: noqueue */
		fprintf(stderr, "ftp_netem: %s: no qdisc statistics\n", argv[1]);
	return stats ? 1 : 0;
}

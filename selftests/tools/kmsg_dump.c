// SPDX-License-Identifier: GPL-2.0
/*
 * kmsg_dump - print the whole kernel log from /dev/kmsg, like dmesg, and
 * exit.  Used by the test VM's init instead of busybox dmesg because
 * /dev/kmsg still holds records that a test removed with `dmesg -c`.
 * Output lines: "[seconds.micros] message".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char rec[8192 + 1];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0) {
		perror("kmsg_dump: /dev/kmsg");
		return 1;
	}
	for (;;) {
		unsigned long long ts;
		char *msg, *nl;
		ssize_t n = read(fd, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg || sscanf(rec, "%*u,%*u,%llu", &ts) != 1)
			continue;
		msg++;
		nl = strchr(msg, '\n');	/* dictionary lines follow */
		if (nl)
			*nl = 0;
		printf("[%5llu.%06llu] %s\n", ts / 1000000, ts % 1000000, msg);
	}
	close(fd);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal kselftest-style TAP 13 helpers for ftpage selftests: one test
 * program, many numbered checks, "# " diagnostics, exit 0/1, or 4 = skip.
 */
#ifndef FTP_TAP_H
#define FTP_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n)
{
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static inline void tap_diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Record one check; returns @ok so callers can bail out of a sequence. */
static inline int tap_check(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int tap_check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failed++;
	return ok;
}

/* Check that a call failed with exactly @want (errno value). */
#define tap_errno(call, want, what)					\
	({								\
		long __r = (long)(call);				\
		int __e = __r < 0 ? errno : 0;				\
		tap_check(__r < 0 && __e == (want),			\
			  "%s -> %s (got %s)", (what), strerror(want),	\
			  __r < 0 ? strerror(__e) : "success");		\
	})

/* Check that a call succeeded (returned >= 0); evaluates to that. */
#define tap_ok_call(call, what)						\
	({								\
		long __r = (long)(call);				\
		int __e = errno;					\
		tap_check(__r >= 0, "%s%s%s", (what),			\
			  __r < 0 ? ": " : "",				\
			  __r < 0 ? strerror(__e) : "");		\
	})

/* tap_ok_call() with a printf-style description. */
static inline int tap_call_result(long r, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int tap_call_result(long r, int e, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tap_check(r >= 0, "%s%s%s", what, r < 0 ? ": " : "",
			 r < 0 ? strerror(e) : "");
}

#define tap_call(call, ...)						\
	({								\
		long __r = (long)(call);				\
		int __e = errno;					\
		tap_call_result(__r, __e, __VA_ARGS__);			\
	})

/* One check reported as skipped ("ok N desc # SKIP why"). */
static inline void tap_skip(const char *desc, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++tap_n, desc, why);
	fflush(stdout);
}

/* Exit 4 (kselftest skip) unless CI=true, where a skip is a failure. */
static inline void tap_skip_all(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		printf("TAP version 13\n1..1\nnot ok 1 # prerequisite missing in CI: %s\n", why);
		exit(1);
	}
	printf("TAP version 13\n1..0 # SKIP %s\n", why);
	exit(4);
}

static inline int tap_finish(void)
{
	tap_diag("%d checks, %d failed", tap_n, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif /* FTP_TAP_H */

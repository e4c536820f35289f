/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static bool use_syslog;

void log_open_syslog(void)
{
	openlog("vfio-hook", LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

static void emit(int prio, const char *prefix, const char *msg)
{
	if (prio <= LOG_WARNING || !use_syslog)
		fprintf(stderr, "%s%s\n", prefix, msg);
	if (use_syslog)
		syslog(prio, "%s%s", prefix, msg);
}

void log_msg(int prio, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	/* clang-analyzer 14 loses track of va_start here. */
	vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	emit(prio, "vfio-hook: ", msg);
}

void log_at(int prio, const char *file, int line, const char *fmt, ...)
{
	char prefix[1024], msg[2048];
	va_list ap;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	va_start(ap, fmt);
	/* clang-analyzer 14 loses track of va_start here. */
	vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	emit(prio, prefix, msg);
}

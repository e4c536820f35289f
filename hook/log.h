/* SPDX-License-Identifier: MIT */
#ifndef VH_LOG_H
#define VH_LOG_H

#include <syslog.h>

/*
 * The one place user-facing messages are formatted. Every message is one line on stderr;
 * in hook mode it also goes to syslog, because libvirt shows stderr only for a failing call.
 */
void log_open_syslog(void);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "FILE:LINE: message" (line 0: "FILE: message"), the form of every device map mistake. */
void log_at(int prio, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_CHILD_H
#define VH_CHILD_H

#include <stdio.h>

/*
 * Runs fn(arg, out) in a forked child and waits at most timeout_ms. The child keeps nothing of
 * ours: stdin/stdout/stderr go to /dev/null and every other descriptor is closed, so a child
 * stuck in the kernel or in a connect that never answers can be abandoned without holding
 * libvirt's pipes or the lock. What fn writes to out (a message, an XML document) is returned
 * in *ret_out when ret_out is not NULL (caller frees). Returns fn's result (0 or -errno, kept
 * within -255..0), -ETIMEDOUT on expiry, or -errno of fork/pipe.
 */
int child_run(int (*fn)(const void *arg, FILE *out), const void *arg, long timeout_ms, char **ret_out);

/* Milliseconds on the monotonic clock. */
long now_ms(void);

#endif

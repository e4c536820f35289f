/* SPDX-License-Identifier: MIT */
#ifndef VH_CHILD_H
#define VH_CHILD_H

#include <stdio.h>
#include <sys/types.h>

/*
 * Runs fn(arg, out) in a forked child and waits at most timeout_ms. The child keeps nothing of
 * ours: stdin/stdout/stderr go to /dev/null and every other descriptor is closed, so a child
 * stuck in the kernel or in a connect that never answers can be abandoned without holding
 * libvirt's pipes or the lock. It runs in its own process group: on expiry the whole group is
 * killed (what it started goes too), and a child the kernel does not let die yet is reaped by
 * a later call. What fn writes to out (a message, an XML document) is returned in *ret_out when
 * ret_out is not NULL and the child finished (caller frees). Returns fn's result (0 or -errno,
 * kept within -255..0), -ETIMEDOUT on expiry, or -errno of fork/pipe.
 */
int child_run(int (*fn)(const void *arg, FILE *out), const void *arg, long timeout_ms, char **ret_out);

/*
 * The same child, for work done item by item, any of which may block for good: fn writes one
 * line per item, and on_line(ctx, line) gets each complete line (without its newline) as it
 * arrives. The deadline is idle_ms of silence: -ETIMEDOUT means the item after the last line
 * did not answer. Returns as child_run.
 */
int child_stream(int (*fn)(const void *arg, FILE *out), const void *arg, long idle_ms,
		 void (*on_line)(void *ctx, char *line), void *ctx);

/*
 * A child kept for a run's many small steps (the sysfs writes of a start), so that a start
 * forks once, not once per step. Set up as child_run's (stdio on /dev/null, nothing else of
 * ours, its own process group); serve(in, out) runs in it and answers each request read
 * from IN with one line on OUT, until IN ends. child_srv_call() sends REQ (LEN bytes), waits
 * at most timeout_ms for the answer line (without its newline, in REPLY), and returns 0; a
 * server that does not answer in time is killed (or abandoned, if the kernel holds it) and
 * -ETIMEDOUT returned; one that died gives -EIO. Either way the next call starts a fresh one.
 */
struct child_srv {
	int (*serve)(int in, FILE *out);
	int pid, to, from; /* 0: not running */
};
int child_srv_call(struct child_srv *s, const void *req, size_t len, long timeout_ms, char *reply, size_t n);
/* Ends the server: its input closed, it exits by itself (not waited for). */
void child_srv_stop(struct child_srv *s);

/*
 * In a child just forked from PARENT: it dies when PARENT does (a run killed by libvirt or by
 * hand leaves no command of its running). Exits at once when PARENT is gone already.
 */
void child_die_with(pid_t parent);

/* Milliseconds on the monotonic clock. */
long now_ms(void);

#endif

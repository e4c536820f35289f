/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "child.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a killed child gets to die before it is left behind, reaped later. */
#define KILL_GRACE_MS 100

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Killed children that were still in the kernel (a write stuck there ignores even SIGKILL):
 * they exit once the kernel lets go, and are reaped by a later child_run without waiting.
 */
static pid_t abandoned[64];
static size_t n_abandoned;

static void reap_abandoned(void)
{
	for (size_t i = 0; i < n_abandoned;) {
		if (waitpid(abandoned[i], NULL, WNOHANG) == 0)
			i++;
		else
			abandoned[i] = abandoned[--n_abandoned];
	}
}

static void kill_child(pid_t pid)
{
	long until = now_ms() + KILL_GRACE_MS;

	/* The whole group: what the child started (modprobe, a helper) must not outlive it. */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	do {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return;
		usleep(2000);
	} while (now_ms() < until);
	if (n_abandoned < ARRAY_SIZE(abandoned))
		abandoned[n_abandoned++] = pid;
}

static void child_main(int (*fn)(const void *, FILE *), const void *arg, int wfd, bool lines)
{
	int null = open("/dev/null", O_RDWR);
	FILE *out;
	int r;

	/* Its own process group, so that a timeout kills what it started too. */
	setpgid(0, 0);
	/* Without /dev/null it would keep libvirt's pipes as stdio: better not run at all. */
	if (null < 0 || dup2(wfd, 3) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	closefrom(4);
	out = fdopen(3, "w");
	if (!out)
		_exit(127);
	/* A streaming reader counts lines as signs of life: each goes out when complete. */
	if (lines)
		setvbuf(out, NULL, _IOLBF, 0);
	r = fn(arg, out);
	if (fclose(out) != 0)
		_exit(126);
	/* The exit status carries the result: errno values fit in 1..255. */
	_exit(r < 0 ? (-r > 255 ? EIO : -r) : 0);
}

/* What the parent collects: everything (on_line NULL), or complete lines handed on as they come. */
struct sink {
	char *buf;
	size_t len, cap;
	void (*on_line)(void *ctx, char *line);
	void *ctx;
};

/* Hands on every complete line; returns whether there was one. */
static bool flush_lines(struct sink *s)
{
	char *start = s->buf, *nl;
	bool any = false;

	s->buf[s->len] = '\0';
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		s->on_line(s->ctx, start);
		start = nl + 1;
		any = true;
	}
	s->len -= (size_t)(start - s->buf);
	memmove(s->buf, start, s->len);
	return any;
}

/*
 * The one mechanism behind child_run and child_stream: fork, read the child's output until it
 * closes it, then its exit status. The deadline is timeout_ms from the start, or, with on_line,
 * timeout_ms from the last complete line.
 */
static int child_wait(int (*fn)(const void *, FILE *), const void *arg, long timeout_ms, struct sink *s)
{
	long deadline = now_ms() + timeout_ms;
	int pfd[2], r, status;
	pid_t pid;

	reap_abandoned();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0)
		child_main(fn, arg, pfd[1], s->on_line != NULL);
	/* Also here: the group must exist before a kill that may come first. */
	setpgid(pid, pid);
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			kill_child(pid);
			close(pfd[0]);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r <= 0)
			continue;
		if (s->cap - s->len < 1024) {
			s->cap *= 2;
			s->buf = xrealloc(s->buf, s->cap);
		}
		n = read(pfd[0], s->buf + s->len, s->cap - s->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->len += (size_t)n;
		if (s->on_line && flush_lines(s))
			deadline = now_ms() + timeout_ms;
	}
	close(pfd[0]);
	s->buf[s->len] = '\0';
	/* Closing its end is not exiting: a child can still hang in the kernel on its way out. */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -ECHILD;
		if (now_ms() >= deadline) {
			kill_child(pid);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) >= 126)
		return -EIO;
	return -WEXITSTATUS(status);
}

int child_run(int (*fn)(const void *arg, FILE *out), const void *arg, long timeout_ms, char **ret_out)
{
	struct sink s = { .buf = xmalloc(4096), .cap = 4096 };
	int r = child_wait(fn, arg, timeout_ms, &s);

	if (ret_out && r != -ETIMEDOUT) {
		*ret_out = s.buf;
		s.buf = NULL;
	}
	free(s.buf);
	return r;
}

int child_stream(int (*fn)(const void *arg, FILE *out), const void *arg, long idle_ms,
		 void (*on_line)(void *ctx, char *line), void *ctx)
{
	struct sink s = { .buf = xmalloc(4096), .cap = 4096, .on_line = on_line, .ctx = ctx };
	int r = child_wait(fn, arg, idle_ms, &s);

	free(s.buf);
	return r;
}

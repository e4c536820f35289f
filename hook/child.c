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

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void child_main(int (*fn)(const void *, FILE *), const void *arg, int wfd)
{
	int null = open("/dev/null", O_RDWR);
	FILE *out;
	int r;

	if (dup2(wfd, 3) < 0 || (null >= 0 && (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)))
		_exit(127);
	closefrom(4);
	out = fdopen(3, "w");
	if (!out)
		_exit(127);
	r = fn(arg, out);
	if (fclose(out) != 0)
		_exit(126);
	/* The exit status carries the result: errno values fit in 1..255. */
	_exit(r < 0 ? (-r > 255 ? EIO : -r) : 0);
}

int child_run(int (*fn)(const void *arg, FILE *out), const void *arg, long timeout_ms, char **ret_out)
{
	size_t len = 0, cap = 4096;
	_cleanup_free_ char *buf = xmalloc(cap);
	long deadline = now_ms() + timeout_ms;
	int pfd[2], r, status;
	pid_t pid;

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
		child_main(fn, arg, pfd[1]);
	close(pfd[1]);
	/* Read until the child closes its end (it exits), or the deadline. */
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			/* A write stuck in the kernel ignores even SIGKILL; it is left behind, holding nothing of ours. */
			kill(pid, SIGKILL);
			waitpid(pid, NULL, WNOHANG);
			close(pfd[0]);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r <= 0)
			continue;
		if (cap - len < 1024) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -ECHILD;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) >= 126)
		r = -EIO;
	else
		r = -WEXITSTATUS(status);
	if (ret_out) {
		*ret_out = buf;
		buf = NULL;
	}
	return r;
}

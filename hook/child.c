/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "child.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
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

/*
 * In a child: OUT on 3, IN (when >= 0) on 4, /dev/null as stdio, and nothing else of ours. Each
 * is first moved above them all, so that none is overwritten before it is placed.
 */
static int child_fds(int out, int in)
{
	int null = open("/dev/null", O_RDWR);
	int o = fcntl(out, F_DUPFD, 10), i = in >= 0 ? fcntl(in, F_DUPFD, 10) : -1;
	int n = null >= 0 ? fcntl(null, F_DUPFD, 10) : -1;

	/* Without /dev/null it would keep libvirt's pipes as stdio: better not run at all. */
	if (n < 0 || o < 0 || (in >= 0 && i < 0))
		return -1;
	if (dup2(n, 0) < 0 || dup2(n, 1) < 0 || dup2(n, 2) < 0 || dup2(o, 3) < 0 || (i >= 0 && dup2(i, 4) < 0))
		return -1;
	closefrom(i >= 0 ? 5 : 4);
	return 0;
}

void child_die_with(pid_t parent)
{
	/*
	 * Killed when the run that started it dies (libvirt killing a hung hook, a SIGKILL by hand):
	 * a command of a run nobody waits for any more is not left running. A write the kernel
	 * holds cannot die until it lets go, whatever the signal.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
}

static void child_main(int (*fn)(const void *, FILE *), const void *arg, int wfd, bool lines, pid_t parent)
{
	FILE *out;
	int r;

	/* Its own process group, so that a timeout kills what it started too. */
	setpgid(0, 0);
	child_die_with(parent);
	if (child_fds(wfd, -1) < 0)
		_exit(127);
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
 * Its exit, by DEADLINE. Closing its end is not exiting: a child can still hang in the kernel
 * on its way out. The wait is woken by the exit itself (a pidfd), not by polling: a start runs
 * several children (reads under the device lock, the display's checks), and a millisecond's nap
 * after each adds up.
 */
static int wait_exit(pid_t pid, long deadline, int *status)
{
	int pidfd = pidfd_open(pid, 0);
	useconds_t nap = 50;
	int r = 0;

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		long left = deadline - now_ms();

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = -ECHILD;
			break;
		}
		if (left <= 0) {
			kill_child(pid);
			r = -ETIMEDOUT;
			break;
		}
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		} else {
			/* A kernel without pidfds (before 5.3): naps, short first. */
			usleep(nap);
			nap = nap < 1000 ? nap * 2 : 1000;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return r;
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
	pid_t pid, parent;

	reap_abandoned();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0)
		child_main(fn, arg, pfd[1], s->on_line != NULL, parent);
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
	r = wait_exit(pid, deadline, &status);
	if (r < 0)
		return r;
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

/* Its descriptors are ours only while it runs (pid > 0). */
static void srv_reset(struct child_srv *s, bool kill)
{
	if (s->pid <= 0)
		return;
	if (kill)
		kill_child(s->pid);
	close(s->to);
	close(s->from);
	s->pid = s->to = s->from = 0;
}

/*
 * A write to a server that has died must fail with EPIPE, not kill us half-way through a
 * start with SIGPIPE: the signal is blocked around it, and taken back if it was ours.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	const struct timespec zero = { 0 };
	bool was_pending;
	ssize_t k;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	k = write(fd, buf, len);
	e = errno;
	if (k < 0 && e == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return k;
}

static int srv_start(struct child_srv *s)
{
	int in[2], out[2];
	pid_t pid, parent = getpid();

	reap_abandoned();
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		int r = -errno;

		close(in[0]);
		close(in[1]);
		return r;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return r;
	}
	if (pid == 0) {
		FILE *f;

		setpgid(0, 0);
		child_die_with(parent);
		/* Requests on 4, answers on 3: nothing else of ours, least of all libvirt's pipes. */
		if (child_fds(out[1], in[0]) < 0)
			_exit(127);
		f = fdopen(3, "w");
		if (!f)
			_exit(127);
		setvbuf(f, NULL, _IOLBF, 0);
		_exit(s->serve(4, f) < 0 ? 1 : 0);
	}
	setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	*s = (struct child_srv){ .serve = s->serve, .pid = pid, .to = in[1], .from = out[0] };
	return 0;
}

int child_srv_call(struct child_srv *s, const void *req, size_t len, long timeout_ms, char *reply, size_t n)
{
	long deadline = now_ms() + timeout_ms;
	size_t got = 0;

	if (n == 0)
		return -EINVAL;
	for (int tries = 0;; tries++) {
		ssize_t k;
		int r;

		if (s->pid <= 0 && (r = srv_start(s)) < 0)
			return r;
		/* A request fits in the pipe: the server reads it whole before it does anything. */
		k = write_nosigpipe(s->to, req, len);
		if (k == (ssize_t)len)
			break;
		/* A server gone since the last call never saw this request: a fresh one may take it. */
		r = k < 0 && errno == EPIPE && tries == 0 ? -EPIPE : -EIO;
		srv_reset(s, true);
		if (r != -EPIPE)
			return r;
	}
	for (;;) {
		struct pollfd p = { .fd = s->from, .events = POLLIN };
		long left = deadline - now_ms();
		char *nl;
		ssize_t k;

		if (left <= 0) {
			srv_reset(s, true);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, (int)(left > 60000 ? 60000 : left)) <= 0)
			continue;
		k = read(s->from, reply + got, n - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || got + (size_t)k >= n - 1) {
			/* Gone (crashed, killed), or an answer that is not one line: not to be trusted again. */
			srv_reset(s, true);
			return -EIO;
		}
		got += (size_t)k;
		reply[got] = '\0';
		nl = strchr(reply, '\n');
		if (nl) {
			*nl = '\0';
			return 0;
		}
	}
}

void child_srv_stop(struct child_srv *s)
{
	srv_reset(s, false);
}

int child_stream(int (*fn)(const void *arg, FILE *out), const void *arg, long idle_ms,
		 void (*on_line)(void *ctx, char *line), void *ctx)
{
	struct sink s = { .buf = xmalloc(4096), .cap = 4096, .on_line = on_line, .ctx = ctx };
	int r = child_wait(fn, arg, idle_ms, &s);

	free(s.buf);
	return r;
}

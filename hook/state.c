/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "state.h"

#include "child.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A waiter never trusts a holder's word for more than this. */
#define LOCK_HOLD_MAX_MS (60L * 60L * 1000L)

const char *state_dir(void)
{
	const char *env = getenv("VFIO_HOOK_STATE_DIR");

	return env && *env ? env : "/run/vfio-hook";
}

/* The directory's owner: us, or (only for a reader that is not root) root. */
static bool trusted_owner(uid_t uid, bool reading)
{
	return uid == geteuid() || (reading && uid == 0);
}

static const char *owner_words(bool reading)
{
	return geteuid() == 0 ? "root" : reading ? "root or this user" : "this user";
}

/*
 * Checks that the directory there is ours alone (root's will do for reading it); creates it
 * for writing. -ENOENT, unlogged, when a reader finds none: nothing is recorded.
 */
static int state_dir_check_for(bool reading)
{
	const char *dir = state_dir();
	struct stat st;

	if (!reading && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		log_error("cannot create %s: %m (is its parent writable by this user?)", dir);
		return r;
	}
	if (lstat(dir, &st) < 0) {
		int r = -errno;

		if (reading && r == -ENOENT)
			return r;
		log_error("cannot look at %s: %m", dir);
		return r;
	}
	if (!S_ISDIR(st.st_mode) || !trusted_owner(st.st_uid, reading) || (st.st_mode & 022)) {
		log_error("refusing to use %s: it must be a directory (not a symlink) owned by %s and writable by nobody "
			  "else (remove it; vfio-hook creates it again)",
			  dir, owner_words(reading));
		return -EPERM;
	}
	return 0;
}

static int state_dir_check(void)
{
	return state_dir_check_for(false);
}

/* Only a regular file of ours (or, for a reader that is not root, root's) is read or locked. */
static int regular(int fd, const char *path, bool reading)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted_owner(st.st_uid, reading)) {
		log_error("refusing to use %s: it must be a regular file owned by %s (remove it; vfio-hook writes it again)",
			  path, owner_words(reading));
		return -EPERM;
	}
	return 0;
}

/*
 * A file of the state directory: never through a link, never waiting (a FIFO put there would
 * hold every run, and the lock, for good), and only a regular file of ours. -ENOENT unlogged;
 * -EACCES unlogged too when this user (not root) may not read root's records: the caller says
 * what that leaves unknown.
 */
static int state_open(const char *path, int flags)
{
	bool reading = (flags & O_ACCMODE) == O_RDONLY;
	int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600), r;

	if (fd < 0) {
		r = -errno;
		if (r == -EACCES && reading && geteuid() != 0)
			return r;
		if (r != -ENOENT)
			log_error("cannot open %s: %m (nothing was changed; fix or remove it, then run 'vfio-hook status')",
				  path);
		return r;
	}
	r = regular(fd, path, reading);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int state_read(const char *path, char **ret, size_t *ret_len)
{
	int fd, r;

	*ret = NULL;
	r = state_dir_check_for(true);
	if (r < 0)
		return r;
	fd = state_open(path, O_RDONLY);
	/* -EACCES is a user's who may not read root's records; root's own, closed to root, is logged. */
	if (fd < 0)
		return fd == -EACCES && geteuid() == 0 ? -EIO : fd;
	r = read_fd(fd, ret, ret_len);
	close(fd);
	if (r < 0) {
		errno = -r;
		log_error("cannot read %s: %m", path);
	}
	return r;
}

int state_write(const char *path, const char *text)
{
	_cleanup_free_ char *tmp = NULL;
	size_t len = strlen(text);
	int fd, dfd, r;

	r = state_dir_check();
	if (r < 0)
		return r;
	tmp = xasprintf("%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		log_error("cannot write %s: %m", tmp);
		return r;
	}
	r = write(fd, text, len) == (ssize_t)len ? 0 : -(errno ? errno : EIO);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		errno = -r;
		log_error("cannot write %s: %m", path);
		unlink(tmp);
		return r;
	}
	dfd = open(state_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int state_remove(const char *path)
{
	int r = state_dir_check();

	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		log_error("cannot remove %s: %m", path);
		return r;
	}
	return 0;
}

/* "pid P until MS WHAT": MS on the monotonic clock, until when the holder may keep the lock. */
static void lock_describe(int fd, long until, const char *what)
{
	_cleanup_free_ char *s = xasprintf("pid %ld until %ld %s\n", (long)getpid(), until, what);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, s, strlen(s), 0) < 0) {
		/* only informative for a waiter */
	}
}

unsigned state_lock_timeout(unsigned step_timeout_s)
{
	return 3 * step_timeout_s;
}

void state_lock_hold(int fd, long ms)
{
	char buf[512];
	ssize_t n;
	int off = 0;
	long pid = 0, until = 0;

	if (fd < 0)
		return;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (sscanf(buf, "pid %ld until %ld %n", &pid, &until, &off) != 2 || off == 0) {
		off = (int)strlen(buf);
		until = 0;
	}
	/* A step inside a longer one (a give-back within a release) never shortens what was said. */
	if (pid != (long)getpid() || until < now_ms() + ms)
		until = now_ms() + ms;
	lock_describe(fd, until, buf + off);
}

/* What the holder wrote: its description, and until when it may hold the lock (0: unknown). */
static long lock_holder(int fd, char *desc, size_t n)
{
	char buf[512];
	ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid, until = 0;
	int off = 0;

	buf[k > 0 ? k : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (sscanf(buf, "pid %ld until %ld %n", &pid, &until, &off) == 2 && off > 0)
		snprintf(desc, n, "pid %ld, %s", pid, buf + off);
	else
		snprintf(desc, n, "%s", *buf ? buf : "unknown");
	return until;
}

int state_lock(const char *what, unsigned timeout_s)
{
	_cleanup_free_ char *path = NULL;
	struct timespec nap = { 0, 50000000L };
	long start = now_ms(), base = start + (long)timeout_s * 1000L;
	char holder[512] = "";
	int fd, r;

	r = state_dir_check();
	if (r < 0)
		return r;
	path = xasprintf("%s/lock", state_dir());
	fd = state_open(path, O_RDWR | O_CREAT);
	if (fd < 0)
		return fd;
	/* Polling with a deadline: a stuck holder must not make libvirt wait forever. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		long until, deadline;

		if (errno != EWOULDBLOCK) {
			r = -errno;
			log_error("cannot lock %s: %m", path);
			close(fd);
			return r;
		}
		/* As long as the holder may legitimately need it, never longer than the cap. */
		until = lock_holder(fd, holder, sizeof(holder));
		deadline = base;
		if (until > deadline && until - start < LOCK_HOLD_MAX_MS)
			deadline = until + 1000L;
		if (now_ms() >= deadline) {
			log_error("%s: another vfio-hook run (%s) has held %s for %ld s, past the time it said it would need; gave "
				  "up waiting (if it is stuck, a device write hangs in the kernel: see 'ps -ef | grep vfio-hook')",
				  what, holder, path, (now_ms() - start) / 1000L);
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	lock_describe(fd, now_ms() + (long)timeout_s * 1000L, what);
	return fd;
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

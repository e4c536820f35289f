/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysfs.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sysfs_write_allowed(void)
{
	const char *dir = getenv("UMOCKDEV_DIR");
	_cleanup_free_ char *fake = NULL;
	struct stat real_st, fake_st;

	if (!getenv("VFIO_HOOK_TEST"))
		return 0;
	/* Proof of the sandbox: /sys, as this process sees it, is the testbed's directory. */
	if (dir && *dir) {
		fake = xasprintf("%s/sys/bus", dir);
		if (stat("/sys/bus", &real_st) == 0 && stat(fake, &fake_st) == 0 && real_st.st_ino == fake_st.st_ino &&
		    real_st.st_dev == fake_st.st_dev)
			return 0;
	}
	log_error("refusing to write to /sys: VFIO_HOOK_TEST is set but /sys is not umockdev's fake tree");
	return -EPERM;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Forks a child that runs fn(arg) and reports an int through a pipe. The child keeps only the
 * pipe: stdin/stdout/stderr go to /dev/null, every other descriptor is closed.
 */
static int in_child(int (*fn)(const void *), const void *arg, unsigned timeout_s)
{
	int pfd[2], r, result = -EIO;
	long deadline;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (dup2(pfd[1], 3) < 0 || (null >= 0 && (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)))
			_exit(127);
		closefrom(4);
		r = fn(arg);
		if (write(3, &r, sizeof(r)) != sizeof(r))
			_exit(126);
		_exit(0);
	}
	close(pfd[1]);
	deadline = now_ms() + (long)timeout_s * 1000L;
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
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(pfd[0], &result, sizeof(result));
		if (n != sizeof(result))
			result = -EIO;
		break;
	}
	close(pfd[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return result;
}

struct write_args {
	const char *path, *value;
};

static int do_write(const void *p)
{
	const struct write_args *a = p;
	size_t len = strlen(a->value);
	int fd = open(a->path, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, a->value, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int sysfs_write(const char *path, const char *value, unsigned timeout_s)
{
	const struct write_args a = { path, value };
	int r = sysfs_write_allowed();

	if (r < 0)
		return r;
	return in_child(do_write, &a, timeout_s);
}

static int do_exec(const void *p)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *const *argv = p;

		execvp(argv[0], argv);
		/* libvirt may run the hook without sbin in PATH. */
		if (!strchr(argv[0], '/')) {
			char path[256];

			snprintf(path, sizeof(path), "/usr/sbin/%s", argv[0]);
			execv(path, argv);
			snprintf(path, sizeof(path), "/sbin/%s", argv[0]);
			execv(path, argv);
		}
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int run_with_deadline(char *const argv[], unsigned timeout_s)
{
	return in_child(do_exec, argv, timeout_s);
}

int sysfs_driver(const struct pci_addr *a, char *buf, size_t n)
{
	struct udev *udev = udev_new();
	struct udev_device *d;
	char name[PCI_ADDR_LEN];
	const char *drv;

	if (!udev)
		return -ENOMEM;
	pci_addr_format(a, name, sizeof(name));
	d = udev_device_new_from_subsystem_sysname(udev, "pci", name);
	if (!d) {
		udev_unref(udev);
		return -ENODEV;
	}
	drv = udev_device_get_driver(d);
	snprintf(buf, n, "%s", drv ? drv : "");
	udev_device_unref(d);
	udev_unref(udev);
	return 0;
}

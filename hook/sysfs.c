/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysfs.h"

#include "child.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
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

struct write_args {
	const char *path, *value;
};

/* Microseconds the kernel spent in this run's writes (bind, unbind, probe), for the log. */
static long kernel_us;

long sysfs_kernel_ms(void)
{
	return kernel_us / 1000L;
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

/* In the child: the write, and how long the kernel took over it, printed for the parent. */
static int do_write(const void *p, FILE *out)
{
	const struct write_args *a = p;
	size_t len = strlen(a->value);
	long t0 = now_us();
	int fd = open(a->path, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, a->value, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	fprintf(out, "%ld\n", now_us() - t0);
	return r;
}

int sysfs_write(const char *path, const char *value, unsigned timeout_s)
{
	const struct write_args a = { path, value };
	_cleanup_free_ char *took = NULL;
	int r = sysfs_write_allowed();

	if (r < 0)
		return r;
	r = child_run(do_write, &a, (long)timeout_s * 1000L, &took);
	if (took)
		kernel_us += strtol(took, NULL, 10);
	return r;
}

static int do_exec(const void *p, FILE *out)
{
	pid_t pid = fork();
	int status;

	(void)out;
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
	/* Exit status N comes back as -N: child_run carries results as -errno. */
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
}

/*
 * Under VFIO_HOOK_TEST no program of the host runs (modprobe would load modules into the machine
 * running the tests): only the stand-in of the same name in $VFIO_HOOK_TEST_BIN. Returns the
 * program to run (caller frees), or NULL when it is refused (logged).
 */
static char *program_allowed(const char *name)
{
	const char *bin = getenv("VFIO_HOOK_TEST_BIN");
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;

	if (!getenv("VFIO_HOOK_TEST"))
		return xstrdup(name);
	if (bin && *bin == '/') {
		char *path = xasprintf("%s/%s", bin, base);

		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	log_error("refusing to run %s: VFIO_HOOK_TEST is set and $VFIO_HOOK_TEST_BIN has no stand-in for it", base);
	return NULL;
}

int run_with_deadline(char *const argv[], unsigned timeout_s)
{
	_cleanup_free_ char *prog = program_allowed(argv[0]);
	_cleanup_free_ char **args = NULL;
	size_t n = 0;
	int r;

	if (!prog)
		return -EPERM;
	while (argv[n])
		n++;
	args = xcalloc(n + 1, sizeof(char *));
	memcpy(args, argv, n * sizeof(char *));
	args[0] = prog;
	r = child_run(do_exec, args, (long)timeout_s * 1000L, NULL);
	return r == -ETIMEDOUT || r == -EIO ? r : -r;
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

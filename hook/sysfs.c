/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "sysfs.h"

#include "child.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sysfs_write_allowed(const char *path)
{
	const char *dir = getenv("UMOCKDEV_DIR"), *root = getenv("VFIO_HOOK_TEST_ROOT");
	_cleanup_free_ char *fake = NULL;
	struct stat real_st, fake_st;

	if (!getenv("VFIO_HOOK_TEST"))
		return 0;
	/* The fixture's own tree: an absolute directory that is not /, and a path inside it without "..". */
	if (root && root[0] == '/' && root[1] && startswith(path, root) && path[strlen(root)] == '/' && !strstr(path, "/../"))
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

static int read_one(const void *arg, FILE *out)
{
	_cleanup_free_ char *s = read_file(arg);

	if (!s)
		return -errno;
	fputs(s, out);
	return 0;
}

int sysfs_read(const char *path, long timeout_ms, char **ret)
{
	char *out = NULL;
	int r = child_run(read_one, path, timeout_ms, &out);

	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out ? out : xstrdup("");
	return 0;
}

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

/* A write request: the header, then the path and the value, each with its NUL. Fits in a pipe. */
struct write_req {
	uint32_t path_len, value_len;
};
#define WRITE_REQ_MAX 3072

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return got == 0 && k == 0 ? 0 : -EIO;
		got += (size_t)k;
	}
	return 1;
}

/* The writer: each request is one write, answered "RESULT KERNEL_US" (RESULT 0 or -errno). */
static int serve_writes(int in, FILE *out)
{
	for (;;) {
		struct write_req h;
		char buf[WRITE_REQ_MAX + 1];
		long t0;
		int r, fd;

		r = read_full(in, &h, sizeof(h));
		if (r <= 0)
			return r; /* the run is over */
		if (h.path_len < 2 || (size_t)h.path_len + h.value_len + 1 > WRITE_REQ_MAX ||
		    read_full(in, buf, (size_t)h.path_len + h.value_len + 1) <= 0 || buf[h.path_len - 1] != '\0' ||
		    buf[h.path_len + h.value_len] != '\0')
			return -EIO;
		t0 = now_us();
		r = 0;
		fd = open(buf, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
		else {
			errno = 0;
			if (write(fd, buf + h.path_len, h.value_len) != (ssize_t)h.value_len)
				r = errno ? -errno : -EIO;
			if (close(fd) < 0 && r == 0)
				r = -errno;
		}
		fprintf(out, "%d %ld\n", r, now_us() - t0);
	}
}

/* One writer for the whole run: a start forks once, not for each of its writes. */
static struct child_srv writer = { .serve = serve_writes };

void sysfs_end(void)
{
	child_srv_stop(&writer);
}

int sysfs_write(const char *path, const char *value, unsigned timeout_s)
{
	size_t path_len = strlen(path) + 1, value_len = strlen(value);
	char req[sizeof(struct write_req) + WRITE_REQ_MAX], reply[64];
	struct write_req h;
	long us;
	int r = sysfs_write_allowed(path), res;

	if (r < 0)
		return r;
	if (path_len + value_len + 1 > WRITE_REQ_MAX)
		return -ENAMETOOLONG;
	h = (struct write_req){ (uint32_t)path_len, (uint32_t)value_len };
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), path, path_len);
	memcpy(req + sizeof(h) + path_len, value, value_len + 1);
	r = child_srv_call(&writer, req, sizeof(h) + path_len + value_len + 1, (long)timeout_s * 1000L, reply,
			   sizeof(reply));
	if (r < 0)
		return r;
	if (sscanf(reply, "%d %ld", &res, &us) != 2 || res > 0)
		return -EIO;
	kernel_us += us;
	return res;
}

static int do_exec(const void *p, FILE *out)
{
	pid_t parent = getpid(), pid = fork();
	int status;

	(void)out;
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *const *argv = p;

		child_die_with(parent);
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

static unsigned long attr_hex(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v ? strtoul(v, NULL, 16) : 0;
}

/* A's udev device, read fresh from sysfs (unref it and *ret_udev): 0, -ENOMEM or -ENODEV (no such function). */
static int pci_device(const struct pci_addr *a, struct udev **ret_udev, struct udev_device **ret)
{
	struct udev *udev = udev_new();
	char name[PCI_ADDR_LEN];

	if (!udev)
		return -ENOMEM;
	pci_addr_format(a, name, sizeof(name));
	*ret = udev_device_new_from_subsystem_sysname(udev, "pci", name);
	if (!*ret) {
		udev_unref(udev);
		return -ENODEV;
	}
	*ret_udev = udev;
	return 0;
}

int sysfs_modalias(const struct pci_addr *a, char *buf, size_t n)
{
	struct udev *udev;
	struct udev_device *d;
	const char *alias;
	unsigned long class;
	int r = pci_device(a, &udev, &d);

	if (r < 0)
		return r;
	alias = udev_device_get_sysattr_value(d, "modalias");
	class = attr_hex(d, "class");
	if (alias)
		snprintf(buf, n, "%s", alias);
	else /* the kernel's own format (drivers/pci/pci-sysfs.c) */
		snprintf(buf, n, "pci:v%08lXd%08lXsv%08lXsd%08lXbc%02lXsc%02lXi%02lX", attr_hex(d, "vendor"),
			 attr_hex(d, "device"), attr_hex(d, "subsystem_vendor"), attr_hex(d, "subsystem_device"),
			 class >> 16 & 0xff, class >> 8 & 0xff, class & 0xff);
	udev_device_unref(d);
	udev_unref(udev);
	return 0;
}

int sysfs_driver(const struct pci_addr *a, char *buf, size_t n)
{
	struct udev *udev;
	struct udev_device *d;
	const char *drv;
	int r = pci_device(a, &udev, &d);

	if (r < 0)
		return r;
	drv = udev_device_get_driver(d);
	snprintf(buf, n, "%s", drv ? drv : "");
	udev_device_unref(d);
	udev_unref(udev);
	return 0;
}

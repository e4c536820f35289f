/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD for the test suite: the kernel's side of moving a PCI device, on umockdev's fake
 * /sys. Writes to driver_override, DRIVER/unbind, drivers/NAME/bind and drivers_probe change
 * the fake tree as the kernel would (driver links, /dev/vfio/N), using the native driver
 * each function had in its fixture ($UMOCKDEV_DIR/fakekernel/native/ADDR) when no
 * driver_override is set. A driver "is loaded" when /sys/bus/pci/drivers/NAME exists.
 *
 * Each of those writes holds the device's lock while it runs, as the kernel's device_lock: a
 * flock on $UMOCKDEV_DIR/fakekernel/lock-ADDR. Reads of the device's driver_override and config
 * wait for it too, in any process, as they do in the kernel.
 *
 * Under the fixture root ($VFIO_HOOK_TEST_ROOT) it plays the hugepage pools (classify_root).
 *
 * FAKEKERNEL_FAULT injects faults: "STEP:ADDR:ACTION[,…]" with STEP override|unbind|probe|bind
 * and ACTION fail (EIO, nothing changes), hang (blocks), nobind (probe binds nothing); a
 * trailing 1 (fail1, hang1) makes it happen on the first such write only. A hung write keeps
 * the device lock as a driver stuck in remove() does, even when the writer is killed (a task
 * stuck in the kernel does not die): a process of its own holds it, and leaves its pid in
 * $UMOCKDEV_DIR/fakekernel/hung.pid. Killing that process ends the hang, with nothing done (the
 * writer, if still there, gets EIO); it also ends by itself when the testbed is removed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* K_CONFIG: only its reads are ours (they wait for the device lock). */
enum kind { K_NONE, K_OVERRIDE, K_UNBIND, K_BIND, K_PROBE, K_CONFIG, K_VTBIND, K_PUNBIND, K_PBIND, K_POOL, K_COMPACT, K_FILE };

struct slot {
	int fd;
	enum kind kind;
	char dev[32];    /* device the path names (override, DEV/driver/unbind) */
	char driver[64]; /* drivers/NAME/… */
	char path[512];  /* K_POOL: the pool's directory; K_FILE: the file */
};

static struct slot slots[16];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);

static void init(void)
{
	if (!real_open) {
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
		real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
		real_fopen = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
		real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	}
}

static const char *tb(void)
{
	const char *d = getenv("UMOCKDEV_DIR");

	return d ? d : "/nonexistent";
}

static int is_addr(const char *s)
{
	unsigned a, b, c, d;
	char end;

	return sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &d, &end) == 4;
}

/*
 * The host's hugepage pools under the fixture root ($VFIO_HOOK_TEST_ROOT): a write to a pool's
 * nr_hugepages grows it up to its "capacity" file (absent: no limit), or shrinks it down to the
 * pages in use, keeping free_hugepages in step (a node's pool moves the pool of all nodes too,
 * and the pool of all nodes shrinks by the nodes' free pages);
 * a write to proc/sys/vm/compact_memory sets each pool's capacity to its "capacity.compacted".
 * Any other write there replaces what the file holds, as a write to a kernel attribute does.
 * FAKEKERNEL_POOL_HANG=1: a pool's write never returns.
 */
static enum kind classify_root(const char *path, struct slot *s)
{
	const char *root = getenv("VFIO_HOOK_TEST_ROOT");
	size_t r = root ? strlen(root) : 0, n = strlen(path);
	const char *nr = "/nr_hugepages";

	if (!r || strncmp(path, root, r) != 0 || path[r] != '/')
		return K_NONE;
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (strcmp(path + r, "/proc/sys/vm/compact_memory") == 0)
		return K_COMPACT;
	if (n > strlen(nr) && strcmp(path + n - strlen(nr), nr) == 0 && strstr(path, "/hugepages-")) {
		snprintf(s->path, sizeof(s->path), "%.*s", (int)(n - strlen(nr)), path);
		return K_POOL;
	}
	return K_FILE;
}

/* Classifies a path this shim emulates; fills dev/driver. */
static enum kind classify(const char *path, struct slot *s)
{
	const char *p;
	size_t n = strlen(path);

	if (classify_root(path, s) != K_NONE)
		return classify_root(path, s);
	if (strncmp(path, "/sys/", 5) != 0)
		return K_NONE;
	if (strcmp(path, "/sys/bus/pci/drivers_probe") == 0)
		return K_PROBE;
	/* fbcon on a vtconsole, and a firmware framebuffer's platform driver (the host's display). */
	if (((p = strstr(path, "/sys/class/vtconsole/")) == path || (p = strstr(path, "/sys/devices/virtual/vtconsole/")) == path) &&
	    n > 5 && strcmp(path + n - 5, "/bind") == 0) {
		p = strstr(p, "vtconsole/") + strlen("vtconsole/");
		snprintf(s->dev, sizeof(s->dev), "%.*s", (int)strcspn(p, "/"), p);
		return K_VTBIND;
	}
	if ((p = strstr(path, "/sys/bus/platform/devices/")) == path && n > 14 && strcmp(path + n - 14, "/driver/unbind") == 0) {
		p += strlen("/sys/bus/platform/devices/");
		snprintf(s->dev, sizeof(s->dev), "%.*s", (int)strcspn(p, "/"), p);
		return K_PUNBIND;
	}
	if ((p = strstr(path, "/sys/bus/platform/drivers/")) == path) {
		p += strlen("/sys/bus/platform/drivers/");
		snprintf(s->driver, sizeof(s->driver), "%.*s", (int)strcspn(p, "/"), p);
		p += strcspn(p, "/");
		return strcmp(p, "/bind") == 0 ? K_PBIND : strcmp(p, "/unbind") == 0 ? K_PUNBIND : K_NONE;
	}
	if ((p = strstr(path, "/sys/bus/pci/devices/")) == path) {
		p += strlen("/sys/bus/pci/devices/");
		snprintf(s->dev, sizeof(s->dev), "%.*s", (int)strcspn(p, "/"), p);
		if (n > 14 && strcmp(path + n - 14, "/driver/unbind") == 0)
			return K_UNBIND;
	}
	if ((p = strstr(path, "/sys/bus/pci/drivers/")) == path) {
		p += strlen("/sys/bus/pci/drivers/");
		snprintf(s->driver, sizeof(s->driver), "%.*s", (int)strcspn(p, "/"), p);
		p += strcspn(p, "/");
		if (strcmp(p, "/unbind") == 0)
			return K_UNBIND;
		if (strcmp(p, "/bind") == 0)
			return K_BIND;
		return K_NONE;
	}
	/* DEVICE/driver_override and DEVICE/config, under /sys/bus/pci/devices or /sys/devices. */
	for (int k = 0; k < 2; k++) {
		const char *attr = k ? "/config" : "/driver_override";
		size_t alen = strlen(attr), start;

		if (n <= alen || strcmp(path + n - alen, attr) != 0)
			continue;
		start = n - alen;
		while (start > 0 && path[start - 1] != '/')
			start--;
		snprintf(s->dev, sizeof(s->dev), "%.*s", (int)(n - alen - start), path + start);
		if (is_addr(s->dev))
			return k ? K_CONFIG : K_OVERRIDE;
	}
	return K_NONE;
}

/* ---- the device lock ---- */

static void tpath(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The device's lock, taken (blocking, as mutex_lock does); -1 when DEV names no device. */
static int lock_dev(const char *dev, int how)
{
	char p[PATH_MAX];
	int fd;

	if (!is_addr(dev) || strchr(dev, '/'))
		return -1;
	tpath(p, sizeof(p), "fakekernel/lock-%s", dev);
	fd = real_open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (flock(fd, how) < 0)
		if (errno != EINTR) {
			real_close(fd);
			return -1;
		}
	return fd;
}

static void unlock_dev(int fd)
{
	if (fd >= 0)
		real_close(fd);
}

/* A read of a lock-taking attribute waits while a driver operation holds the device. */
static void wait_for_device(const char *path)
{
	struct slot s = { 0 };
	enum kind k = classify(path, &s);

	if (k == K_OVERRIDE || k == K_CONFIG)
		unlock_dev(lock_dev(s.dev, LOCK_SH));
}

static int open_common(const char *path, int flags, mode_t mode)
{
	struct slot s = { 0 };
	enum kind k;

	init();
	k = classify(path, &s);
	/* A program writing a file of the fixture (a shell's '>') truncates or creates it: not an attribute write. */
	if (k == K_FILE && (flags & (O_TRUNC | O_APPEND | O_CREAT)))
		k = K_NONE;
	if ((flags & O_ACCMODE) == O_RDONLY)
		wait_for_device(path);
	if (k == K_NONE || k == K_CONFIG || (flags & O_ACCMODE) == O_RDONLY)
		return real_open(path, flags, mode);
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (slots[i].kind != K_NONE)
			continue;
		s.fd = real_open("/dev/null", O_WRONLY | (flags & O_CLOEXEC));
		if (s.fd < 0)
			return -1;
		s.kind = k;
		slots[i] = s;
		return s.fd;
	}
	errno = EMFILE;
	return -1;
}

/*
 * ---- exclusive opens of block devices ----
 * FAKEKERNEL_BUSY="NAME[,NAME…]": an O_EXCL open of /dev/NAME fails with EBUSY, as while a
 * filesystem, md/dm, swap or a ZFS vdev holds it (a held partition makes its disk busy too:
 * list both). "NAME:hang" never returns, as behind a driver stuck in the kernel; "NAME:denied"
 * fails with EACCES, as for a user who may not open the disk (its node is root:disk 0660).
 */
static int excl_busy(const char *path, int flags)
{
	const char *p = getenv("FAKEKERNEL_BUSY");
	size_t n;

	if (!p || !(flags & O_EXCL) || (flags & O_CREAT) || strncmp(path, "/dev/", 5) != 0)
		return 0;
	path += 5;
	n = strlen(path);
	for (; *p; p += strcspn(p, ","), p += *p == ',') {
		if (strncmp(p, path, n) != 0)
			continue;
		if (strncmp(p + n, ":hang", 5) == 0 && (p[n + 5] == ',' || p[n + 5] == '\0'))
			for (;;)
				pause();
		if (strncmp(p + n, ":denied", 7) == 0 && (p[n + 7] == ',' || p[n + 7] == '\0'))
			return EACCES;
		if (p[n] == ',' || p[n] == '\0')
			return EBUSY;
	}
	return 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;
	int busy = excl_busy(path, flags);

	if (busy) {
		errno = busy;
		return -1;
	}
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	return open_common(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

/* Reads through openat and fopen wait for the device lock too; their writes are not emulated. */
int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	init();
	if (path[0] == '/' && (flags & O_ACCMODE) == O_RDONLY)
		wait_for_device(path);
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

FILE *fopen(const char *path, const char *mode)
{
	init();
	if (mode[0] == 'r' && !strchr(mode, '+'))
		wait_for_device(path);
	return real_fopen(path, mode);
}

FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

/* ---- the fake kernel's state, all under $UMOCKDEV_DIR ---- */

static void tpath(char *buf, size_t n, const char *fmt, ...)
{
	char rel[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(buf, n, "%s/%s", tb(), rel);
}

static int read_small(const char *path, char *buf, size_t n)
{
	int fd = real_open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	real_close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void write_small(const char *path, const char *s)
{
	int fd = real_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0) {
		if (real_write(fd, s, strlen(s)) < 0) {
			/* best effort: a failed fixture write shows up as a wrong driver later */
		}
		real_close(fd);
	}
}

/* The device's directory in the testbed, and its path relative to sys/. */
static int devdir(const char *dev, char *abs, size_t n, const char **rel)
{
	char link[PATH_MAX], real[PATH_MAX];
	size_t root;

	tpath(link, sizeof(link), "sys/bus/pci/devices/%s", dev);
	if (!realpath(link, real))
		return -1;
	snprintf(abs, n, "%s", real);
	tpath(link, sizeof(link), "%s", "sys/");
	if (!realpath(link, real))
		return -1;
	root = strlen(real) + 1;
	*rel = abs + root;
	return 0;
}

/* The last component of the target of link NAME in the device's directory. */
static int link_base(const char *dev, const char *name, char *buf, size_t n)
{
	char abs[PATH_MAX], link[PATH_MAX + 16], target[PATH_MAX];
	const char *rel, *base;
	ssize_t r;

	if (devdir(dev, abs, sizeof(abs), &rel) < 0)
		return -1;
	snprintf(link, sizeof(link), "%s/%s", abs, name);
	r = readlink(link, target, sizeof(target) - 1);
	if (r <= 0)
		return -1;
	target[r] = '\0';
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	snprintf(buf, n, "%.*s", (int)n - 1, base);
	return 0;
}

static int bound_driver(const char *dev, char *buf, size_t n)
{
	return link_base(dev, "driver", buf, n);
}

static int group_of(const char *dev, char *buf, size_t n)
{
	return link_base(dev, "iommu_group", buf, n);
}

static int driver_loaded(const char *drv)
{
	char p[PATH_MAX];
	struct stat st;

	tpath(p, sizeof(p), "sys/bus/pci/drivers/%s", drv);
	return stat(p, &st) == 0;
}

/* /dev/vfio/N exists while any function of group N is on vfio-pci. */
static void sync_vfio_node(const char *dev)
{
	char grp[32], p[PATH_MAX], d[PATH_MAX], drv[64];
	struct dirent *e;
	DIR *dir;
	int any = 0;

	if (group_of(dev, grp, sizeof(grp)) < 0)
		return;
	tpath(d, sizeof(d), "sys/kernel/iommu_groups/%s/devices", grp);
	dir = opendir(d);
	while (dir && (e = readdir(dir)))
		if (is_addr(e->d_name) && bound_driver(e->d_name, drv, sizeof(drv)) == 0 && strcmp(drv, "vfio-pci") == 0)
			any = 1;
	if (dir)
		closedir(dir);
	tpath(p, sizeof(p), "dev/vfio/%s", grp);
	if (any) {
		tpath(d, sizeof(d), "%s", "dev");
		mkdir(d, 0755);
		tpath(d, sizeof(d), "%s", "dev/vfio");
		mkdir(d, 0755);
		write_small(p, "");
	} else {
		unlink(p);
	}
}

static int do_bind(const char *dev, const char *drv)
{
	char abs[PATH_MAX], link[PATH_MAX + 8], target[PATH_MAX], back[PATH_MAX];
	const char *rel;
	int depth = 1;

	if (devdir(dev, abs, sizeof(abs), &rel) < 0)
		return -ENODEV;
	for (const char *c = rel; *c; c++)
		depth += *c == '/';
	target[0] = '\0';
	for (int i = 0; i < depth; i++)
		strcat(target, "../");
	strcat(target, "bus/pci/drivers/");
	strncat(target, drv, sizeof(target) - strlen(target) - 1);
	snprintf(link, sizeof(link), "%s/driver", abs);
	if (symlink(target, link) < 0)
		return -EBUSY;
	snprintf(back, sizeof(back), "../../../../%s", rel);
	tpath(link, sizeof(link), "sys/bus/pci/drivers/%s", drv);
	strncat(link, "/", sizeof(link) - strlen(link) - 1);
	strncat(link, dev, sizeof(link) - strlen(link) - 1);
	if (symlink(back, link) < 0) {
		/* the driver's own list is cosmetic for the code under test */
	}
	sync_vfio_node(dev);
	return 0;
}

static int do_unbind(const char *dev)
{
	char abs[PATH_MAX], link[PATH_MAX + 8], drv[64];
	const char *rel;

	if (bound_driver(dev, drv, sizeof(drv)) < 0)
		return -ENODEV;
	if (devdir(dev, abs, sizeof(abs), &rel) < 0)
		return -ENODEV;
	snprintf(link, sizeof(link), "%s/driver", abs);
	unlink(link);
	tpath(link, sizeof(link), "sys/bus/pci/drivers/%s/", drv);
	strncat(link, dev, sizeof(link) - strlen(link) - 1);
	unlink(link);
	sync_vfio_node(dev);
	return 0;
}

static int do_probe(const char *dev)
{
	char abs[PATH_MAX], p[PATH_MAX + 32], ovr[64] = "", drv[64];
	const char *rel;

	if (devdir(dev, abs, sizeof(abs), &rel) < 0)
		return -ENODEV;
	if (bound_driver(dev, drv, sizeof(drv)) == 0)
		return 0;
	snprintf(p, sizeof(p), "%s/driver_override", abs);
	read_small(p, ovr, sizeof(ovr));
	if (!*ovr || strcmp(ovr, "(null)") == 0) {
		/* vfio-pci's id table matches nothing: without an override, only the native driver binds. */
		tpath(p, sizeof(p), "fakekernel/native/%s", dev);
		if (read_small(p, ovr, sizeof(ovr)) < 0 || !*ovr || strcmp(ovr, "vfio-pci") == 0)
			return 0;
	}
	if (!driver_loaded(ovr))
		return 0;
	return do_bind(dev, ovr);
}

static int do_override(const char *dev, const char *val)
{
	char abs[PATH_MAX], p[PATH_MAX + 32], v[64];
	const char *rel;

	if (devdir(dev, abs, sizeof(abs), &rel) < 0)
		return -ENODEV;
	snprintf(v, sizeof(v), "%.62s", val);
	v[strcspn(v, "\n")] = '\0';
	snprintf(p, sizeof(p), "%s/driver_override", abs);
	if (*v) {
		strncat(v, "\n", sizeof(v) - strlen(v) - 1);
		write_small(p, v);
	} else {
		write_small(p, "(null)\n");
	}
	return 0;
}

/*
 * The fault for this step and device, if any; counts occurrences for the "…N" forms: a trailing
 * digit N (fail1, hang3) makes it happen on the Nth such write only (counted while a fault is
 * set for that step and device, from the first process that has it).
 */
static const char *fault(const char *step, const char *dev)
{
	const char *spec = getenv("FAKEKERNEL_FAULT");
	char want[96], item[128], cnt[PATH_MAX], n[16] = "0";
	static char action[16];
	const char *p = spec;

	if (!spec)
		return NULL;
	snprintf(want, sizeof(want), "%s:%s:", step, dev);
	while (p && *p) {
		size_t len = strcspn(p, ",");

		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		p += len + (p[len] == ',');
		if (strncmp(item, want, strlen(want)) != 0)
			continue;
		snprintf(action, sizeof(action), "%s", item + strlen(want));
		snprintf(want, sizeof(want), "fakekernel/count-%s-%s", step, dev);
		tpath(cnt, sizeof(cnt), "%s", want);
		read_small(cnt, n, sizeof(n));
		snprintf(n, sizeof(n), "%d", atoi(n) + 1);
		write_small(cnt, n);
		if (action[strlen(action) - 1] >= '1' && action[strlen(action) - 1] <= '9') {
			if (atoi(n) != action[strlen(action) - 1] - '0')
				return NULL;
			action[strlen(action) - 1] = '\0';
		}
		return action;
	}
	return NULL;
}

/*
 * A driver operation that does not finish: the device lock passes to a process of its own
 * (the kernel's stuck task, which SIGKILL does not end), in a session of its own so that a
 * killed process group does not take it along. The writer blocks until that process ends.
 */
static int hang(int lockfd)
{
	char p[PATH_MAX], tmp[PATH_MAX], pid[32];
	struct stat st;
	pid_t holder;

	holder = fork();
	if (holder < 0)
		return -EIO;
	if (holder == 0) {
		const struct timespec tick = { 0, 200 * 1000 * 1000 };

		setsid();
		for (int fd = 0; fd < 1024; fd++)
			if (fd != lockfd)
				real_close(fd);
		/* Until killed, or the testbed is gone (at most 10 minutes: never a leftover for good). */
		tpath(p, sizeof(p), "%s", "fakekernel");
		for (int i = 0; i < 3000 && stat(p, &st) == 0; i++)
			nanosleep(&tick, NULL);
		_exit(0);
	}
	real_close(lockfd);
	/* Tests that end the hang find the holder here ($UMOCKDEV_DIR/fakekernel/hung.pid). */
	snprintf(pid, sizeof(pid), "%ld\n", (long)holder);
	tpath(tmp, sizeof(tmp), "fakekernel/hung.pid.%ld", (long)getpid());
	tpath(p, sizeof(p), "%s", "fakekernel/hung.pid");
	write_small(tmp, pid);
	rename(tmp, p);
	while (waitpid(holder, NULL, 0) < 0 && errno == EINTR)
		;
	return -EIO;
}

/* fbcon bound to a vtconsole or not: the attribute holds what was written. */
static int do_vtbind(const char *vt, const char *val)
{
	char p[PATH_MAX], v[8];

	if (strchr(vt, '/') || (val[0] != '0' && val[0] != '1'))
		return -EINVAL;
	tpath(p, sizeof(p), "sys/class/vtconsole/%s/bind", vt);
	snprintf(v, sizeof(v), "%c\n", val[0]);
	write_small(p, v);
	return 0;
}

static int do_punbind(const char *dev)
{
	char p[PATH_MAX];

	if (strchr(dev, '/') || !*dev)
		return -EINVAL;
	tpath(p, sizeof(p), "sys/bus/platform/devices/%s/driver", dev);
	return unlink(p) < 0 ? -ENODEV : 0;
}

static int do_pbind(const char *dev, const char *drv)
{
	char p[PATH_MAX], target[PATH_MAX];
	struct stat st;

	if (strchr(dev, '/') || !*dev || strchr(drv, '/'))
		return -EINVAL;
	tpath(p, sizeof(p), "sys/bus/platform/drivers/%s", drv);
	if (stat(p, &st) < 0)
		return -ENODEV;
	tpath(p, sizeof(p), "sys/bus/platform/devices/%s/driver", dev);
	/* Platform devices live in sys/devices/platform/NAME: three levels below sys/. */
	snprintf(target, sizeof(target), "../../../bus/platform/drivers/%s", drv);
	return symlink(target, p) < 0 ? -EBUSY : 0;
}

static long read_count(const char *dir, const char *name, long missing)
{
	char p[1024], buf[32];

	snprintf(p, sizeof(p), "%.900s/%.100s", dir, name);
	return read_small(p, buf, sizeof(buf)) < 0 ? missing : strtol(buf, NULL, 10);
}

static void write_count(const char *dir, const char *name, long v)
{
	char p[1024], buf[32];

	snprintf(p, sizeof(p), "%.900s/%.100s", dir, name);
	snprintf(buf, sizeof(buf), "%ld\n", v);
	write_small(p, buf);
}

static void pool_moved(const char *dir, long nr, long free_pages)
{
	write_count(dir, "nr_hugepages", nr);
	write_count(dir, "free_hugepages", free_pages);
}

/*
 * The kernel resizes the pool in DIR from NR pages (FR of them free) to NOW, and with it the pools
 * it is a part of or holds: a node's pool is a part of the pool of all nodes; the pool of all
 * nodes shrinks by freeing free pages of the nodes' pools, node 0 first.
 */
static void pool_resized(const char *dir, long nr, long fr, long now)
{
	const char *root = getenv("VFIO_HOOK_TEST_ROOT"), *size = strstr(dir, "/hugepages-");

	pool_moved(dir, now, fr + now - nr);
	if (strstr(dir, "/devices/system/node/node") && root) {
		char all[1024];

		snprintf(all, sizeof(all), "%.500s/sys/kernel/mm/hugepages%.400s", root, size);
		if (read_count(all, "nr_hugepages", -1) >= 0)
			pool_moved(all, read_count(all, "nr_hugepages", 0) + now - nr, read_count(all, "free_hugepages", 0) + now - nr);
	} else if (root && now < nr) {
		char pat[1024];
		long drop = nr - now;
		glob_t g;

		snprintf(pat, sizeof(pat), "%.500s/sys/devices/system/node/node*/hugepages%.400s", root, size);
		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc && drop > 0; i++) {
				long nnr = read_count(g.gl_pathv[i], "nr_hugepages", 0), nfr = read_count(g.gl_pathv[i], "free_hugepages", 0);
				long d = drop < nfr ? drop : nfr;

				pool_moved(g.gl_pathv[i], nnr - d, nfr - d);
				drop -= d;
			}
			globfree(&g);
		}
	}
}

static int do_pool(const char *dir, const char *val)
{
	const char *pool_hang = getenv("FAKEKERNEL_POOL_HANG");
	long want = strtol(val, NULL, 10), nr = read_count(dir, "nr_hugepages", -1);
	long fr = read_count(dir, "free_hugepages", 0), cap = read_count(dir, "capacity", -1), now;

	if (nr < 0 || want < 0)
		return -EINVAL;
	/*
	 * FAKEKERNEL_POOL_HANG: the kernel never finishes looking for pages (the writer is killed);
	 * "found:N": a raise finds N pages, then goes on looking for the rest (a lowering works).
	 */
	if (pool_hang && strncmp(pool_hang, "found:", 6) == 0) {
		if (want > nr) {
			long found = strtol(pool_hang + 6, NULL, 10);

			found = found < want - nr ? found : want - nr;
			pool_resized(dir, nr, fr, nr + found);
			for (;;)
				pause();
		}
	} else if (pool_hang) {
		for (;;)
			pause();
	}
	if (want > nr)
		now = cap >= 0 && want > cap ? (cap > nr ? cap : nr) : want;
	else
		now = want > nr - fr ? want : nr - fr;
	pool_resized(dir, nr, fr, now);
	return 0;
}

static void do_compact(void)
{
	const char *root = getenv("VFIO_HOOK_TEST_ROOT");
	const char *pats[] = { "/sys/kernel/mm/hugepages/hugepages-*", "/sys/devices/system/node/node*/hugepages/hugepages-*" };

	for (size_t k = 0; root && k < 2; k++) {
		char pat[1024];
		glob_t g;

		snprintf(pat, sizeof(pat), "%.500s%s", root, pats[k]);
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			long c = read_count(g.gl_pathv[i], "capacity.compacted", -1);

			if (c >= 0)
				write_count(g.gl_pathv[i], "capacity", c);
		}
		globfree(&g);
	}
}

static int emulate(const struct slot *s, const char *buf, size_t len)
{
	static const char *const steps[] = { "", "override", "unbind", "bind", "probe", "", "vtbind", "punbind", "pbind" };
	char val[128], dev[32];
	const char *f;
	int lockfd, r = 0;

	snprintf(val, sizeof(val), "%.*s", (int)(len < sizeof(val) - 1 ? len : sizeof(val) - 1), buf);
	if (s->kind == K_POOL)
		return do_pool(s->path, val);
	if (s->kind == K_COMPACT) {
		do_compact();
		write_small(s->path, val); /* the write, for the suite to see */
		return 0;
	}
	if (s->kind == K_FILE) {
		struct stat st;

		if (stat(s->path, &st) < 0)
			return -ENOENT;
		write_small(s->path, val);
		return 0;
	}
	snprintf(dev, sizeof(dev), "%.31s", *s->dev ? s->dev : val);
	dev[strcspn(dev, "\n")] = '\0';
	/* The whole operation runs under the device lock, as in the kernel. */
	lockfd = lock_dev(dev, LOCK_EX);
	f = fault(steps[s->kind], dev);
	/* A device without a lock (a vtconsole, a platform device) hangs all the same. */
	if (f && strcmp(f, "hang") == 0)
		return hang(lockfd);
	if (f && strcmp(f, "fail") == 0) {
		unlock_dev(lockfd);
		return -EIO;
	}
	switch (s->kind) {
	case K_OVERRIDE:
		r = do_override(dev, val);
		break;
	case K_UNBIND:
		r = do_unbind(dev);
		break;
	case K_BIND:
		r = driver_loaded(s->driver) ? do_bind(dev, s->driver) : -ENODEV;
		break;
	case K_PROBE:
		r = f && strcmp(f, "nobind") == 0 ? 0 : do_probe(dev);
		break;
	case K_VTBIND:
		r = do_vtbind(dev, val);
		break;
	case K_PUNBIND:
		r = do_punbind(dev);
		break;
	case K_PBIND:
		r = do_pbind(dev, s->driver);
		break;
	case K_NONE:
	case K_CONFIG:
	case K_POOL:
	case K_COMPACT:
	case K_FILE:
		break;
	}
	unlock_dev(lockfd);
	return r;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	init();
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (slots[i].kind == K_NONE || slots[i].fd != fd)
			continue;
		int r = emulate(&slots[i], buf, len);
		if (r < 0) {
			errno = -r;
			return -1;
		}
		return (ssize_t)len;
	}
	return real_write(fd, buf, len);
}

/* A shell redirection moves the open attribute to fd 1 (dup2, then close): it stays ours. */
int dup2(int oldfd, int newfd)
{
	static int (*real_dup2)(int, int);
	int r;

	init();
	if (!real_dup2)
		real_dup2 = (int (*)(int, int))dlsym(RTLD_NEXT, "dup2");
	r = real_dup2(oldfd, newfd);
	if (r < 0 || oldfd == newfd)
		return r;
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].kind != K_NONE && slots[i].fd == newfd)
			slots[i].kind = K_NONE;
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (slots[i].kind == K_NONE || slots[i].fd != oldfd)
			continue;
		for (size_t k = 0; k < sizeof(slots) / sizeof(slots[0]); k++)
			if (slots[k].kind == K_NONE) {
				slots[k] = slots[i];
				slots[k].fd = newfd;
				break;
			}
		break;
	}
	return r;
}

int close(int fd)
{
	init();
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].kind != K_NONE && slots[i].fd == fd)
			slots[i].kind = K_NONE;
	return real_close(fd);
}

/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "guard.h"

#include "child.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* The last PCI address in a sysfs device path: the function a block device hangs off. */
static bool path_on_func(const char *real, const struct pci_addr *a)
{
	_cleanup_free_ char *copy = xstrdup(real);
	struct pci_addr found, last = { 0 };
	char *tok, *save = NULL;
	bool any = false;

	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (pci_addr_parse(tok, &found) == 0) {
			last = found;
			any = true;
		}
	return any && pci_addr_eq(&last, a);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Is mount SOURCE block device NAME? Also through /dev/disk/by-*, /dev/mapper and other links. */
static bool source_is(const char *source, const char *name)
{
	_cleanup_free_ char *dev = xasprintf("/dev/%s", name);
	char real[PATH_MAX], want[PATH_MAX];

	if (streq(source, dev))
		return true;
	/* Only /dev: resolving a network or FUSE source could block. */
	if (!startswith(source, "/dev/") || !realpath(source, real))
		return false;
	return streq(real, dev) || (realpath(dev, want) && streq(real, want));
}

/*
 * Where block device NAME (MAJMIN, may be NULL) is mounted, from mountinfo; NULL if not. Both
 * the device number and the source count: btrfs shows an anonymous 0:NN device there, and
 * only its source names the disk.
 */
static char *mounted_at(const char *name, const char *majmin)
{
	_cleanup_free_ char *info = read_file("/proc/self/mountinfo");
	char *line, *save = NULL;

	for (line = info ? strtok_r(info, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char dev[32], mnt[PATH_MAX], src[PATH_MAX];
		const char *sep = strstr(line, " - ");

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS */
		if (sscanf(line, "%*s %*s %31s %*s %4095s", dev, mnt) != 2)
			continue;
		if (!sep || sscanf(sep + 3, "%*s %4095s", src) != 1)
			src[0] = '\0';
		unescape_octal(src);
		if ((majmin && streq(dev, majmin)) || (*src && source_is(src, name))) {
			unescape_octal(mnt);
			return xstrdup(mnt);
		}
	}
	return NULL;
}

static bool is_swap(const char *name)
{
	_cleanup_free_ char *swaps = read_file("/proc/swaps");
	_cleanup_free_ char *want = xasprintf("/dev/%s ", name);

	return swaps && strstr(swaps, want);
}

static char *first_holder(const char *sysdir)
{
	_cleanup_free_ char *p = xasprintf("%s/holders", sysdir);
	DIR *d = opendir(p);
	const struct dirent *e;
	char *r = NULL;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			r = xstrdup(e->d_name);
			break;
		}
	if (d)
		closedir(d);
	return r;
}

#define HOST_NEEDS_IT "the host needs it (unmount or stop using it first, or remove the device from the map)"

/* A disk and its partitions, by kernel name, with their sysfs directories. */
struct blockdev {
	char *name;
	char *sysdir;
};

static void blockdevs_free(struct blockdev *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b[i].name);
		free(b[i].sysdir);
	}
	free(b);
}

/* Disk NAME first, then each partition (a subdirectory with a "partition" file). */
static size_t blockdevs_of(const char *name, struct blockdev **ret)
{
	_cleanup_free_ char *dir = xasprintf("/sys/block/%s", name);
	struct blockdev *b = NULL, *e;
	size_t n = 0;
	DIR *d = opendir(dir);
	const struct dirent *de;

	e = array_push(&b, &n, sizeof(*e));
	e->name = xstrdup(name);
	e->sysdir = xstrdup(dir);
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *pfile = xasprintf("%s/%s/partition", dir, de->d_name);

		if (de->d_name[0] == '.' || access(pfile, F_OK) < 0)
			continue;
		e = array_push(&b, &n, sizeof(*e));
		e->name = xstrdup(de->d_name);
		e->sysdir = xasprintf("%s/%s", dir, de->d_name);
	}
	if (d)
		closedir(d);
	*ret = b;
	return n;
}

static char *known_use(const struct blockdev *b);

/* How loop device LOOP (a disk with partitions of its own) is used; NULL if only attached. */
static char *loop_use(const char *loop)
{
	struct blockdev *b = NULL;
	size_t n = blockdevs_of(loop, &b);
	char *why = NULL;

	for (size_t i = 0; i < n && !why; i++)
		why = known_use(&b[i]);
	blockdevs_free(b, n);
	return why;
}

/*
 * A loop device over B: loop opens its backing device without O_EXCL and shows in no holders
 * directory, and mountinfo names only /dev/loopN. Any attached one counts, used or not: its
 * I/O goes to B. backing_file is an ordinary attribute; only a /dev path is resolved.
 */
static char *loop_backed(const struct blockdev *b)
{
	DIR *d = opendir("/sys/block");
	const struct dirent *e;
	char *why = NULL;

	while (d && !why && (e = readdir(d))) {
		_cleanup_free_ char *bf = NULL, *backing = NULL, *use = NULL;

		if (!startswith(e->d_name, "loop"))
			continue;
		bf = xasprintf("/sys/block/%s/loop/backing_file", e->d_name);
		backing = read_file(bf);
		if (!backing || !source_is(strip(backing), b->name))
			continue;
		use = loop_use(e->d_name);
		why = use ? xasprintf("/dev/%s backs /dev/%s, and %s", b->name, e->d_name, use)
			  : xasprintf("/dev/%s backs /dev/%s: the host needs it (detach it with 'losetup -d /dev/%s' "
				      "first, or remove the device from the map)",
				      b->name, e->d_name, e->d_name);
	}
	if (d)
		closedir(d);
	return why;
}

/* A running VM's raw disk (<disk type='block'>): QEMU opens it without O_EXCL. */
static char *vm_disk(const struct blockdev *b, const struct holders *h)
{
	for (size_t i = 0; h && i < h->n; i++)
		for (size_t j = 0; j < h->doms[i].n_disks; j++)
			if (source_is(h->doms[i].disks[j], b->name))
				return xasprintf("/dev/%s is the disk of the running VM %s: shut %s down first, or remove the "
						 "device from the map",
						 b->name, h->doms[i].name, h->doms[i].name);
	return NULL;
}

/* A mount, swap, md/dm/LVM holder or loop device of B, said the way the user finds it; NULL if none. */
static char *known_use(const struct blockdev *b)
{
	_cleanup_free_ char *devfile = xasprintf("%s/dev", b->sysdir);
	_cleanup_free_ char *dev = read_file(devfile), *mnt = NULL, *holder = NULL;

	if ((mnt = mounted_at(b->name, dev ? strip(dev) : NULL)))
		return xasprintf("/dev/%s is mounted on %s: %s", b->name, mnt, HOST_NEEDS_IT);
	if (is_swap(b->name))
		return xasprintf("/dev/%s is active swap: %s", b->name, HOST_NEEDS_IT);
	if ((holder = first_holder(b->sysdir)))
		return xasprintf("/dev/%s is part of %s (md, dm or LVM): %s", b->name, holder, HOST_NEEDS_IT);
	return loop_backed(b);
}

/*
 * The kernel's own answer: an exclusive open fails with EBUSY while a filesystem (a ZFS pool
 * names no device in mountinfo), md/dm, swap or any other exclusive holder has the device.
 * A node that does not exist (none in a container) says nothing either way; one we may not open
 * (--check as an ordinary user, or a confined root) leaves the question open (-EACCES).
 */
static int probe_exclusive(const void *arg, FILE *out)
{
	_cleanup_free_ char *path = xasprintf("/dev/%s", (const char *)arg);
	int fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);

	(void)out;
	if (fd < 0)
		return errno == EBUSY ? -EBUSY : errno == EACCES || errno == EPERM ? -EACCES : 0;
	close(fd);
	return 0;
}

/* The open can block behind a disk whose driver is stuck: it runs in a child, with a deadline. */
#define GUARD_PROBE_MS 5000

/* *UNCHECKED: set (once) when B may not be opened here, and the kernel may still hold it. */
static char *kernel_use(const struct blockdev *b, char **unchecked)
{
	int r = child_run(probe_exclusive, b->name, GUARD_PROBE_MS, NULL);

	if (r == -EBUSY)
		return xasprintf("/dev/%s is in use by the kernel (a filesystem, RAID/LVM member, swap or ZFS pool): %s",
				 b->name, HOST_NEEDS_IT);
	if (r == -ETIMEDOUT)
		return xasprintf("/dev/%s did not answer an exclusive open within %d s: its disk or driver may be stuck "
				 "(see dmesg); refusing rather than guessing",
				 b->name, GUARD_PROBE_MS / 1000);
	if (r == -EACCES && !*unchecked)
		*unchecked = xasprintf("/dev/%s cannot be opened: whether the kernel holds it (a ZFS pool, or another exclusive "
				       "user) is not checked",
				       b->name);
	return NULL;
}

/* Is disk NAME, or one of its partitions, in use? Says how, or NULL. */
static char *block_in_use(const char *name, const struct holders *h, char **unchecked)
{
	struct blockdev *b = NULL;
	size_t n = blockdevs_of(name, &b);
	char *why = NULL;

	for (size_t i = 0; i < n && !why; i++)
		why = known_use(&b[i]);
	for (size_t i = 0; i < n && !why; i++)
		why = vm_disk(&b[i], h);
	/* Partitions before the disk: a held partition makes the disk's own open fail too. */
	for (size_t i = 1; i <= n && !why; i++)
		why = kernel_use(&b[i % n], unchecked);
	blockdevs_free(b, n);
	return why;
}

/*
 * An NVMe native-multipath head disk lives under the virtual nvme-subsystem device; its paths
 * (nvmeXcYnZ, under each controller) are links in its multipath directory. One path on F
 * makes it F's disk. A sysfs link spells the whole device path below /sys/devices: its text
 * names the function, nothing needs resolving.
 */
static bool multipath_on_func(const char *name, const struct pci_addr *a)
{
	_cleanup_free_ char *dir = xasprintf("/sys/block/%s/multipath", name);
	DIR *d = opendir(dir);
	const struct dirent *e;
	bool on = false;

	while (d && !on && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;
		char target[PATH_MAX];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		on = path_on_func(target, a);
	}
	if (d)
		closedir(d);
	return on;
}

static char *block_guard(const struct pci_func *f, const struct holders *h, char **unchecked)
{
	DIR *d = opendir("/sys/block");
	const struct dirent *e;
	char *why = NULL;

	while (d && !why && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;
		char real[PATH_MAX];

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("/sys/block/%s", e->d_name);
		if ((realpath(link, real) && path_on_func(real, &f->addr)) || multipath_on_func(e->d_name, &f->addr))
			why = block_in_use(e->d_name, h, unchecked);
	}
	if (d)
		closedir(d);
	return why;
}

char *guard_check(const struct pci_func *f, const struct holders *h, char **unchecked)
{
	*unchecked = NULL;
	/* The host's display is display.c's: refused or handed over by the planner. */
	return block_guard(f, h, unchecked);
}

/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD for make bench: libudev accepts /sys only if statfs() says it is sysfs, and the
 * bench's /sys is a tmpfs bind-mounted over it in a private mount namespace. A tmpfs answer
 * for /sys (a path under it, or a descriptor on the same file system) becomes SYSFS_MAGIC;
 * every other answer is left as it is. Cheap on purpose: it runs inside what is measured.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

static int under_sys(const char *path)
{
	return path && strncmp(path, "/sys", 4) == 0 && (path[4] == '\0' || path[4] == '/');
}

static int on_sys(int fd)
{
	static dev_t sys_dev;
	static int known;
	struct stat st;

	if (!known) {
		if (stat("/sys", &st) < 0)
			return 0;
		sys_dev = st.st_dev;
		known = 1;
	}
	return fstat(fd, &st) == 0 && st.st_dev == sys_dev;
}

int statfs(const char *path, struct statfs *buf)
{
	static int (*real)(const char *, struct statfs *);
	int r;

	if (!real)
		real = (int (*)(const char *, struct statfs *))dlsym(RTLD_NEXT, "statfs");
	r = real(path, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && under_sys(path))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

int fstatfs(int fd, struct statfs *buf)
{
	static int (*real)(int, struct statfs *);
	int r;

	if (!real)
		real = (int (*)(int, struct statfs *))dlsym(RTLD_NEXT, "fstatfs");
	r = real(fd, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && on_sys(fd))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

int statfs64(const char *path, struct statfs64 *buf);
int statfs64(const char *path, struct statfs64 *buf)
{
	static int (*real)(const char *, struct statfs64 *);
	int r;

	if (!real)
		real = (int (*)(const char *, struct statfs64 *))dlsym(RTLD_NEXT, "statfs64");
	r = real(path, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && under_sys(path))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

int fstatfs64(int fd, struct statfs64 *buf);
int fstatfs64(int fd, struct statfs64 *buf)
{
	static int (*real)(int, struct statfs64 *);
	int r;

	if (!real)
		real = (int (*)(int, struct statfs64 *))dlsym(RTLD_NEXT, "fstatfs64");
	r = real(fd, buf);
	if (r == 0 && buf->f_type == TMPFS_MAGIC && on_sys(fd))
		buf->f_type = SYSFS_MAGIC;
	return r;
}

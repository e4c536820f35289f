/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD for the test suite: libudev opens the udev hwdb from fixed system paths; this
 * sends those opens to $VFIO_HOOK_TEST_HWDB, a hwdb.bin the suite builds from
 * tests/fixtures/hwdb, so names in golden outputs are the fixture's, not the host's.
 *
 * It also fills a gap of umockdev's preload, which wraps readlink but not its fortified
 * __readlink_chk: the ASan build calls that one, and would read the links of the real /sys.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *redirect(const char *path)
{
	const char *hwdb = getenv("VFIO_HOOK_TEST_HWDB");
	size_t n = path ? strlen(path) : 0;

	if (!hwdb || n < 9 || strcmp(path + n - 9, "/hwdb.bin") != 0)
		return path;
	if (strncmp(path, "/etc/", 5) != 0 && strncmp(path, "/usr/", 5) != 0 && strncmp(path, "/lib/", 5) != 0)
		return path;
	return hwdb;
}

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);

	if (!real)
		real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
	return real(redirect(path), mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);

	if (!real)
		real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen64");
	return real(redirect(path), mode);
}

ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);

/* readlink here resolves to umockdev's (it comes first in LD_PRELOAD), which redirects /sys. */
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return readlink(path, buf, len);
}

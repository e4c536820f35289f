/* SPDX-License-Identifier: MIT */
/* The write helper's guard and deadline, on temporary files only: never on /sys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sysfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/vfio-hook-test-sysfs.XXXXXX";

static void test_refuses_outside_the_sandbox(void **state)
{
	char path[sizeof(dir) + 8];
	FILE *f;
	char buf[16] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/attr", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("before", f);
	fclose(f);
	setenv("VFIO_HOOK_TEST", "1", 1);
	unsetenv("UMOCKDEV_DIR");
	assert_int_equal(sysfs_write(path, "after", 5), -EPERM);
	/* A testbed that is not what /sys shows is no proof either. */
	setenv("UMOCKDEV_DIR", dir, 1);
	assert_int_equal(sysfs_write(path, "after", 5), -EPERM);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "before");
	unsetenv("UMOCKDEV_DIR");
}

static void test_writes_and_gives_up_on_time(void **state)
{
	char path[sizeof(dir) + 8], fifo[sizeof(dir) + 8], buf[16] = "";
	struct timespec a, b;
	FILE *f;
	long ms;

	(void)state;
	unsetenv("VFIO_HOOK_TEST");
	snprintf(path, sizeof(path), "%s/attr", dir);
	assert_int_equal(sysfs_write(path, "written", 5), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "written");
	assert_int_equal(sysfs_write("/nonexistent/dir/attr", "x", 5), -ENOENT);

	/* Opening a FIFO nobody reads blocks, like an unbind stuck in the kernel. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(sysfs_write(fifo, "x", 1), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000L;
	assert_true(ms >= 1000 && ms < 3000);
}

static void test_run_with_deadline(void **state)
{
	char *const ok[] = { (char *)"true", NULL };
	char *const bad[] = { (char *)"false", NULL };
	char *const slow[] = { (char *)"sleep", (char *)"5", NULL };

	(void)state;
	assert_int_equal(run_with_deadline(ok, 5), 0);
	assert_int_equal(run_with_deadline(bad, 5), 1);
	assert_int_equal(run_with_deadline(slow, 1), -ETIMEDOUT);
}

/* An executable stand-in NAME in DIR that writes its arguments to DIR/ran-NAME. */
static void stand_in(const char *d, const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\necho \"$@\" >%s/ran-%s\n", d, name);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_no_host_program_under_test(void **state)
{
	char *const modprobe[] = { (char *)"modprobe", (char *)"vfio-pci", NULL };
	char *const sbin[] = { (char *)"/sbin/modprobe", (char *)"vfio-pci", NULL };
	char bin[sizeof(dir) + 8], host[sizeof(dir) + 8], ran[sizeof(dir) + 32], buf[32] = "";
	const char *old_path = getenv("PATH");
	char *path;
	FILE *f;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	snprintf(host, sizeof(host), "%s/host", dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_int_equal(mkdir(host, 0755), 0);
	/* A modprobe first in PATH stands for the host's: it must never run. */
	stand_in(host, "modprobe");
	path = malloc(strlen(host) + strlen(old_path ? old_path : "") + 2);
	assert_non_null(path);
	sprintf(path, "%s:%s", host, old_path ? old_path : "");
	setenv("PATH", path, 1);
	free(path);
	setenv("VFIO_HOOK_TEST", "1", 1);
	unsetenv("VFIO_HOOK_TEST_BIN");
	assert_int_equal(run_with_deadline(modprobe, 5), -EPERM);
	setenv("VFIO_HOOK_TEST_BIN", "relative/bin", 1);
	assert_int_equal(run_with_deadline(modprobe, 5), -EPERM);
	/* A directory without that stand-in is no licence either. */
	setenv("VFIO_HOOK_TEST_BIN", bin, 1);
	assert_int_equal(run_with_deadline(modprobe, 5), -EPERM);
	snprintf(ran, sizeof(ran), "%s/ran-modprobe", host);
	assert_int_equal(access(ran, F_OK), -1);

	/* The stand-in runs, by name or by the host's absolute path. */
	stand_in(bin, "modprobe");
	snprintf(ran, sizeof(ran), "%s/ran-modprobe", bin);
	assert_int_equal(run_with_deadline(modprobe, 5), 0);
	f = fopen(ran, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "vfio-pci\n");
	unlink(ran);
	assert_int_equal(run_with_deadline(sbin, 5), 0);
	assert_int_equal(access(ran, F_OK), 0);
	snprintf(ran, sizeof(ran), "%s/ran-modprobe", host);
	assert_int_equal(access(ran, F_OK), -1);

	setenv("PATH", old_path ? old_path : "/usr/bin:/bin", 1);
	unsetenv("VFIO_HOOK_TEST");
	unsetenv("VFIO_HOOK_TEST_BIN");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[sizeof(dir) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_outside_the_sandbox),
		cmocka_unit_test(test_writes_and_gives_up_on_time),
		cmocka_unit_test(test_run_with_deadline),
		cmocka_unit_test(test_no_host_program_under_test),
	};

	return cmocka_run_group_tests_name("sysfs", tests, setup, teardown);
}

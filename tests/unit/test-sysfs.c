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
	};

	return cmocka_run_group_tests_name("sysfs", tests, setup, teardown);
}

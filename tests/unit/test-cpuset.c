/* SPDX-License-Identifier: MIT */
/* Sets of CPUs as the kernel (cpuset.cpus, cpu/online) and libvirt (cpuset='0-7,^2') write them. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cpuset.h"
#include "util.h"

static void round_trip(const char *in, const char *canon)
{
	struct cpuset s;
	char buf[256];

	assert_int_equal(cpuset_parse(in, &s), 0);
	cpuset_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_parse_format(void **state)
{
	static const char *const bad[] = { "x", "1-", "-1", "3-1", "1,,2", "1 2", "4096", "0-4096", "^", "1;2", "1-2-3" };
	struct cpuset s;

	(void)state;
	round_trip("", "");
	round_trip("\n", "");
	round_trip("0-3,8", "0-3,8");
	round_trip("8,0,1,2,3", "0-3,8");
	round_trip("0-7,^2", "0-1,3-7");
	round_trip("0-7,^2-3,^7", "0-1,4-6");
	round_trip("4095", "4095");
	round_trip("0-7\n", "0-7");
	round_trip("1,3,5", "1,3,5");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cpuset_parse(bad[i], &s), -22);
}

static void test_operations(void **state)
{
	struct cpuset a, b, both;
	char buf[64];

	(void)state;
	assert_int_equal(cpuset_parse("0-7", &a), 0);
	assert_int_equal(cpuset_parse("2-3,9", &b), 0);
	assert_true(cpuset_and(&a, &b, &both));
	cpuset_format(&both, buf, sizeof(buf));
	assert_string_equal(buf, "2-3");
	cpuset_minus(&a, &b);
	cpuset_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0-1,4-7");
	assert_int_equal(cpuset_count(&a), 6);
	assert_false(cpuset_and(&a, &b, &both));
	assert_true(cpuset_empty(&both));
	cpuset_or(&a, &b);
	cpuset_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0-7,9");
	assert_int_equal(cpuset_parse("9,0-7", &b), 0);
	assert_true(cpuset_eq(&a, &b));
}

/* A set of every CPU whose number modulo PERIOD is below RUN. */
static struct cpuset pattern(unsigned period, unsigned run)
{
	struct cpuset s = { 0 };

	for (unsigned c = 0; c < CPUSET_MAX; c++)
		if (c % period < run)
			cpuset_add(&s, c);
	return s;
}

/*
 * The longest lists a set makes (pairs with one CPU out between them; every other CPU) come out
 * whole in CPUSET_TEXT_MAX: a list cut short would record and send fewer CPUs than were claimed.
 */
static void test_format_whole(void **state)
{
	static const unsigned shapes[][2] = { { 3, 2 }, { 2, 1 }, { 1, 1 }, { 4, 3 } };
	static char buf[CPUSET_TEXT_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		struct cpuset s = pattern(shapes[i][0], shapes[i][1]), back;

		cpuset_format(&s, buf, sizeof(buf));
		assert_int_equal(cpuset_parse(buf, &back), 0);
		assert_true(cpuset_eq(&s, &back));
	}
	cpuset_format((const struct cpuset[]){ pattern(3, 2) }, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 12913);
	assert_true(endswith(buf, ",4092-4093,4095"));
}

/* A buffer the list does not fit in is a bug of the caller's: it stops the program, never cuts the list. */
static void test_format_too_small(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cpuset s = pattern(2, 1);
		char buf[1024];

		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		cpuset_format(&s, buf, sizeof(buf));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_operations),
		cmocka_unit_test(test_format_whole),
		cmocka_unit_test(test_format_too_small),
	};

	return cmocka_run_group_tests_name("cpuset", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Sets of CPUs as the kernel (cpuset.cpus, cpu/online) and libvirt (cpuset='0-7,^2') write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_operations),
	};

	return cmocka_run_group_tests_name("cpuset", tests, NULL, NULL);
}

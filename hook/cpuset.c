/* SPDX-License-Identifier: MIT */
/* Sets of CPUs as text (cpuset.h): the kernel's lists and libvirt's cpusets. */
#include "cpuset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cpuset_has(const struct cpuset *s, unsigned cpu)
{
	return cpu < CPUSET_MAX && (s->bits[cpu / 64] >> (cpu % 64) & 1);
}

void cpuset_add(struct cpuset *s, unsigned cpu)
{
	if (cpu < CPUSET_MAX)
		s->bits[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}


/* One number of a list: digits only, below CPUSET_MAX. */
static int number(const char **p, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	v = strtoul(*p, &end, 10);
	if (v >= CPUSET_MAX)
		return -EINVAL;
	*p = end;
	*ret = (unsigned)v;
	return 0;
}

int cpuset_parse(const char *s, struct cpuset *ret)
{
	struct cpuset set = { 0 }, out = { 0 };
	const char *p = s;

	while (*p == ' ' || *p == '\n')
		p++;
	while (*p && *p != '\n') {
		bool exclude = *p == '^';
		unsigned a, b;

		p += exclude;
		if (number(&p, &a) < 0)
			return -EINVAL;
		b = a;
		if (*p == '-') {
			p++;
			if (number(&p, &b) < 0 || b < a)
				return -EINVAL;
		}
		for (unsigned c = a; c <= b; c++)
			exclude ? cpuset_add(&out, c) : cpuset_add(&set, c);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -EINVAL;
	}
	cpuset_minus(&set, &out);
	*ret = set;
	return 0;
}

void cpuset_format(const struct cpuset *s, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned c = 0; c < CPUSET_MAX; c++) {
		unsigned e = c;
		int k;

		if (!cpuset_has(s, c))
			continue;
		while (e + 1 < CPUSET_MAX && cpuset_has(s, e + 1))
			e++;
		k = e == c ? snprintf(buf + len, n - len, "%s%u", len ? "," : "", c)
			   : snprintf(buf + len, n - len, "%s%u-%u", len ? "," : "", c, e);
		if (k < 0 || (size_t)k >= n - len) {
			fprintf(stderr, "vfio-hook: internal error: a list of %zu CPUs does not fit in %zu bytes (cpuset_format); "
				"stopped rather than cut it: please report this bug\n", cpuset_count(s), n);
			abort();
		}
		len += (size_t)k;
		c = e;
	}
}

void cpuset_or(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		dst->bits[i] |= src->bits[i];
}

void cpuset_minus(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		dst->bits[i] &= ~src->bits[i];
}

bool cpuset_and(const struct cpuset *a, const struct cpuset *b, struct cpuset *ret)
{
	bool any = false;

	for (size_t i = 0; i < CPUSET_MAX / 64; i++) {
		ret->bits[i] = a->bits[i] & b->bits[i];
		any |= ret->bits[i] != 0;
	}
	return any;
}

size_t cpuset_count(const struct cpuset *s)
{
	size_t n = 0;

	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		n += (size_t)__builtin_popcountll(s->bits[i]);
	return n;
}

bool cpuset_empty(const struct cpuset *s)
{
	return cpuset_count(s) == 0;
}

bool cpuset_eq(const struct cpuset *a, const struct cpuset *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* SPDX-License-Identifier: MIT */
#ifndef VH_CPUSET_H
#define VH_CPUSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of CPUs, as the kernel and libvirt write them ("0-3,8", libvirt's "0-7,^2" too). */
#define CPUSET_MAX 4096

struct cpuset {
	uint64_t bits[CPUSET_MAX / 64];
};

/* "0-3,8,^2": 0, or -EINVAL for anything else (an empty string is the empty set). */
int cpuset_parse(const char *s, struct cpuset *ret);
/*
 * The longest list a struct cpuset makes: pairs of CPUs with one left out between them
 * ("0-1,3-4,...,4092-4093,4095") take the most room, at most 10 characters for every 3 CPUs.
 */
#define CPUSET_TEXT_MAX (CPUSET_MAX / 3 * 10 + 16)
/*
 * "0-3,8" (ranges, ascending); "" for the empty set. N is CPUSET_TEXT_MAX, so that any set fits
 * whole: a list cut short would claim or record fewer CPUs than it says, so one that does not
 * fit in N aborts, naming the caller's bug, rather than write part of it.
 */
void cpuset_format(const struct cpuset *s, char *buf, size_t n);
bool cpuset_has(const struct cpuset *s, unsigned cpu);
void cpuset_add(struct cpuset *s, unsigned cpu);
void cpuset_or(struct cpuset *dst, const struct cpuset *src);
void cpuset_minus(struct cpuset *dst, const struct cpuset *src);
/* A ∩ B into RET; true when not empty. */
bool cpuset_and(const struct cpuset *a, const struct cpuset *b, struct cpuset *ret);
size_t cpuset_count(const struct cpuset *s);
bool cpuset_empty(const struct cpuset *s);
bool cpuset_eq(const struct cpuset *a, const struct cpuset *b);

#endif

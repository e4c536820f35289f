/* SPDX-License-Identifier: MIT */
#ifndef VH_UTIL_H
#define VH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Scope-bound cleanup, so error paths need no goto ladders. */
static inline void freep(void *p) { free(*(void **)p); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Allocation failure is not something a hook can recover from. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *arr (of *n elements of size sz) by one zeroed element; returns it. */
void *array_push(void *arr_ptr, size_t *n, size_t sz);

bool streq(const char *a, const char *b);
bool startswith(const char *s, const char *prefix);
char *strip(char *s);

/*
 * S with control bytes, bytes >= 0x7f and '%' (and spaces when SPACE) as %XX: what the ledger
 * writes in its fields, and what a one-line message shows of a name anyone can set (a comm).
 */
char *pct_encode(const char *s, bool space);

/* Reads a whole small file (sysfs attribute, /proc file); NULL on error with errno set. */
char *read_file(const char *path);

#endif

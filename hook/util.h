/* SPDX-License-Identifier: MIT */
#ifndef VH_UTIL_H
#define VH_UTIL_H

#include <errno.h>
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
bool endswith(const char *s, const char *suffix);
char *strip(char *s);

/*
 * S with control bytes, bytes >= 0x7f and '%' (and spaces when SPACE) as %XX: what the ledger
 * writes in its fields, and what a one-line message shows of a name anyone can set (a comm).
 */
char *pct_encode(const char *s, bool space);

/* Reads a whole small file (sysfs attribute, /proc file); NULL on error with errno set. */
char *read_file(const char *path);

/*
 * Configuration files are read only when regular (/proc and /sys files are): a FIFO or a
 * device put at such a path would block open(2) or read(2) without a deadline. This errno
 * says "not a regular file"; file_error() words it (and any other errno) for a message.
 */
#define ENOTREGULAR EMEDIUMTYPE
/* PATH (relative to DIRFD, or AT_FDCWD) opened with FLAGS, never waiting: the fd, or -errno. */
int open_regular(int dirfd, const char *path, int flags);
/* All of FD into *RET (NUL-terminated, its length in *RET_LEN if not NULL): 0 or -errno. */
int read_fd(int fd, char **ret, size_t *ret_len);
/* A regular file's text (FLAGS: e.g. O_NOFOLLOW); NULL with errno set, ENOTREGULAR for others. */
char *read_regular(int dirfd, const char *path, int flags);
const char *file_error(int err);
/*
 * What to do about something vfio-hook could not read: a user is told to run it as root; root
 * itself is closed out only by a security module or a cgroup confining it.
 */
const char *closed_fix(void);

/*
 * S with every byte that is not printable ASCII, and the backslash, written as \xNN: a path
 * that goes into a comment or a record line cannot end it (a newline) or hide in it.
 */
char *escape_text(const char *s);

/*
 * S as one word of a command the user is told to run: as it is when that is safe, else in
 * single quotes (virsh shutdown 'Windows 10'). _inner: for a command a message already puts in
 * single quotes ('vfio-hook restore "Windows 10"'): double quotes where they are enough.
 */
char *shell_quote(const char *s);
char *shell_quote_inner(const char *s);
/* Levenshtein distance, letters compared without their case. */
size_t edit_distance(const char *a, const char *b);
/* The one of NAMES closest to NAME when it is close enough to be a slip of it, else NULL. */
const char *closest_name(const char *name, const char *const *names, size_t n);

/* A driver name fit for driver_override (and a module name for modprobe): [A-Za-z0-9_.-]{1,63}. */
bool driver_name_valid(const char *s);

#endif

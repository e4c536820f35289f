/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
	fputs("vfio-hook: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void *array_push(void *arr_ptr, size_t *n, size_t sz)
{
	char **arr = arr_ptr;

	*arr = xrealloc(*arr, (*n + 1) * sz);
	memset(*arr + *n * sz, 0, sz);
	return *arr + (*n)++ * sz;
}

bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

char *strip(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

char *read_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	size_t r;

	if (!f)
		return NULL;
	do {
		if (cap - len < 256) {
			cap = cap ? cap * 2 : 512;
			buf = xrealloc(buf, cap + 1);
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

int open_regular(int dirfd, const char *path, int flags)
{
	struct stat st;
	int fd = openat(dirfd, path, flags | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTREGULAR;
	}
	return fd;
}

int read_fd(int fd, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t n;

		if (cap - len < 1024)
			buf = xrealloc(buf, (cap *= 2) + 1);
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

char *read_regular(int dirfd, const char *path, int flags)
{
	int fd = open_regular(dirfd, path, O_RDONLY | flags), r;
	char *text = NULL;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	r = read_fd(fd, &text, NULL);
	close(fd);
	errno = -r;
	return text;
}

const char *file_error(int err)
{
	if (err < 0)
		err = -err;
	return err == ENOTREGULAR ? "not a regular file (a FIFO, socket or device)" : strerror(err);
}

const char *closed_fix(void)
{
	return geteuid() == 0 ? "something confines vfio-hook even as root: a security module or a cgroup, see the audit log"
			      : "run it as root to know";
}

/* The one escaper: each byte outside printable ASCII, and the style's own marker, as MARKER + two hex digits. */
static char *escape_bytes(const char *s, bool percent, bool space)
{
	char *r = xmalloc(strlen(s) * 4 + 1), *w = r;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == (percent ? '%' : '\\') || (*p == 0x20 && space))
			w += sprintf(w, percent ? "%%%02X" : "\\x%02x", *p);
		else
			*w++ = (char)*p;
	}
	*w = '\0';
	return r;
}

char *escape_text(const char *s)
{
	return escape_bytes(s, false, false);
}

char *pct_encode(const char *s, bool space)
{
	return escape_bytes(s, true, space);
}

bool driver_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/* Needs S quoting to be one shell word? Names libvirt takes may hold spaces, quotes, '$'. */
static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.,:+=@%/-", *s))
			return false;
	return true;
}

char *shell_quote(const char *s)
{
	size_t n = 2;
	char *r, *w;

	if (shell_safe(s))
		return xstrdup(s);
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	w = r = xmalloc(n + 1);
	*w++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *p;
		}
	}
	*w++ = '\'';
	*w = '\0';
	return r;
}

char *shell_quote_inner(const char *s)
{
	if (shell_safe(s) || strpbrk(s, "\"$`\\!"))
		return shell_quote(s);
	return xasprintf("\"%s\"", s);
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row)), r;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	r = row[lb];
	free(row);
	return r;
}

const char *closest_name(const char *name, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, len = strlen(name);

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(name, names[i]);

		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	/* A third of the name may be wrong (at least 2): "Win10" for "win10", "windows10" for "windows-10". */
	return best && best_d <= (len / 3 > 2 ? len / 3 : 2) ? best : NULL;
}

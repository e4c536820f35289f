/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "state.h"

#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *state_dir(void)
{
	const char *env = getenv("VFIO_HOOK_STATE_DIR");

	return env && *env ? env : "/run/vfio-hook";
}

static int ensure_dir(void)
{
	if (mkdir(state_dir(), 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		log_error("cannot create %s: %m (is /run writable by this user?)", state_dir());
		return r;
	}
	return 0;
}

/* libvirt names cannot contain '/'; a leading '.' would hide the file. */
static int record_path(const char *vm, char **ret)
{
	if (!*vm || strchr(vm, '/') || vm[0] == '.')
		return -EINVAL;
	*ret = xasprintf("%s/%s.record", state_dir(), vm);
	return 0;
}

int record_save(const struct record *r)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	FILE *f;
	int fd, dfd, ret = 0;

	if (record_path(r->vm, &path) < 0)
		return -EINVAL;
	ret = ensure_dir();
	if (ret < 0)
		return ret;
	tmp = xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		log_error("cannot write %s: %m", tmp);
		return ret;
	}
	fprintf(f, "# vfio-hook: what the start of this VM changed; 'vfio-hook restore %s' undoes it\n", r->vm);
	fprintf(f, "vm %s\n", r->vm);
	for (size_t i = 0; i < r->n; i++) {
		char a[PCI_ADDR_LEN];

		pci_addr_format(&r->funcs[i].addr, a, sizeof(a));
		fprintf(f, "func %s driver=%s override=%s state=%s\n", a, r->funcs[i].driver, r->funcs[i].override,
			r->funcs[i].moved ? "moved" : "moving");
	}
	for (size_t i = 0; i < r->n_evicted; i++) {
		char a[PCI_ADDR_LEN];

		pci_addr_format(&r->evicted[i].addr, a, sizeof(a));
		fprintf(f, "evicted %s from=%s xml=%s\n", a, r->evicted[i].from, r->evicted[i].xml);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		errno = -ret;
		log_error("cannot write %s: %m", path);
		unlink(tmp);
		return ret;
	}
	dfd = open(state_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int record_load(const char *vm, struct record *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct record r = { 0 };
	char *line, *save = NULL;

	if (record_path(vm, &path) < 0)
		return -ENOENT;
	text = read_file(path);
	if (!text)
		return errno == ENOENT ? -ENOENT : -errno;
	snprintf(r.vm, sizeof(r.vm), "%s", vm);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char addr[32], drv[64] = "", ovr[64] = "", st[16] = "";
		struct rec_func f = { 0 };

		if (startswith(line, "evicted ")) {
			struct rec_evict e = { 0 };
			char from[256];
			const char *x = strstr(line, " xml=");

			if (!x || sscanf(line, "evicted %31s from=%255s", addr, from) != 2 || pci_addr_parse(addr, &e.addr) < 0)
				continue;
			snprintf(e.from, sizeof(e.from), "%s", from);
			e.xml = xstrdup(x + 5);
			*(struct rec_evict *)array_push(&r.evicted, &r.n_evicted, sizeof(e)) = e;
			continue;
		}
		if (!startswith(line, "func "))
			continue;
		/* "func ADDR driver=X override=Y state=Z", X and Y possibly empty */
		if (sscanf(line, "func %31s driver=%63[^ ] override=%63[^ ] state=%15s", addr, drv, ovr, st) < 4) {
			char *d = strstr(line, "driver="), *o = strstr(line, " override="), *s = strstr(line, " state=");

			if (!d || !o || !s || sscanf(line, "func %31s", addr) != 1)
				continue;
			snprintf(drv, sizeof(drv), "%.*s", (int)(o - d - 7), d + 7);
			snprintf(ovr, sizeof(ovr), "%.*s", (int)(s - o - 10), o + 10);
			snprintf(st, sizeof(st), "%s", s + 7);
		}
		if (pci_addr_parse(addr, &f.addr) < 0)
			continue;
		snprintf(f.driver, sizeof(f.driver), "%s", drv);
		snprintf(f.override, sizeof(f.override), "%s", ovr);
		f.moved = streq(st, "moved");
		*(struct rec_func *)array_push(&r.funcs, &r.n, sizeof(f)) = f;
	}
	*ret = r;
	return 0;
}

bool record_exists(const char *vm)
{
	_cleanup_free_ char *path = NULL;

	return record_path(vm, &path) == 0 && access(path, F_OK) == 0;
}

int record_remove(const char *vm)
{
	_cleanup_free_ char *path = NULL;

	if (record_path(vm, &path) < 0)
		return -EINVAL;
	if (unlink(path) < 0 && errno != ENOENT) {
		int r = -errno;

		log_error("cannot remove %s: %m", path);
		return r;
	}
	return 0;
}

void record_clear(struct record *r)
{
	free(r->funcs);
	r->funcs = NULL;
	r->n = 0;
	record_clear_evicted(r);
}

void record_clear_evicted(struct record *r)
{
	for (size_t i = 0; i < r->n_evicted; i++)
		free(r->evicted[i].xml);
	free(r->evicted);
	r->evicted = NULL;
	r->n_evicted = 0;
}

bool record_take(struct record *r, const struct pci_addr *a, struct rec_func *ret)
{
	for (size_t i = 0; i < r->n; i++)
		if (pci_addr_eq(&r->funcs[i].addr, a)) {
			*ret = r->funcs[i];
			memmove(&r->funcs[i], &r->funcs[i + 1], (r->n - i - 1) * sizeof(*r->funcs));
			r->n--;
			return true;
		}
	return false;
}

/* Calls fn on every record but SELF's; stops when fn returns true. */
static void each_other(const char *self, bool (*fn)(struct record *other, void *data), void *data)
{
	char **names = NULL;
	size_t n = 0;
	bool stop = false;

	record_list(&names, &n);
	for (size_t i = 0; i < n; i++) {
		struct record other = { 0 };

		if (!stop && !streq(names[i], self) && record_load(names[i], &other) == 0)
			stop = fn(&other, data);
		record_clear(&other);
		free(names[i]);
	}
	free(names);
}

struct find_args {
	const struct pci_addr *a;
	struct rec_func *ret;
	bool found;
};

static bool find_in(struct record *other, void *data)
{
	struct find_args *f = data;

	for (size_t i = 0; i < other->n && !f->found; i++)
		if (pci_addr_eq(&other->funcs[i].addr, f->a)) {
			*f->ret = other->funcs[i];
			f->found = true;
		}
	return f->found;
}

bool record_find_other(const char *self, const struct pci_addr *a, struct rec_func *ret)
{
	struct find_args f = { a, ret, false };

	each_other(self, find_in, &f);
	return f.found;
}

static bool drop_from(struct record *other, void *data)
{
	const struct record *r = data;
	bool changed = false;
	struct rec_func rf;

	for (size_t i = 0; i < r->n; i++)
		changed |= record_take(other, &r->funcs[i].addr, &rf);
	if (changed)
		record_store(other);
	return false;
}

void record_hand_over(const struct record *r)
{
	each_other(r->vm, drop_from, (void *)r);
}

int record_store(const struct record *r)
{
	return r->n || r->n_evicted ? record_save(r) : record_remove(r->vm);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int record_list(char ***ret, size_t *ret_n)
{
	DIR *dir = opendir(state_dir());
	const struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dir) {
		*ret = NULL;
		*ret_n = 0;
		return errno == ENOENT ? 0 : -errno;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 8 || strcmp(de->d_name + len - 7, ".record") != 0)
			continue;
		*(char **)array_push(&names, &n, sizeof(char *)) = xasprintf("%.*s", (int)(len - 7), de->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	*ret = names;
	*ret_n = n;
	return 0;
}

int state_lock(const char *what, unsigned timeout_s)
{
	_cleanup_free_ char *path = NULL;
	struct timespec start, now, nap = { 0, 50000000L };
	char holder[256] = "";
	int fd, r;

	r = ensure_dir();
	if (r < 0)
		return r;
	path = xasprintf("%s/lock", state_dir());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		log_error("cannot open %s: %m", path);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Polling with a deadline: a stuck holder must not make libvirt wait forever. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			r = -errno;
			log_error("cannot lock %s: %m", path);
			close(fd);
			return r;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L >= (long)timeout_s * 1000L) {
			ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);

			holder[n > 0 ? n : 0] = '\0';
			holder[strcspn(holder, "\n")] = '\0';
			log_error("%s: another vfio-hook run (%s) has held %s for %u s; gave up waiting (if it is stuck, a device "
				  "write hangs in the kernel: see 'ps -ef | grep vfio-hook')",
				  what, *holder ? holder : "unknown", path, timeout_s);
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	snprintf(holder, sizeof(holder), "pid %ld, %s\n", (long)getpid(), what);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, holder, strlen(holder), 0) < 0) {
		/* only informative for a waiter */
	}
	return fd;
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

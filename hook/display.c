/* SPDX-License-Identifier: MIT */
/* Finding what of the host's display lives on a function (display.h). */
#define _GNU_SOURCE
#include "display.h"

#include "child.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* The platform devices the kernel makes for a firmware framebuffer (sysfb), and the names their memory goes by in /proc/iomem. */
static const char *const fw_devices[] = { "efi-framebuffer.", "simple-framebuffer.", "vesa-framebuffer." };
static const char *const fw_regions[] = { "BOOTFB", "efifb", "vesafb", "simplefb", "simpledrm", "simple-framebuffer",
					  "efi-framebuffer", "vesa-framebuffer" };

const char *display_root(void)
{
	const char *r = getenv("VFIO_HOOK_TEST_ROOT");

	/* The suite's processes and units are files it wrote; a real host's are its own. */
	return getenv("VFIO_HOOK_TEST") && r && *r == '/' ? r : "";
}

/* Under VFIO_HOOK_TEST without a root, the machine's own processes and files are never looked at. */
static bool root_usable(void)
{
	return !getenv("VFIO_HOOK_TEST") || *display_root();
}

static void push_str(char ***arr, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (streq((*arr)[i], s))
			return;
	*(char **)array_push(arr, n, sizeof(char *)) = xstrdup(s);
}

static void free_strs(char **arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

void display_use_clear(struct display_use *u)
{
	free_strs(u->vtcons, u->n_vtcons);
	free_strs(u->fbs, u->n_fbs);
	free_strs(u->nodes, u->n_nodes);
	free(u->fw);
	free(u->procs);
	*u = (struct display_use){ 0 };
}

/* Is the sysfs device at LINK (resolved) F itself or below it? Its last PCI address says. */
static bool link_on_func(const char *link, const struct pci_addr *a)
{
	char real[PATH_MAX], *tok, *save = NULL;
	struct pci_addr found, last;
	bool any = false;

	if (!realpath(link, real))
		return false;
	for (tok = strtok_r(real, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (pci_addr_parse(tok, &found) == 0) {
			last = found;
			any = true;
		}
	return any && pci_addr_eq(&last, a);
}

static void find_fbs(struct display_use *u)
{
	DIR *d = opendir("/sys/class/graphics");
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;

		if (!startswith(e->d_name, "fb") || !e->d_name[2])
			continue;
		link = xasprintf("/sys/class/graphics/%s", e->d_name);
		if (link_on_func(link, &u->f->addr))
			push_str(&u->fbs, &u->n_fbs, e->d_name);
	}
	if (d)
		closedir(d);
}

/* The function's DRM nodes, from its drm/ children: what processes open to draw on it. */
static void find_nodes(struct display_use *u)
{
	_cleanup_free_ char *dir = xasprintf("%s/drm", u->f->syspath);
	DIR *d = opendir(dir);
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *node = NULL;

		if (!startswith(e->d_name, "card") && !startswith(e->d_name, "renderD"))
			continue;
		node = xasprintf("/dev/dri/%s", e->d_name);
		push_str(&u->nodes, &u->n_nodes, node);
	}
	if (d)
		closedir(d);
	u->nvidia = u->f->driver && streq(u->f->driver, "nvidia");
}

/* BAR I of the function: [start, end]; false when it has none. */
static bool bar_range(const char *resource, int i, unsigned long long *start, unsigned long long *end)
{
	const char *p = resource;

	for (int k = 0; k < i && p; k++)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	return p && sscanf(p, "%llx %llx", start, end) == 2 && *end > *start;
}

static bool fw_region_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(fw_regions); i++)
		if (startswith(name, fw_regions[i]))
			return true;
	return false;
}

/* The BAR of F holding a firmware framebuffer's memory, from /proc/iomem (root sees the addresses); -1: none. */
static int fw_bar(const struct pci_func *f)
{
	_cleanup_free_ char *rpath = xasprintf("%s/resource", f->syspath);
	_cleanup_free_ char *ipath = xasprintf("%s/proc/iomem", display_root());
	_cleanup_free_ char *res = read_file(rpath), *iomem = res && root_usable() ? read_file(ipath) : NULL;
	char *line, *save = NULL;

	for (line = iomem ? strtok_r(iomem, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e, bs, be;
		int off = 0;

		if (sscanf(line, " %llx-%llx : %n", &s, &e, &off) != 2 || !off || !fw_region_name(line + off) || e <= s)
			continue;
		for (int i = 0; i < 6; i++)
			if (bar_range(res, i, &bs, &be) && s >= bs && e <= be)
				return i;
	}
	return -1;
}

static void find_fw(struct display_use *u)
{
	int bar = fw_bar(u->f);
	DIR *d = bar < 0 ? NULL : opendir("/sys/bus/platform/devices");
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;
		char target[PATH_MAX];
		struct display_fw fw = { .bar = bar };
		bool ours = false;
		ssize_t n;

		for (size_t i = 0; i < ARRAY_SIZE(fw_devices); i++)
			ours |= startswith(e->d_name, fw_devices[i]);
		if (!ours || strlen(e->d_name) >= sizeof(fw.dev))
			continue;
		snprintf(fw.dev, sizeof(fw.dev), "%s", e->d_name);
		link = xasprintf("/sys/bus/platform/devices/%s/driver", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			snprintf(fw.driver, sizeof(fw.driver), "%.63s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
		}
		*(struct display_fw *)array_push(&u->fw, &u->n_fw, sizeof(fw)) = fw;
	}
	if (d)
		closedir(d);
}

/* fbcon draws on every framebuffer: a vtconsole bound to it uses F's when F has one. */
static void find_vtcons(struct display_use *u)
{
	DIR *d = u->n_fbs || u->n_fw ? opendir("/sys/class/vtconsole") : NULL;
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *np = NULL, *bp = NULL, *name = NULL, *bind = NULL;

		if (!startswith(e->d_name, "vtcon"))
			continue;
		np = xasprintf("/sys/class/vtconsole/%s/name", e->d_name);
		bp = xasprintf("/sys/class/vtconsole/%s/bind", e->d_name);
		name = read_file(np);
		bind = read_file(bp);
		if (name && bind && strstr(name, "frame buffer") && bind[0] == '1' &&
		    display_what_valid(DSTEP_VTCON, e->d_name))
			push_str(&u->vtcons, &u->n_vtcons, e->d_name);
	}
	if (d)
		closedir(d);
}

static bool node_of(const struct display_use *u, const char *target)
{
	for (size_t i = 0; i < u->n_nodes; i++)
		if (streq(u->nodes[i], target))
			return true;
	/* NVIDIA's driver: its control and per-GPU nodes hold the module, whichever GPU they draw on. */
	return u->nvidia && startswith(target, "/dev/nvidia");
}

/* One process: does it have one of U's nodes open? */
static void scan_pid(struct display_use *u, const char *root, const char *pid)
{
	_cleanup_free_ char *fddir = xasprintf("%s/proc/%s/fd", root, pid);
	DIR *d = opendir(fddir);
	const struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL, *cpath = NULL, *comm = NULL;
		struct display_proc p = { 0 };
		char target[256];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", fddir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!node_of(u, target))
			continue;
		p.pid = atol(pid);
		snprintf(p.node, sizeof(p.node), "%.63s", target);
		cpath = xasprintf("%s/proc/%s/comm", root, pid);
		comm = read_file(cpath);
		snprintf(p.comm, sizeof(p.comm), "%s", comm ? strip(comm) : "?");
		*(struct display_proc *)array_push(&u->procs, &u->n_procs, sizeof(p)) = p;
		break;
	}
	if (d)
		closedir(d);
}

/* Every process with one of U's nodes open, from /proc/PID/fd; the whole scan ends at DEADLINE_MS. */
static void scan_procs(struct display_use *u, long deadline_ms)
{
	const char *root = display_root();
	_cleanup_free_ char *dir = xasprintf("%s/proc", root);
	DIR *d;
	const struct dirent *e;

	free(u->procs);
	u->procs = NULL;
	u->n_procs = 0;
	u->incomplete = false;
	if ((!u->n_nodes && !u->nvidia) || !root_usable())
		return;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (strspn(e->d_name, "0123456789") != strlen(e->d_name) || atol(e->d_name) == (long)getpid())
			continue;
		if (now_ms() > deadline_ms) {
			u->incomplete = true;
			break;
		}
		scan_pid(u, root, e->d_name);
	}
	if (d)
		closedir(d);
}

int display_detect(const struct pci_func *f, long deadline_ms, struct display_use *ret)
{
	struct display_use u = { .f = f };

	*ret = u;
	if (!f->syspath)
		return 0;
	find_fbs(&u);
	find_nodes(&u);
	find_fw(&u);
	find_vtcons(&u);
	scan_procs(&u, deadline_ms);
	if (!u.n_vtcons && !u.n_fw && !u.n_procs) {
		display_use_clear(&u);
		return 0;
	}
	*ret = u;
	return 1;
}

void display_rescan(struct display_use *u, long deadline_ms)
{
	scan_procs(u, deadline_ms);
}

/* The tty the console shows now, for the message: what a user sees as "the console". */
static char *fbcon_tty(const struct display_use *u)
{
	_cleanup_free_ char *active = read_file("/sys/class/tty/tty0/active");

	if (active && *strip(active))
		return xstrdup(strip(active));
	return xstrdup(u->vtcons[0]);
}

static void append(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **buf, const char *fmt, ...)
{
	va_list ap;
	char *s, *r;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = xasprintf("%s%s", *buf ? *buf : "", s);
	free(s);
	free(*buf);
	*buf = r;
}

char *display_procs_text(const struct display_use *u)
{
	char *s = NULL;
	char **nodes = NULL;
	size_t n_nodes = 0;

	for (size_t i = 0; i < u->n_procs; i++) {
		append(&s, "%s%s pid %ld", i == 0 ? "" : i + 1 == u->n_procs ? " and " : ", ", u->procs[i].comm,
		       u->procs[i].pid);
		push_str(&nodes, &n_nodes, u->procs[i].node);
	}
	append(&s, " %s ", u->n_procs == 1 ? "uses" : "use");
	for (size_t i = 0; i < n_nodes; i++)
		append(&s, "%s%s", i ? ", " : "", nodes[i]);
	if (u->incomplete)
		append(&s, " (and maybe more: the scan of /proc ran out of time)");
	free_strs(nodes, n_nodes);
	return s;
}

char *display_describe(const struct display_use *u)
{
	char *s = NULL;

	if (u->n_vtcons) {
		_cleanup_free_ char *tty = fbcon_tty(u);

		append(&s, "fbcon on %s", tty);
	}
	for (size_t i = 0; i < u->n_fw; i++)
		append(&s, "%sthe firmware framebuffer %s in its BAR %d", s ? "; " : "", u->fw[i].dev, u->fw[i].bar);
	if (u->n_procs) {
		_cleanup_free_ char *p = display_procs_text(u);

		append(&s, "%s%s", s ? "; " : "", p);
	}
	return s ? s : xstrdup("");
}

char *display_manager_unit(const struct display_cfg *d)
{
	_cleanup_free_ char *link = xasprintf("%s/etc/systemd/system/display-manager.service", display_root());
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (d->manager)
		return xstrdup(d->manager);
	n = root_usable() ? readlink(link, target, sizeof(target) - 1) : -1;
	if (n <= 0)
		return xstrdup("display-manager.service");
	target[n] = '\0';
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	return display_what_valid(DSTEP_DM, base) ? xstrdup(base) : xstrdup("display-manager.service");
}

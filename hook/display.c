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

/* The running VMs' QEMU pids U knows, forgotten. */
static void clear_vms(struct display_use *u)
{
	for (size_t i = 0; i < u->n_vms; i++)
		free(u->vms[i].name);
	free(u->vms);
	u->vms = NULL;
	u->n_vms = 0;
}

void display_use_clear(struct display_use *u)
{
	clear_vms(u);
	free(u->stuck);
	free(u->tty);
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

/*
 * The framebuffers fbcon's consoles map to, a bit each: fbcon=map:DIGITS on the kernel's command
 * line (console N on fb DIGITS[N], the digits repeated over the consoles), else the first one
 * registered, fb0 (Documentation/fb/fbcon.rst). A second GPU's fbM is nobody's console.
 */
static unsigned long fbcon_fbs(void)
{
	_cleanup_free_ char *path = xasprintf("%s/proc/cmdline", display_root());
	_cleanup_free_ char *cmd = root_usable() ? read_file(path) : NULL;
	unsigned long mask = 0;

	for (const char *p = cmd; p && (p = strstr(p, "fbcon=")); p++) {
		const char *o = p + 6;

		if (p != cmd && !strchr(" \t\n", p[-1]))
			continue;
		/* fbcon=opt,opt,...: map: is one of them. */
		while (*o && !strchr(" \t\n", *o)) {
			if (startswith(o, "map:"))
				for (o += 4; *o >= '0' && *o <= '9'; o++)
					mask |= 1UL << ((*o - '0') % 32);
			o += strcspn(o, ", \t\n");
			if (*o == ',')
				o++;
		}
	}
	return mask ? mask : 1UL;
}

static void find_fbs(struct display_use *u)
{
	DIR *d = opendir("/sys/class/graphics");
	const struct dirent *e;
	unsigned long mapped = 0;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;
		char *end;
		long n;

		if (!startswith(e->d_name, "fb") || !e->d_name[2])
			continue;
		link = xasprintf("/sys/class/graphics/%s", e->d_name);
		if (!link_on_func(link, &u->f->addr))
			continue;
		push_str(&u->fbs, &u->n_fbs, e->d_name);
		n = strtol(e->d_name + 2, &end, 10);
		if (!*end && n >= 0 && n < 32) {
			if (!mapped)
				mapped = fbcon_fbs();
			u->fb_console |= (mapped >> n) & 1UL;
		}
	}
	if (d)
		closedir(d);
}

bool display_nvidia_elsewhere(const struct display_use *uses, size_t n)
{
	DIR *d = opendir("/sys/bus/pci/drivers/nvidia");
	const struct dirent *e;
	bool other = false;

	while (d && !other && (e = readdir(d))) {
		struct pci_addr a;
		bool ours = false;

		if (pci_addr_parse(e->d_name, &a) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			ours |= pci_addr_eq(&uses[k].f->addr, &a);
		other = !ours;
	}
	if (d)
		closedir(d);
	return other;
}

/* F's /dev/nvidiaN: "Device Minor: N" in what NVIDIA's driver says of it; -1 unknown. */
static int nvidia_minor(const struct pci_func *f)
{
	char a[PCI_ADDR_LEN];
	_cleanup_free_ char *path = NULL, *info = NULL;
	const char *m;
	int minor;

	pci_addr_format(&f->addr, a, sizeof(a));
	path = xasprintf("%s/proc/driver/nvidia/gpus/%s/information", display_root(), a);
	info = root_usable() ? read_file(path) : NULL;
	m = info ? strstr(info, "Device Minor:") : NULL;
	return m && sscanf(m, "Device Minor: %d", &minor) == 1 && minor >= 0 && minor < 255 ? minor : -1;
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
	u->nv_minor = u->nvidia ? nvidia_minor(u->f) : -1;
	/* Another function on NVIDIA's driver: the shared nodes may be its users'. */
	u->nv_shared = u->nvidia && !display_nvidia_elsewhere(u, 1);
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
		/* Unbound (a hand-over did it, or nothing ever bound it), it holds nothing of the BAR. */
		if (n <= 0)
			continue;
		target[n] = '\0';
		snprintf(fw.driver, sizeof(fw.driver), "%.63s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
		*(struct display_fw *)array_push(&u->fw, &u->n_fw, sizeof(fw)) = fw;
	}
	if (d)
		closedir(d);
}

/*
 * vtconsole's bind and tty0's active are served under the kernel's console lock, which a console
 * driver stuck in the kernel holds for good: they are read in a child that announces each file
 * ("? PATH") before reading it and answers "vtconN BIND NAME" per vtconsole, then "tty ACTIVE"
 * when one is bound to fbcon. A child silent past the deadline is stuck on the file it announced.
 */
static int read_consoles(const void *arg, FILE *out)
{
	DIR *d = opendir("/sys/class/vtconsole");
	const struct dirent *e;
	bool fbcon = false;

	(void)arg;
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *np = NULL, *bp = NULL, *name = NULL, *bind = NULL;
		char *nm;

		if (!startswith(e->d_name, "vtcon") || !display_what_valid(DSTEP_VTCON, e->d_name))
			continue;
		np = xasprintf("/sys/class/vtconsole/%s/name", e->d_name);
		bp = xasprintf("/sys/class/vtconsole/%s/bind", e->d_name);
		fprintf(out, "? %s\n", np);
		name = read_file(np);
		fprintf(out, "? %s\n", bp);
		bind = read_file(bp);
		if (!name || !bind)
			continue;
		nm = strip(name);
		nm[strcspn(nm, "\n")] = '\0';
		fprintf(out, "%s %c %s\n", e->d_name, bind[0], nm);
		fbcon |= bind[0] == '1' && strstr(nm, "frame buffer");
	}
	if (d)
		closedir(d);
	if (fbcon) {
		_cleanup_free_ char *active = NULL;

		fprintf(out, "? /sys/class/tty/tty0/active\n");
		active = read_file("/sys/class/tty/tty0/active");
		if (active && *strip(active))
			fprintf(out, "tty %s\n", strip(active));
	}
	return 0;
}

struct consoles {
	struct display_use *u;
	char *reading; /* the file announced last */
};

static void take_console_line(void *ctx, char *line)
{
	struct consoles *c = ctx;
	struct display_use *u = c->u;
	char *sp = strchr(line, ' ');

	if (!sp)
		return;
	*sp = '\0';
	if (streq(line, "?")) {
		free(c->reading);
		c->reading = xstrdup(sp + 1);
	} else if (streq(line, "tty")) {
		free(u->tty);
		u->tty = xstrdup(sp + 1);
	} else if (display_what_valid(DSTEP_VTCON, line) && startswith(sp + 1, "1 ") && strstr(sp + 3, "frame buffer")) {
		push_str(&u->vtcons, &u->n_vtcons, line);
	}
}

/* fbcon draws on the framebuffers its consoles map to: a vtconsole bound to it uses F when one is F's. */
static int find_vtcons(struct display_use *u, long deadline_ms)
{
	struct consoles c = { .u = u };
	long left = deadline_ms - now_ms();
	int r;

	if (!u->fb_console && !u->n_fw)
		return 0;
	r = child_stream(read_consoles, NULL, left < 500 ? 500 : left, take_console_line, &c);
	if (r == -ETIMEDOUT) {
		u->stuck = c.reading ? c.reading : xstrdup("/sys/class/vtconsole");
		return r;
	}
	free(c.reading);
	return 0;
}

enum node_match { NODE_NO, NODE_YES, NODE_MAYBE };

static enum node_match node_of(const struct display_use *u, const char *target)
{
	const char *n;

	for (size_t i = 0; i < u->n_nodes; i++)
		if (streq(u->nodes[i], target))
			return NODE_YES;
	if (!u->nvidia || !startswith(target, "/dev/nvidia"))
		return NODE_NO;
	n = target + strlen("/dev/nvidia");
	/* /dev/nvidiaN is one GPU's; nvidiactl, nvidia-modeset, nvidia-uvm* serve every GPU on the driver. */
	if (*n && strspn(n, "0123456789") == strlen(n)) {
		if (u->nv_minor >= 0)
			return atoi(n) == u->nv_minor ? NODE_YES : NODE_NO;
		return u->nv_shared ? NODE_YES : NODE_MAYBE;
	}
	return u->nv_shared ? NODE_YES : NODE_NO;
}

static int vm_of(const struct display_use *u, long pid)
{
	for (size_t i = 0; i < u->n_vms; i++)
		if (u->vms[i].pid == pid)
			return (int)i;
	return -1;
}

/* A process and the device nodes it has open (its other fds never name a GPU). */
struct proc_fds {
	long pid;
	char **targets;
	size_t n;
	bool closed; /* its fds are closed to this user (another user's process, read without root) */
};

static void proc_fds_clear(struct proc_fds *p)
{
	free_strs(p->targets, p->n);
	*p = (struct proc_fds){ 0 };
}

/* A kernel thread (PF_KTHREAD in the flags of /proc/PID/stat, which anyone may read) has no files. */
static bool kernel_thread(const char *root, const char *pid)
{
	_cleanup_free_ char *path = xasprintf("%s/proc/%s/stat", root, pid), *stat = read_file(path);
	const char *p = stat ? strrchr(stat, ')') : NULL;
	unsigned long flags;

	/* ") STATE PPID PGRP SESSION TTY_NR TPGID FLAGS": the comm before may hold anything. */
	return p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x00200000UL);
}

/*
 * The device nodes PID has open. A readlink per fd, relative to the directory (a desktop's
 * processes have thousands of fds); a process whose fds we may not read is left at the first,
 * and said to be closed (but for a kernel thread, which has none).
 */
static void read_fds(const char *root, const char *pid, struct proc_fds *ret)
{
	_cleanup_free_ char *fddir = xasprintf("%s/proc/%s/fd", root, pid);
	DIR *d = opendir(fddir);
	const struct dirent *e;

	*ret = (struct proc_fds){ .pid = atol(pid) };
	ret->closed = !d && (errno == EACCES || errno == EPERM) && !kernel_thread(root, pid);
	while (d && (e = readdir(d))) {
		char target[256];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n < 0 && (errno == EACCES || errno == EPERM)) {
			ret->closed = true;
			break;
		}
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (startswith(target, "/dev/") && !startswith(target, "/dev/pts/") && !streq(target, "/dev/null"))
			*(char **)array_push(&ret->targets, &ret->n, sizeof(char *)) = xstrdup(target);
	}
	if (d)
		closedir(d);
}

/*
 * A QEMU that libvirt's system instance does not run (a qemu:///session VM, one started by
 * hand): its command name, or the program it runs (readable where its fds are).
 */
static bool is_qemu(const char *root, long pid, const char *comm)
{
	_cleanup_free_ char *exe = xasprintf("%s/proc/%ld/exe", root, pid);
	char target[256];
	ssize_t n = readlink(exe, target, sizeof(target) - 1);
	const char *base;

	if (comm && (startswith(comm, "qemu-system") || startswith(comm, "qemu-kvm")))
		return true;
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	return startswith(base, "qemu-system") || startswith(base, "qemu-kvm");
}

const struct display_proc *display_qemu_user(const struct display_use *u)
{
	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i].vm >= 0 || u->procs[i].qemu)
			return &u->procs[i];
	return NULL;
}

char *display_qemu_text(const struct display_use *u, const struct display_proc *q)
{
	if (q->vm >= 0)
		return xasprintf("the running VM %s (its QEMU, pid %ld, uses %s)", u->vms[q->vm].name, q->pid, q->node);
	return xasprintf("a QEMU that is no VM of libvirt's system instance (pid %ld, uses %s: a qemu:///session VM, or "
			 "one started by hand)", q->pid, q->node);
}

/* One process: does it have one of U's nodes open? */
static void match_proc(struct display_use *u, const char *root, const struct proc_fds *f)
{
	struct display_proc p = { .vm = -1 };
	bool found = false;

	for (size_t i = 0; i < f->n; i++) {
		enum node_match m = node_of(u, f->targets[i]);

		if (m == NODE_NO || (found && (m == NODE_MAYBE || !p.unsure)))
			continue;
		/* A node surely the GPU's names the process better than one that may be another's. */
		snprintf(p.node, sizeof(p.node), "%.63s", f->targets[i]);
		p.unsure = m == NODE_MAYBE;
		found = true;
		if (!p.unsure)
			break;
	}
	if (found) {
		_cleanup_free_ char *cpath = xasprintf("%s/proc/%ld/comm", root, f->pid);
		_cleanup_free_ char *comm = read_file(cpath);
		/* Anyone can name a process anything: the line stays one line. */
		_cleanup_free_ char *safe = pct_encode(comm ? strip(comm) : "?", false);

		p.pid = f->pid;
		p.vm = vm_of(u, p.pid);
		p.qemu = p.vm < 0 && is_qemu(root, p.pid, comm ? strip(comm) : NULL);
		snprintf(p.comm, sizeof(p.comm), "%s", safe);
		*(struct display_proc *)array_push(&u->procs, &u->n_procs, sizeof(p)) = p;
	}
}

/*
 * One read of /proc for a whole listing (display_snapshot()): `groups` asks about every GPU,
 * and each scan costs a readlink per open fd of every process.
 */
static struct {
	bool on, taken, incomplete;
	struct proc_fds *procs;
	size_t n;
	size_t n_closed;
} snap;

void display_snapshot(void)
{
	snap.on = true;
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
	u->n_closed = 0;
	u->incomplete = false;
	if ((!u->n_nodes && !u->nvidia) || !root_usable())
		return;
	if (snap.taken) {
		for (size_t i = 0; i < snap.n; i++)
			match_proc(u, root, &snap.procs[i]);
		u->incomplete = snap.incomplete;
		u->n_closed = snap.n_closed;
		return;
	}
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		struct proc_fds f;

		if (strspn(e->d_name, "0123456789") != strlen(e->d_name) || atol(e->d_name) == (long)getpid())
			continue;
		if (now_ms() > deadline_ms) {
			u->incomplete = true;
			break;
		}
		read_fds(root, e->d_name, &f);
		u->n_closed += f.closed;
		match_proc(u, root, &f);
		if (snap.on && f.n)
			*(struct proc_fds *)array_push(&snap.procs, &snap.n, sizeof(f)) = f;
		else
			proc_fds_clear(&f);
	}
	if (d)
		closedir(d);
	if (snap.on) {
		snap.taken = true;
		snap.incomplete = u->incomplete;
		snap.n_closed = u->n_closed;
	}
}

/* The running VMs' QEMU pids, which are never signalled and make the hand-over fail. */
static void set_vms(struct display_use *u, const struct holders *h)
{
	clear_vms(u);
	for (size_t i = 0; h && i < h->n; i++)
		if (h->doms[i].pid > 1) {
			struct display_vm v = { h->doms[i].pid, xstrdup(h->doms[i].name) };

			*(struct display_vm *)array_push(&u->vms, &u->n_vms, sizeof(v)) = v;
		}
}

int display_detect(const struct pci_func *f, const struct holders *h, long deadline_ms, struct display_use *ret)
{
	struct display_use u = { .f = f, .nv_minor = -1 };

	*ret = u;
	if (!f->syspath)
		return 0;
	set_vms(&u, h);
	find_fbs(&u);
	find_nodes(&u);
	find_fw(&u);
	if (find_vtcons(&u, deadline_ms) < 0) {
		*ret = u;
		return -ETIMEDOUT;
	}
	scan_procs(&u, deadline_ms);
	if (!u.n_vtcons && !u.n_fw && !u.n_procs) {
		size_t closed = u.n_closed;

		display_use_clear(&u);
		ret->n_closed = closed;
		return 0;
	}
	*ret = u;
	return 1;
}

void display_rescan(struct display_use *u, long deadline_ms)
{
	struct holders h = { 0 };

	/* A VM may have started during the wait: its QEMU is known as such before any signal. */
	if (holders_load(&h) == 0)
		set_vms(u, &h);
	holders_clear(&h);
	scan_procs(u, deadline_ms);
}

/* The tty the console shows now, for the message: what a user sees as "the console". */
static char *fbcon_tty(const struct display_use *u)
{
	return xstrdup(u->tty ? u->tty : u->vtcons[0]);
}

bool display_iomem_blind(void)
{
	_cleanup_free_ char *path = xasprintf("%s/proc/iomem", display_root());
	bool usable = root_usable();
	_cleanup_free_ char *iomem = usable ? read_file(path) : NULL;
	int err = errno;
	char *line, *save = NULL;
	bool any = false;

	/* Closed to this user altogether (a hardened kernel's 0400): blind as well. */
	if (!iomem && usable && (err == EACCES || err == EPERM))
		return true;
	for (line = iomem ? strtok_r(iomem, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, e;

		if (sscanf(line, " %llx-%llx :", &s, &e) != 2)
			continue;
		if (s || e)
			return false;
		any = true;
	}
	/* The kernel shows the addresses only to CAP_SYS_ADMIN; everyone else reads zeros. */
	return any;
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
	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i].unsure) {
			char a[PCI_ADDR_LEN];

			pci_addr_format(&u->f->addr, a, sizeof(a));
			append(&s, " (%s may be another GPU's: the device minor of %s is unknown, %s/proc/driver/nvidia/gpus/%s/information "
				   "is unreadable)",
			       u->procs[i].node, a, display_root(), a);
			break;
		}
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

/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "guard.h"

#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>
#include <string.h>

/* The last PCI address in a sysfs device path: the function a block device hangs off. */
static bool path_on_func(const char *real, const struct pci_addr *a)
{
	_cleanup_free_ char *copy = xstrdup(real);
	struct pci_addr found, last = { 0 };
	char *tok, *save = NULL;
	bool any = false;

	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (pci_addr_parse(tok, &found) == 0) {
			last = found;
			any = true;
		}
	return any && pci_addr_eq(&last, a);
}

/* Mount point of block device MAJ:MIN, from mountinfo; NULL if not mounted. */
static char *mounted_at(const char *majmin)
{
	_cleanup_free_ char *info = read_file("/proc/self/mountinfo");
	char *line, *save = NULL;

	for (line = info ? strtok_r(info, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char dev[32], mnt[PATH_MAX];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", dev, mnt) == 2 && streq(dev, majmin))
			return xstrdup(mnt);
	}
	return NULL;
}

static bool is_swap(const char *name)
{
	_cleanup_free_ char *swaps = read_file("/proc/swaps");
	_cleanup_free_ char *want = xasprintf("/dev/%s ", name);

	return swaps && strstr(swaps, want);
}

static char *first_holder(const char *sysdir)
{
	_cleanup_free_ char *p = xasprintf("%s/holders", sysdir);
	DIR *d = opendir(p);
	const struct dirent *e;
	char *r = NULL;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			r = xstrdup(e->d_name);
			break;
		}
	if (d)
		closedir(d);
	return r;
}

/* Is block device NAME (or one of its partitions) in use? Says how, or NULL. */
static char *block_in_use(const char *name)
{
	_cleanup_free_ char *dir = xasprintf("/sys/block/%s", name);
	DIR *d = opendir(dir);
	const struct dirent *e;
	char *why = NULL;

	/* The disk itself, then each partition (a subdirectory with a "partition" file). */
	for (int pass = 0; !why && d; pass++) {
		const char *part = NULL;
		_cleanup_free_ char *sub = NULL, *dev = NULL, *mnt = NULL, *holder = NULL;

		if (pass > 0) {
			_cleanup_free_ char *pfile = NULL;

			e = readdir(d);
			if (!e)
				break;
			pfile = xasprintf("%s/%s/partition", dir, e->d_name);
			if (e->d_name[0] == '.' || access(pfile, F_OK) < 0)
				continue;
			part = e->d_name;
		}
		sub = part ? xasprintf("%s/%s", dir, part) : xstrdup(dir);
		{
			_cleanup_free_ char *devfile = xasprintf("%s/dev", sub);
			dev = read_file(devfile);
		}
		if (dev)
			strip(dev);
		if (dev && (mnt = mounted_at(strip(dev))))
			why = xasprintf("/dev/%s is mounted on %s", part ? part : name, mnt);
		else if (is_swap(part ? part : name))
			why = xasprintf("/dev/%s is active swap", part ? part : name);
		else if ((holder = first_holder(sub)))
			why = xasprintf("/dev/%s is part of %s (md, dm or LVM)", part ? part : name, holder);
	}
	if (d)
		closedir(d);
	return why;
}

static char *block_guard(const struct pci_func *f)
{
	DIR *d = opendir("/sys/block");
	const struct dirent *e;
	char *why = NULL;

	while (d && !why && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL, *use = NULL;
		char real[PATH_MAX];

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("/sys/block/%s", e->d_name);
		if (!realpath(link, real) || !path_on_func(real, &f->addr))
			continue;
		use = block_in_use(e->d_name);
		if (use)
			why = xasprintf("%s: the host needs it (unmount or stop using it first, or remove the device from the map)",
					use);
	}
	if (d)
		closedir(d);
	return why;
}

/* The framebuffer console on the boot GPU holds its memory; taking the GPU blanks the host. */
static char *fbcon_guard(const struct pci_func *f)
{
	DIR *d;
	const struct dirent *e;
	char *why = NULL;

	if (f->boot_vga != 1)
		return NULL;
	d = opendir("/sys/class/vtconsole");
	while (d && !why && (e = readdir(d))) {
		_cleanup_free_ char *np = NULL, *bp = NULL, *name = NULL, *bind = NULL;

		if (!startswith(e->d_name, "vtcon"))
			continue;
		np = xasprintf("/sys/class/vtconsole/%s/name", e->d_name);
		bp = xasprintf("/sys/class/vtconsole/%s/bind", e->d_name);
		name = read_file(np);
		bind = read_file(bp);
		if (name && bind && strstr(name, "frame buffer") && bind[0] == '1')
			why = xstrdup("it is the boot GPU and the host's framebuffer console is on it: handing over the only GPU is "
				      "not supported yet (give the host another GPU, or unbind the console first)");
	}
	if (d)
		closedir(d);
	return why;
}

char *guard_check(const struct pci_func *f)
{
	char *why = block_guard(f);

	return why ? why : fbcon_guard(f);
}

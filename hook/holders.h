/* SPDX-License-Identifier: MIT */
#ifndef VH_HOLDERS_H
#define VH_HOLDERS_H

#include "domxml.h"

/* Running domains: one status file each in DIR (libvirt's /run/libvirt/qemu). */
struct holders {
	struct domain *doms;
	size_t n;
	bool closed; /* status files, or their directory, this user may not read (libvirt's are root's) */
};

const char *holders_dir(void);
/* The status file of a running domain NAME, parsed: 0, -ENOENT (not running) or -EINVAL. */
int domain_load_running(const char *name, struct domain *ret);
/*
 * Reads every NAME.xml in holders_dir(); unreadable files are skipped (a domain mid-write),
 * and noted in closed when the reason is that this user may not read them (nor the directory:
 * then there is no running VM to be seen, and 0).
 * -ENOPKG when libxml2 cannot be loaded (logged): then nothing can be known about them.
 */
int holders_load(struct holders *ret);
void holders_clear(struct holders *h);
/* The running domain other than SELF that has a hostdev at A, or NULL. */
const char *holders_find(const struct holders *h, const struct pci_addr *a, const char *self);
const struct domain *holders_get(const struct holders *h, const char *name);
/* The running domain other than SELF with a mediated device (vGPU) whose parent is A, or NULL. */
const char *holders_mdev_parent(const struct holders *h, const struct pci_addr *a, const char *self);
/* The running domain NAME, if it is the one with UUID (either unknown: the name decides). */
const struct domain *holders_running(const struct holders *h, const char *name, const char *uuid);

#endif

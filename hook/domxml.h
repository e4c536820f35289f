/* SPDX-License-Identifier: MIT */
#ifndef VH_DOMXML_H
#define VH_DOMXML_H

#include "pciid.h"

#include <stdbool.h>
#include <stddef.h>

/* A PCI <hostdev> of a domain. */
struct hostdev {
	struct pci_addr addr;
	bool managed;
};

/* A domain as far as vfio-hook cares: its name and PCI hostdevs. */
struct domain {
	char *name;
	struct hostdev *hostdevs;
	size_t n_hostdevs;
};

/* From libvirt's domain XML (<domain>) or status XML (<domstatus><domain>). 0 or -EINVAL. */
int domain_parse(const char *xml, size_t len, struct domain *ret);
void domain_clear(struct domain *d);
bool domain_has(const struct domain *d, const struct pci_addr *a);

/* Running domains: one status file each in DIR (libvirt's /run/libvirt/qemu). */
struct holders {
	struct domain *doms;
	size_t n;
};

const char *holders_dir(void);
/* Reads every NAME.xml in holders_dir(); unreadable files are skipped (a domain mid-write). */
int holders_load(struct holders *ret);
void holders_clear(struct holders *h);
/* The running domain other than SELF that has a hostdev at A, or NULL. */
const char *holders_find(const struct holders *h, const struct pci_addr *a, const char *self);

#endif

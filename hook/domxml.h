/* SPDX-License-Identifier: MIT */
#ifndef VH_DOMXML_H
#define VH_DOMXML_H

#include "cpuset.h"
#include "pciaddr.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A PCI function a domain is given: a <hostdev>, an <interface type='hostdev'>, or (status XML
 * only) an <interface> whose network pool gave it one (<actual type='hostdev'>).
 */
struct hostdev {
	struct pci_addr addr;
	bool managed;
	char *alias; /* live XML only; NULL otherwise */
	char *xml;   /* that element on one line, without its <alias>: what attach takes back */
};

/* A USB <hostdev>: by vendor/product, and bus/device once libvirt has found it. */
struct usbdev {
	unsigned vendor, product, bus, device; /* bus 0: no address given */
	char *xml;
};

/* A domain as far as vfio-hook cares: who it is, its PCI and USB hostdevs, its raw disks. */
struct domain {
	char *name;
	char uuid[37]; /* empty when the XML has no <uuid> */
	int id;        /* the running domain's id (status XML); -1 when absent */
	long pid;      /* its QEMU's pid (status XML: <domstatus pid='N'>); 0 when absent */
	struct hostdev *hostdevs;
	size_t n_hostdevs;
	struct usbdev *usbdevs;
	size_t n_usbdevs;
	char (*mdevs)[37]; /* UUIDs of its mediated devices (vGPUs): they live on a parent's driver */
	size_t n_mdevs;
	char **disks; /* the host block devices it uses, as written (<disk type='block'> sources) */
	size_t n_disks;
	/* What it takes from the host besides its devices (claims.h): */
	struct cpuset pins;            /* what <cputune> pins its vCPUs, emulator and iothreads to */
	bool pinned;                   /* it has a pin */
	unsigned long long memory_kib; /* <memory>, in KiB; 0 when absent */
	bool hugepages;                /* <memoryBacking><hugepages>: its memory is backed by hugepages */
	struct page_want *pages;       /* its <page> elements: which size, for which guest NUMA cells */
	size_t n_pages;
	struct numa_cell *cells;       /* <cpu><numa><cell>: the guest's NUMA cells and their memory */
	size_t n_cells;
	char *numa_nodes;              /* <numatune><memory nodeset>: the host nodes its memory comes from; NULL: any */
	char *resources_bad;           /* what of the above cannot be read (a pin, a page size), or NULL */
};

struct numa_cell {
	unsigned id;
	unsigned long long kib;
};

/* <memoryBacking><hugepages><page size= unit= nodeset=>: pages of this size for those nodes. */
struct page_want {
	unsigned long long size_kib;
	char *nodeset; /* the guest cells whose memory they back; NULL: the rest of its memory */
};

/*
 * From libvirt's domain XML (<domain>) or status XML (<domstatus><domain>). 0 or -EINVAL;
 * -ENOPKG when libxml2 cannot be loaded (logged).
 */
int domain_parse(const char *xml, size_t len, struct domain *ret);
void domain_clear(struct domain *d);
bool domain_has(const struct domain *d, const struct pci_addr *a);
const struct hostdev *domain_hostdev(const struct domain *d, const struct pci_addr *a);

/* The <hostdev> element that passes function A through. */
char *pci_hostdev_xml(const struct pci_addr *a, bool managed);

#endif

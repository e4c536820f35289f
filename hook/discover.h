/* SPDX-License-Identifier: MIT */
#ifndef VH_DISCOVER_H
#define VH_DISCOVER_H

#include "pciaddr.h"

#include <stdbool.h>
#include <stdint.h>

enum header_type { HDR_ENDPOINT = 0, HDR_BRIDGE = 1, HDR_CARDBUS = 2 };

/* One PCI function as the kernel shows it, with its names from the udev hwdb. */
struct pci_func {
	struct pci_addr addr;
	char *syspath;
	uint16_t vendor, device, sub_vendor, sub_device;
	uint32_t class; /* class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	enum header_type header;
	char *driver;          /* NULL: no driver bound */
	char *driver_override; /* NULL: none */
	int iommu_group;       /* -1: none */
	int boot_vga;          /* -1: no such attribute */
	bool stuck;            /* a driver operation holds it in the kernel: driver_override unknown, leave it alone */
	char *vendor_name, *device_name, *class_name, *subclass_name; /* NULL: not in hwdb */
};

struct machine {
	struct pci_func *funcs; /* sorted by address */
	size_t n_funcs;
	size_t n_groups;        /* entries in /sys/kernel/iommu_groups; 0: IOMMU off */
	char *cpu_vendor;       /* "GenuineIntel", "AuthenticAMD", … or NULL */
	bool hypervisor;        /* the CPU's "hypervisor" flag: this system is a virtual machine */
};

int machine_discover(struct machine **ret);
/* How long a read of a lock-taking attribute may take before its function counts as stuck. */
void machine_set_read_deadline(long ms);
void machine_free(struct machine *m);
const struct pci_func *machine_find(const struct machine *m, const struct pci_addr *a);
bool pci_func_is_bridge(const struct pci_func *f);

/* The line `lspci -nns ADDR` prints for f, without the trailing newline. */
void pci_func_lspci(const struct pci_func *f, char *buf, size_t n);
/* Short human name: "TU104 HD Audio Controller" style, for messages. */
const char *pci_func_name(const struct pci_func *f);

/* KEY of MODALIAS in the udev hwdb (e.g. ID_MODEL_FROM_DATABASE), NULL if none; caller frees. */
struct udev_hwdb;
char *hwdb_get(struct udev_hwdb *hwdb, const char *modalias, const char *key);

/* The message for a machine without IOMMU groups, with the fix for this CPU. */
const char *machine_iommu_off_hint(const struct machine *m);

#endif

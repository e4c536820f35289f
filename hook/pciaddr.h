/* SPDX-License-Identifier: MIT */
#ifndef VH_PCIADDR_H
#define VH_PCIADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct pci_addr {
	unsigned domain, bus, slot, func;
};

#define PCI_ADDR_LEN sizeof("00000000:00:00.0")

/* A device map selector: vendor:device (every function with those ids) or one address. */
struct pci_sel {
	bool is_addr;
	uint16_t vendor, device;
	struct pci_addr addr;
};

/* USB selector: vvvv[:pppp]. */
struct usb_sel {
	uint16_t vendor, product;
	bool any_product;
};

/* "DDDD:BB:SS.F" or "BB:SS.F" (domain 0). 0 or -EINVAL. */
int pci_addr_parse(const char *s, struct pci_addr *ret);
/* Canonical "0000:09:00.0". */
void pci_addr_format(const struct pci_addr *a, char *buf, size_t n);
int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b);
bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b);

/* "vvvv:dddd" or an address. 0 or -EINVAL. */
int pci_sel_parse(const char *s, struct pci_sel *ret);
/* "10de:1e84" or "0000:09:00.0". */
void pci_sel_format(const struct pci_sel *s, char *buf, size_t n);
bool pci_sel_eq(const struct pci_sel *a, const struct pci_sel *b);

int usb_sel_parse(const char *s, struct usb_sel *ret);
void usb_sel_format(const struct usb_sel *s, char *buf, size_t n);
bool usb_sel_eq(const struct usb_sel *a, const struct usb_sel *b);

#endif

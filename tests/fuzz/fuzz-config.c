/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the device map (config_load). The input goes into a memfd owned by us with
 * mode 0644 and is loaded through /proc/self/fd/N, so the real open, fstat and permission check
 * run on every input and the parser needs no entry point that skips them.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int map_fd = -1;
static char map_path[64];

static void map_open(void)
{
	map_fd = memfd_create("vfio-hook.ini", MFD_CLOEXEC);
	/* A memfd starts 0777; the map check would refuse it before the parser saw a byte. */
	if (map_fd < 0 || fchmod(map_fd, 0644) < 0) {
		perror("fuzz-config: memfd");
		abort();
	}
	snprintf(map_path, sizeof(map_path), "/proc/self/fd/%d", map_fd);
}

/* "vfio-hook config" prints selectors in canonical form; that form must read back the same. */
static void check_pci_sel(const struct pci_sel *sel)
{
	char buf[PCI_ADDR_LEN];
	struct pci_sel again;

	pci_sel_format(sel, buf, sizeof(buf));
	if (pci_sel_parse(buf, &again) < 0 || !pci_sel_eq(sel, &again)) {
		fprintf(stderr, "fuzz-config: PCI selector \"%s\" does not read back\n", buf);
		abort();
	}
}

static void check_usb_sel(const struct usb_sel *sel)
{
	char buf[16];
	struct usb_sel again;

	usb_sel_format(sel, buf, sizeof(buf));
	if (usb_sel_parse(buf, &again) < 0 || !usb_sel_eq(sel, &again)) {
		fprintf(stderr, "fuzz-config: USB selector \"%s\" does not read back\n", buf);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;

	if (map_fd < 0)
		map_open();
	if (ftruncate(map_fd, 0) < 0 || pwrite(map_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz-config: writing the map");
		abort();
	}
	if (config_load(map_path, &c) < 0)
		return 0;
	/* What the callers do with a loaded map: look every name up and flatten what each VM gets. */
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm *v = &c->vms[i];

		if (config_find_vm(c, v->name) != v)
			abort();
		(void)evict_policy_name(vm_evict(c, v));
		(void)vm_giveback(c, v);
		for (size_t k = 0; k < v->n_pci; k++) {
			if (v->pci[k].set && config_find_pci_set(c, v->pci[k].set->name) != v->pci[k].set)
				abort();
			check_pci_sel(&v->pci[k].entry->sel);
		}
		for (size_t k = 0; k < v->n_usb; k++)
			check_usb_sel(&v->usb[k].entry->sel);
	}
	config_free(c);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: libvirt's domain XML and status XML (domain_parse), as the hook reads them
 * from stdin and from /run/libvirt/qemu. Beyond not crashing: every PCI hostdev found can be
 * looked up by its address, and the <hostdev> we would attach for it reads back as that address.
 */
#define _GNU_SOURCE
#include "domxml.h"

#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_attach_xml(const struct pci_addr *a, bool managed)
{
	_cleanup_free_ char *hd = pci_hostdev_xml(a, managed), *xml = NULL;
	struct domain d;

	xml = xasprintf("<domain><name>x</name><devices>%s</devices></domain>", hd);
	if (domain_parse(xml, strlen(xml), &d) < 0 || d.n_hostdevs != 1 || !pci_addr_eq(&d.hostdevs[0].addr, a) ||
	    d.hostdevs[0].managed != managed) {
		fprintf(stderr, "fuzz-domxml: %s does not read back\n", hd);
		abort();
	}
	domain_clear(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain d;

	if (domain_parse((const char *)data, size, &d) < 0)
		return 0;
	if (!d.name || !*d.name)
		abort();
	for (size_t i = 0; i < d.n_hostdevs; i++) {
		const struct hostdev *h = domain_hostdev(&d, &d.hostdevs[i].addr);

		/* The first with that address: a domain may list one twice, libvirt would refuse it. */
		if (!h || !pci_addr_eq(&h->addr, &d.hostdevs[i].addr) || !d.hostdevs[i].xml)
			abort();
		check_attach_xml(&d.hostdevs[i].addr, d.hostdevs[i].managed);
	}
	for (size_t i = 0; i < d.n_usbdevs; i++)
		if (!d.usbdevs[i].xml)
			abort();
	domain_clear(&d);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* PCI addresses ("0000:09:00.0") and the selectors of the map (vendor:device ids, addresses) as text. */
#include "pciaddr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Exactly min..max hex digits from *s; advances *s. */
static int hex_field(const char **s, size_t min, size_t max, unsigned *ret)
{
	unsigned v = 0;
	size_t n = 0;

	while (n < max && isxdigit((unsigned char)(*s)[n])) {
		char c = (char)tolower((unsigned char)(*s)[n]);
		v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
		n++;
	}
	if (n < min || isxdigit((unsigned char)(*s)[n]))
		return -EINVAL;
	*s += n;
	*ret = v;
	return 0;
}

static int expect(const char **s, char c)
{
	if (**s != c)
		return -EINVAL;
	(*s)++;
	return 0;
}

int pci_addr_parse(const char *s, struct pci_addr *ret)
{
	struct pci_addr a = { 0 };
	const char *p = s;
	unsigned first;

	if (hex_field(&p, 2, 8, &first) < 0 || expect(&p, ':') < 0)
		return -EINVAL;
	if (strchr(p, ':')) {
		/* The kernel names domains with at least 4 digits. */
		if (p - s - 1 < 4)
			return -EINVAL;
		a.domain = first;
		if (hex_field(&p, 2, 2, &a.bus) < 0 || expect(&p, ':') < 0)
			return -EINVAL;
	} else {
		if (p - s - 1 != 2)
			return -EINVAL;
		a.bus = first;
	}
	if (hex_field(&p, 2, 2, &a.slot) < 0 || a.slot > 0x1f || expect(&p, '.') < 0)
		return -EINVAL;
	if (!(*p >= '0' && *p <= '7') || p[1] != '\0')
		return -EINVAL;
	a.func = (unsigned)(*p - '0');
	*ret = a;
	return 0;
}

void pci_addr_format(const struct pci_addr *a, char *buf, size_t n)
{
	snprintf(buf, n, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->func);
}

int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b)
{
	const unsigned x[] = { a->domain, a->bus, a->slot, a->func };
	const unsigned y[] = { b->domain, b->bus, b->slot, b->func };

	for (size_t i = 0; i < 4; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b)
{
	return pci_addr_cmp(a, b) == 0;
}

static int id_pair_parse(const char *s, uint16_t *ret_a, uint16_t *ret_b, bool b_optional)
{
	const char *p = s;
	unsigned a, b = 0;

	if (hex_field(&p, 4, 4, &a) < 0)
		return -EINVAL;
	if (*p == '\0' && b_optional) {
		*ret_a = (uint16_t)a;
		*ret_b = 0;
		return 1;
	}
	if (expect(&p, ':') < 0 || hex_field(&p, 4, 4, &b) < 0 || *p != '\0')
		return -EINVAL;
	*ret_a = (uint16_t)a;
	*ret_b = (uint16_t)b;
	return 0;
}

int pci_sel_parse(const char *s, struct pci_sel *ret)
{
	struct pci_sel sel = { 0 };

	if (strchr(s, '.')) {
		if (pci_addr_parse(s, &sel.addr) < 0)
			return -EINVAL;
		sel.is_addr = true;
	} else if (id_pair_parse(s, &sel.vendor, &sel.device, false) < 0) {
		return -EINVAL;
	}
	*ret = sel;
	return 0;
}

void pci_sel_format(const struct pci_sel *s, char *buf, size_t n)
{
	if (s->is_addr)
		pci_addr_format(&s->addr, buf, n);
	else
		snprintf(buf, n, "%04x:%04x", s->vendor, s->device);
}

bool pci_sel_eq(const struct pci_sel *a, const struct pci_sel *b)
{
	if (a->is_addr != b->is_addr)
		return false;
	if (a->is_addr)
		return pci_addr_eq(&a->addr, &b->addr);
	return a->vendor == b->vendor && a->device == b->device;
}

int usb_sel_parse(const char *s, struct usb_sel *ret)
{
	struct usb_sel sel = { 0 };
	int r = id_pair_parse(s, &sel.vendor, &sel.product, true);

	if (r < 0)
		return r;
	sel.any_product = r == 1;
	*ret = sel;
	return 0;
}

void usb_sel_format(const struct usb_sel *s, char *buf, size_t n)
{
	if (s->any_product)
		snprintf(buf, n, "%04x", s->vendor);
	else
		snprintf(buf, n, "%04x:%04x", s->vendor, s->product);
}

bool usb_sel_eq(const struct usb_sel *a, const struct usb_sel *b)
{
	return a->vendor == b->vendor && a->any_product == b->any_product &&
	       (a->any_product || a->product == b->product);
}

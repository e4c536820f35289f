/* SPDX-License-Identifier: MIT */
/*
 * Domains from libvirt's XML. Who holds a device is read from the status files libvirt keeps
 * for running domains, not asked of libvirt: the hook runs while libvirt holds the starting
 * domain's lock, and asking about all domains from there deadlocks.
 */
#define _GNU_SOURCE
#include "domxml.h"

#include "dl.h"
#include "util.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int hex_attr(xmlNode *n, const char *name, unsigned *ret)
{
	xmlChar *v = sym_xmlGetProp(n, (const xmlChar *)name);
	char *end;
	unsigned long r;

	if (!v)
		return -EINVAL;
	errno = 0;
	r = strtoul((const char *)v, &end, 0);
	if (errno || *end || end == (char *)v) {
		dl_xml_free(v);
		return -EINVAL;
	}
	dl_xml_free(v);
	*ret = (unsigned)r;
	return 0;
}

/* The element as one line, without <alias> (libvirt assigns its own on attach). */
static char *element_line(xmlDoc *doc, xmlNode *n)
{
	xmlNode *copy = sym_xmlCopyNode(n, 1);
	xmlBuffer *buf = sym_xmlBufferCreate();
	char *s, *w;

	for (xmlNode *c = copy ? copy->children : NULL, *next; c; c = next) {
		next = c->next;
		if (c->type == XML_ELEMENT_NODE && streq((const char *)c->name, "alias")) {
			sym_xmlUnlinkNode(c);
			sym_xmlFreeNode(c);
		}
	}
	if (copy && buf)
		sym_xmlNodeDump(buf, doc, copy, 0, 0);
	s = xstrdup(buf ? (const char *)sym_xmlBufferContent(buf) : "");
	sym_xmlBufferFree(buf);
	sym_xmlFreeNode(copy);
	/* Whitespace between elements means nothing to libvirt; the record keeps one line each. */
	for (w = s; *w; w++)
		if (*w == '\n' || *w == '\r' || *w == '\t')
			*w = ' ';
	return s;
}

static char *child_prop(xmlNode *n, const char *child, const char *prop)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && streq((const char *)c->name, child))
			return (char *)sym_xmlGetProp(c, (const xmlChar *)prop);
	return NULL;
}

static xmlNode *child_elem(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && streq((const char *)c->name, name))
			return c;
	return NULL;
}

static bool prop_is(xmlNode *n, const char *name, const char *want)
{
	xmlChar *v = n ? sym_xmlGetProp(n, (const xmlChar *)name) : NULL;
	bool r = v && streq((const char *)v, want);

	dl_xml_free(v);
	return r;
}

/*
 * SRC (a <hostdev>, an <interface type='hostdev'> or an <actual type='hostdev'>) names the host
 * function in <source><address>; ELEM is the device element the domain has it as.
 */
static void parse_pci_source(xmlDoc *doc, xmlNode *elem, xmlNode *src, struct domain *d)
{
	xmlNode *n = child_elem(child_elem(src, "source"), "address");
	char *alias;
	struct hostdev h = { 0 };

	if (!n || hex_attr(n, "domain", &h.addr.domain) < 0 || hex_attr(n, "bus", &h.addr.bus) < 0 ||
	    hex_attr(n, "slot", &h.addr.slot) < 0 || hex_attr(n, "function", &h.addr.func) < 0)
		return;
	h.managed = prop_is(src, "managed", "yes");
	alias = child_prop(elem, "alias", "name");
	h.alias = alias ? xstrdup(alias) : NULL;
	dl_xml_free(alias);
	h.xml = element_line(doc, elem);
	*(struct hostdev *)array_push(&d->hostdevs, &d->n_hostdevs, sizeof(h)) = h;
}

/* An SR-IOV NIC function given as an interface, directly or by a hostdev network pool. */
static void parse_interface(xmlDoc *doc, xmlNode *ifc, struct domain *d)
{
	xmlNode *actual = child_elem(ifc, "actual");

	if (prop_is(ifc, "type", "hostdev"))
		parse_pci_source(doc, ifc, ifc, d);
	else if (prop_is(actual, "type", "hostdev"))
		parse_pci_source(doc, ifc, actual, d);
}

/* <uuid>, and the id and QEMU pid libvirt gives a running domain (status XML: <domstatus pid='N'><domain id='N'>). */
static void parse_identity(xmlXPathContext *ctx, struct domain *d)
{
	xmlXPathObject *o = sym_xmlXPathEvalExpression((const xmlChar *)"string((/domain|/domstatus/domain)/uuid)", ctx);
	const char *s = o && o->stringval ? (const char *)o->stringval : "";
	char *end;
	long id;

	if (strlen(s) < sizeof(d->uuid))
		snprintf(d->uuid, sizeof(d->uuid), "%s", s);
	sym_xmlXPathFreeObject(o);
	o = sym_xmlXPathEvalExpression((const xmlChar *)"string(/domstatus/domain/@id)", ctx);
	s = o && o->stringval ? (const char *)o->stringval : "";
	errno = 0;
	id = strtol(s, &end, 10);
	d->id = *s && !*end && !errno && id >= 0 && id <= INT_MAX ? (int)id : -1;
	sym_xmlXPathFreeObject(o);
	o = sym_xmlXPathEvalExpression((const xmlChar *)"string(/domstatus/@pid)", ctx);
	s = o && o->stringval ? (const char *)o->stringval : "";
	errno = 0;
	id = strtol(s, &end, 10);
	d->pid = *s && !*end && !errno && id > 1 ? id : 0;
	sym_xmlXPathFreeObject(o);
}

static void parse_usb_hostdev(xmlDoc *doc, xmlNode *hd, struct domain *d)
{
	xmlNode *src = child_elem(hd, "source"), *n;
	struct usbdev u = { 0 };

	if (!(n = child_elem(src, "vendor")) || hex_attr(n, "id", &u.vendor) < 0 || !(n = child_elem(src, "product")) ||
	    hex_attr(n, "id", &u.product) < 0)
		return;
	n = child_elem(src, "address");
	if (n && (hex_attr(n, "bus", &u.bus) < 0 || hex_attr(n, "device", &u.device) < 0))
		u.bus = u.device = 0;
	u.xml = element_line(doc, hd);
	*(struct usbdev *)array_push(&d->usbdevs, &d->n_usbdevs, sizeof(u)) = u;
}

static void parse_mdev(xmlNode *hd, struct domain *d)
{
	char *uuid = child_prop(child_elem(hd, "source"), "address", "uuid");

	if (uuid && strlen(uuid) == 36)
		snprintf(*(char(*)[37])array_push(&d->mdevs, &d->n_mdevs, 37), 37, "%s", uuid);
	dl_xml_free(uuid);
}

/*
 * Host block devices given as disks, and block devices in their backing chains (status XML):
 * the disk guard must not take the function they are on from under the running domain.
 */
static void parse_disks(xmlXPathContext *ctx, struct domain *d)
{
	xmlXPathObject *o = sym_xmlXPathEvalExpression(
		(const xmlChar *)"(/domain|/domstatus/domain)/devices/disk[@type='block']/source/@dev | "
				 "(/domain|/domstatus/domain)/devices/disk//backingStore[@type='block']/source/@dev",
		ctx);

	for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
		xmlChar *v = sym_xmlNodeGetContent(o->nodesetval->nodeTab[i]);

		if (v && *v)
			*(char **)array_push(&d->disks, &d->n_disks, sizeof(char *)) = xstrdup((const char *)v);
		dl_xml_free(v);
	}
	sym_xmlXPathFreeObject(o);
}

/* The string value of an XPath expression, or NULL (caller frees). */
static char *xpath_string(xmlXPathContext *ctx, const char *expr)
{
	xmlXPathObject *o = sym_xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	char *v = o && o->stringval && *o->stringval ? xstrdup((const char *)o->stringval) : NULL;

	sym_xmlXPathFreeObject(o);
	return v;
}

/*
 * VALUE in UNIT as libvirt scales it (virScaleInteger): b, k/KiB (the default here), KB (1000),
 * M/MiB, MB, G/GiB, GB, T/TiB, TB, in any case; in KiB, 0 when it cannot be read.
 */
static unsigned long long to_kib(const char *value, const char *unit)
{
	static const char prefixes[] = "bkmgtpe";
	const char *u = unit && *unit ? unit : "KiB";
	const char *at = strchr(prefixes, tolower((unsigned char)u[0]));
	unsigned long long v, base, mul = 1;
	char *end;

	if (!value || !at || !*at)
		return 0;
	if (u[0] == 'b' || u[0] == 'B')
		base = u[1] == '\0' || strcasecmp(u, "bytes") == 0 ? 1 : 0;
	else
		base = u[1] == '\0' || strcasecmp(u + 1, "iB") == 0 ? 1024 : strcasecmp(u + 1, "B") == 0 ? 1000 : 0;
	if (!base)
		return 0;
	for (long i = 0; i < at - prefixes; i++) {
		if (mul > ~0ULL / base)
			return 0;
		mul *= base;
	}
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || *end || end == value || value[0] == '-' || (mul && v > ~0ULL / mul))
		return 0;
	return v * mul / 1024;
}

/* The attribute NAME of node N, or NULL (caller frees). */
static char *prop(xmlNode *n, const char *name)
{
	xmlChar *v = sym_xmlGetProp(n, (const xmlChar *)name);
	char *r = v ? xstrdup((const char *)v) : NULL;

	dl_xml_free(v);
	return r;
}

/* Each node EXPR selects, to FN. */
static void each(xmlXPathContext *ctx, const char *expr, void (*fn)(xmlNode *n, struct domain *d), struct domain *d)
{
	xmlXPathObject *o = sym_xmlXPathEvalExpression((const xmlChar *)expr, ctx);

	for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++)
		fn(o->nodesetval->nodeTab[i], d);
	sym_xmlXPathFreeObject(o);
}

static void resource_bad(struct domain *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void resource_bad(struct domain *d, const char *fmt, ...)
{
	va_list ap;

	if (d->resources_bad)
		return;
	va_start(ap, fmt);
	if (vasprintf(&d->resources_bad, fmt, ap) < 0)
		abort();
	va_end(ap);
}

static void parse_pin(xmlNode *n, struct domain *d)
{
	_cleanup_free_ char *v = prop(n, "cpuset");
	struct cpuset one;

	d->pinned = true;
	if (v && cpuset_parse(v, &one) == 0 && !cpuset_empty(&one))
		cpuset_or(&d->pins, &one);
	else
		resource_bad(d, "<%s cpuset='%s'> is not a set of CPUs", (const char *)n->name, v ? v : "");
}

static void parse_page(xmlNode *n, struct domain *d)
{
	_cleanup_free_ char *size = prop(n, "size"), *unit = prop(n, "unit"), *nodes = prop(n, "nodeset");
	struct page_want w = { to_kib(size, unit), nodes && *nodes ? xstrdup(nodes) : NULL };

	if (!w.size_kib || (w.nodeset && cpuset_parse(w.nodeset, &(struct cpuset){ 0 }) < 0)) {
		resource_bad(d, "<page size='%s'> is not a page size vfio-hook can read", size ? size : "");
		free(w.nodeset);
		return;
	}
	*(struct page_want *)array_push(&d->pages, &d->n_pages, sizeof(w)) = w;
}

static void parse_cell(xmlNode *n, struct domain *d)
{
	_cleanup_free_ char *id = prop(n, "id"), *mem = prop(n, "memory"), *unit = prop(n, "unit");
	struct numa_cell c = { 0, to_kib(mem, unit) };
	char *end = NULL;
	unsigned long v = id ? strtoul(id, &end, 10) : 0;

	if (!id || *end || end == id || v >= CPUSET_MAX || !c.kib) {
		resource_bad(d, "<cell id='%s'> has no id or memory vfio-hook can read", id ? id : "");
		return;
	}
	c.id = (unsigned)v;
	*(struct numa_cell *)array_push(&d->cells, &d->n_cells, sizeof(c)) = c;
}

/*
 * What the domain takes from the host besides its devices: the CPUs its <cputune> pins, its
 * memory and guest NUMA cells, the hugepages that back it, the host nodes its memory comes
 * from. What cannot be read is said in d->resources_bad (a claim of it refuses; nothing else does).
 */
static void parse_resources(xmlXPathContext *ctx, struct domain *d)
{
	_cleanup_free_ char *mem = xpath_string(ctx, "string((/domain|/domstatus/domain)/memory)");
	_cleanup_free_ char *unit = xpath_string(ctx, "string((/domain|/domstatus/domain)/memory/@unit)");
	xmlXPathObject *o;

	each(ctx, "(/domain|/domstatus/domain)/cputune/*[self::vcpupin or self::emulatorpin or self::iothreadpin]", parse_pin,
	     d);
	d->memory_kib = to_kib(mem, unit);
	o = sym_xmlXPathEvalExpression((const xmlChar *)"(/domain|/domstatus/domain)/memoryBacking/hugepages", ctx);
	d->hugepages = o && o->nodesetval && o->nodesetval->nodeNr > 0;
	sym_xmlXPathFreeObject(o);
	each(ctx, "(/domain|/domstatus/domain)/memoryBacking/hugepages/page", parse_page, d);
	each(ctx, "(/domain|/domstatus/domain)/cpu/numa/cell", parse_cell, d);
	d->numa_nodes = xpath_string(ctx, "string((/domain|/domstatus/domain)/numatune/memory/@nodeset)");
	if (d->hugepages && !d->memory_kib)
		resource_bad(d, "its <memory> cannot be read");
}

int domain_parse(const char *xml, size_t len, struct domain *ret)
{
	xmlDoc *doc;
	xmlXPathContext *ctx = NULL;
	xmlXPathObject *o = NULL;
	struct domain d = { .id = -1 };
	int r = dlopen_libxml2();

	if (r < 0)
		return r;
	r = -EINVAL;
	doc = sym_xmlReadMemory(xml, (int)len, "domain.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EINVAL;
	ctx = sym_xmlXPathNewContext(doc);
	if (!ctx)
		goto out;
	o = sym_xmlXPathEvalExpression((const xmlChar *)"string((/domain|/domstatus/domain)/name)", ctx);
	if (!o || !o->stringval || !*o->stringval)
		goto out;
	d.name = xstrdup((const char *)o->stringval);
	sym_xmlXPathFreeObject(o);
	parse_identity(ctx, &d);
	parse_disks(ctx, &d);
	parse_resources(ctx, &d);
	/* Document order, so a domain's functions come in the order libvirt lists them. */
	o = sym_xmlXPathEvalExpression((const xmlChar *)"(/domain|/domstatus/domain)/devices/*[self::hostdev[@mode='subsystem'] or self::interface]",
				   ctx);
	for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
		xmlNode *n = o->nodesetval->nodeTab[i];

		if (streq((const char *)n->name, "interface"))
			parse_interface(doc, n, &d);
		else if (prop_is(n, "type", "pci"))
			parse_pci_source(doc, n, n, &d);
		else if (prop_is(n, "type", "usb"))
			parse_usb_hostdev(doc, n, &d);
		else if (prop_is(n, "type", "mdev"))
			parse_mdev(n, &d);
	}
	*ret = d;
	d = (struct domain){ 0 };
	r = 0;
out:
	sym_xmlXPathFreeObject(o);
	sym_xmlXPathFreeContext(ctx);
	sym_xmlFreeDoc(doc);
	domain_clear(&d);
	return r;
}

void domain_clear(struct domain *d)
{
	for (size_t i = 0; i < d->n_hostdevs; i++) {
		free(d->hostdevs[i].alias);
		free(d->hostdevs[i].xml);
	}
	for (size_t i = 0; i < d->n_usbdevs; i++)
		free(d->usbdevs[i].xml);
	for (size_t i = 0; i < d->n_disks; i++)
		free(d->disks[i]);
	free(d->disks);
	for (size_t i = 0; i < d->n_pages; i++)
		free(d->pages[i].nodeset);
	free(d->pages);
	free(d->numa_nodes);
	free(d->cells);
	free(d->resources_bad);
	free(d->name);
	free(d->usbdevs);
	free(d->hostdevs);
	free(d->mdevs);
	*d = (struct domain){ .id = -1 };
}

const struct hostdev *domain_hostdev(const struct domain *d, const struct pci_addr *a)
{
	for (size_t i = 0; i < d->n_hostdevs; i++)
		if (pci_addr_eq(&d->hostdevs[i].addr, a))
			return &d->hostdevs[i];
	return NULL;
}

bool domain_has(const struct domain *d, const struct pci_addr *a)
{
	return domain_hostdev(d, a) != NULL;
}

char *pci_hostdev_xml(const struct pci_addr *a, bool managed)
{
	return xasprintf("<hostdev mode='subsystem' type='pci' managed='%s'><source><address domain='0x%04x' bus='0x%02x' "
			 "slot='0x%02x' function='0x%x'/></source></hostdev>",
			 managed ? "yes" : "no", a->domain, a->bus, a->slot, a->func);
}

/* SPDX-License-Identifier: MIT */
/*
 * Domains from libvirt's XML. Who holds a device is read from the status files libvirt keeps
 * for running domains, not asked of libvirt: the hook runs while libvirt holds the starting
 * domain's lock, and asking about all domains from there deadlocks.
 */
#define _GNU_SOURCE
#include "domxml.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <string.h>

static int hex_attr(xmlNode *n, const char *name, unsigned *ret)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *end;
	unsigned long r;

	if (!v)
		return -EINVAL;
	errno = 0;
	r = strtoul((const char *)v, &end, 0);
	if (errno || *end || end == (char *)v) {
		xmlFree(v);
		return -EINVAL;
	}
	xmlFree(v);
	*ret = (unsigned)r;
	return 0;
}

int domain_parse(const char *xml, size_t len, struct domain *ret)
{
	xmlDoc *doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlXPathContext *ctx = NULL;
	xmlXPathObject *o = NULL;
	struct domain d = { 0 };
	int r = -EINVAL;

	if (!doc)
		return -EINVAL;
	ctx = xmlXPathNewContext(doc);
	if (!ctx)
		goto out;
	o = xmlXPathEvalExpression((const xmlChar *)"string((/domain|/domstatus/domain)/name)", ctx);
	if (!o || !o->stringval || !*o->stringval)
		goto out;
	d.name = xstrdup((const char *)o->stringval);
	xmlXPathFreeObject(o);
	o = xmlXPathEvalExpression(
		(const xmlChar *)"(/domain|/domstatus/domain)/devices/hostdev[@type='pci']/source/address", ctx);
	for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
		xmlNode *n = o->nodesetval->nodeTab[i];
		xmlChar *managed = xmlGetProp(n->parent->parent, (const xmlChar *)"managed");
		struct hostdev h = { 0 };

		if (hex_attr(n, "domain", &h.addr.domain) < 0 || hex_attr(n, "bus", &h.addr.bus) < 0 ||
		    hex_attr(n, "slot", &h.addr.slot) < 0 || hex_attr(n, "function", &h.addr.func) < 0) {
			xmlFree(managed);
			continue;
		}
		h.managed = managed && streq((const char *)managed, "yes");
		xmlFree(managed);
		*(struct hostdev *)array_push(&d.hostdevs, &d.n_hostdevs, sizeof(h)) = h;
	}
	*ret = d;
	d = (struct domain){ 0 };
	r = 0;
out:
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	domain_clear(&d);
	return r;
}

void domain_clear(struct domain *d)
{
	free(d->name);
	free(d->hostdevs);
	*d = (struct domain){ 0 };
}

bool domain_has(const struct domain *d, const struct pci_addr *a)
{
	for (size_t i = 0; i < d->n_hostdevs; i++)
		if (pci_addr_eq(&d->hostdevs[i].addr, a))
			return true;
	return false;
}

const char *holders_dir(void)
{
	const char *env = getenv("VFIO_HOOK_LIBVIRT_RUN_DIR");

	return env && *env ? env : "/run/libvirt/qemu";
}

int holders_load(struct holders *ret)
{
	DIR *dir = opendir(holders_dir());
	const struct dirent *de;
	struct holders h = { 0 };

	if (!dir) {
		*ret = h;
		return errno == ENOENT ? 0 : -errno;
	}
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		_cleanup_free_ char *path = NULL, *xml = NULL;
		struct domain d;

		/* NAME.xml only: libvirt writes NAME.xml.new and renames it. */
		if (n < 5 || strcmp(de->d_name + n - 4, ".xml") != 0 || de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", holders_dir(), de->d_name);
		xml = read_file(path);
		if (!xml || domain_parse(xml, strlen(xml), &d) < 0)
			continue;
		*(struct domain *)array_push(&h.doms, &h.n, sizeof(d)) = d;
	}
	closedir(dir);
	*ret = h;
	return 0;
}

void holders_clear(struct holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		domain_clear(&h->doms[i]);
	free(h->doms);
	*h = (struct holders){ 0 };
}

const char *holders_find(const struct holders *h, const struct pci_addr *a, const char *self)
{
	for (size_t i = 0; i < h->n; i++)
		if (!streq(h->doms[i].name, self) && domain_has(&h->doms[i], a))
			return h->doms[i].name;
	return NULL;
}

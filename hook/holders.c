/* SPDX-License-Identifier: MIT */
/*
 * The running VMs, and which PCI functions each holds, from the status files libvirt keeps in
 * /run/libvirt/qemu (holders.h): never asked of libvirt, which holds the starting domain's lock
 * while the hook runs (asking about all domains from there deadlocks).
 */
#define _GNU_SOURCE
#include "holders.h"

#include "log.h"

#include "dl.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int domain_load_running(const char *name, struct domain *ret)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.xml", holders_dir(), name), *xml = NULL;

	*ret = (struct domain){ 0 };
	if (strchr(name, '/'))
		return -ENOENT;
	xml = read_file(path);
	if (!xml)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	return domain_parse(xml, strlen(xml), ret);
}

const char *holders_dir(void)
{
	const char *env = getenv("VFIO_HOOK_LIBVIRT_RUN_DIR");

	return env && *env ? env : "/run/libvirt/qemu";
}

/* NAME.xml only: libvirt writes NAME.xml.new and renames it. */
static bool status_file(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 4, ".xml") == 0 && name[0] != '.';
}

int holders_load(struct holders *ret)
{
	DIR *dir;
	const struct dirent *de;
	struct holders h = { 0 };
	int r;

	*ret = h;
	/* Without libxml2 no status file can be read: failing, unless there is none (no VM runs). */
	r = dlopen_libxml2();
	dir = opendir(holders_dir());
	if (!dir && (errno == EACCES || errno == EPERM) && geteuid() != 0) {
		ret->closed = true;
		return 0;
	}
	if (!dir)
		return r < 0 && errno != ENOENT ? r : errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		_cleanup_free_ char *path = NULL, *xml = NULL;
		struct domain d;

		if (!status_file(de->d_name))
			continue;
		if (r < 0)
			break;
		path = xasprintf("%s/%s", holders_dir(), de->d_name);
		xml = read_file(path);
		if (!xml && (errno == EACCES || errno == EPERM))
			h.closed = true;
		/* Gone since the listing: that VM stopped. */
		if (!xml && (errno == ENOENT || h.closed))
			continue;
		/*
		 * A status file that is there but cannot be read or parsed is a VM that may run with
		 * devices nobody can see: which VMs run is unknown, never "not that one".
		 */
		if (!xml || domain_parse(xml, strlen(xml), &d) < 0) {
			_cleanup_free_ char *vm = xasprintf("%.*s", (int)(strlen(de->d_name) - 4), de->d_name);
			_cleanup_free_ char *q = shell_quote_inner(vm);

			if (!xml)
				log_error("cannot read libvirt's status file %s: %m; which VMs run is unknown (if 'virsh domstate %s' says shut off, remove the file; else restart libvirtd, which writes it again)",
					  path, q);
			else
				log_error("libvirt's status file %s cannot be parsed: which VMs run is unknown (if 'virsh domstate %s' says shut off, remove the file; else restart libvirtd, which writes it again)",
					  path, q);
			r = -EBADMSG;
			break;
		}
		*(struct domain *)array_push(&h.doms, &h.n, sizeof(d)) = d;
	}
	closedir(dir);
	if (r == -EBADMSG) {
		holders_clear(&h);
		return r;
	}
	*ret = h;
	return de ? r : 0;
}

void holders_clear(struct holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		domain_clear(&h->doms[i]);
	free(h->doms);
	*h = (struct holders){ 0 };
}

const struct domain *holders_get(const struct holders *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (streq(h->doms[i].name, name))
			return &h->doms[i];
	return NULL;
}

const struct domain *holders_running(const struct holders *h, const char *name, const char *uuid)
{
	const struct domain *d = holders_get(h, name);

	if (!d || (uuid && *uuid && *d->uuid && strcasecmp(d->uuid, uuid) != 0))
		return NULL;
	return d;
}

const char *holders_find(const struct holders *h, const struct pci_addr *a, const char *self)
{
	for (size_t i = 0; i < h->n; i++)
		if (!streq(h->doms[i].name, self) && domain_has(&h->doms[i], a))
			return h->doms[i].name;
	return NULL;
}

/* The PCI function a mediated device hangs off: the last address in its sysfs path. */
static bool mdev_parent(const char *uuid, struct pci_addr *ret)
{
	_cleanup_free_ char *link = NULL;
	char real[PATH_MAX], *save = NULL;
	bool found = false;

	if (strchr(uuid, '/'))
		return false;
	link = xasprintf("/sys/bus/mdev/devices/%s", uuid);
	if (!realpath(link, real))
		return false;
	for (char *tok = strtok_r(real, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (pci_addr_parse(tok, ret) == 0)
			found = true;
	return found;
}

const char *holders_mdev_parent(const struct holders *h, const struct pci_addr *a, const char *self)
{
	for (size_t i = 0; i < h->n; i++) {
		if (streq(h->doms[i].name, self))
			continue;
		for (size_t k = 0; k < h->doms[i].n_mdevs; k++) {
			struct pci_addr p;

			if (mdev_parent(h->doms[i].mdevs[k], &p) && pci_addr_eq(&p, a))
				return h->doms[i].name;
		}
	}
	return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor, the map and what it names: the map loads; each mapped device is on this
 * machine, resets, is not the host's display; each mapped VM's start as the planner sees it;
 * each [usb] device is plugged in; each mapped VM's 1 GiB hugepages are reserved at boot.
 */
#define _GNU_SOURCE
#include "doctor-check.h"

#include "actions.h"
#include "claims.h"
#include "plan.h"
#include "resolve.h"
#include "util.h"
#include "virt.h"

#include <libudev.h>
#include <string.h>
#include <unistd.h>

/* ---- The map ---- */

/* Each [vm NAME] against the VMs libvirt has: a name it does not have makes the hook do nothing. */
static void check_vm_names(struct doctor *d)
{
	const char *uri = d->c->opt.uri;
	_cleanup_free_ char *why = NULL;
	char **names = NULL;
	size_t n = 0, unknown = 0;
	int r;

	if (!d->c->n_vms)
		return;
	r = virt_list_defined(uri, d->c->opt.timeout, &names, &n, &why);
	/* One deadline is what a libvirt that does not answer costs doctor, not one per VM. */
	d->libvirt_mute = r == -ETIMEDOUT;
	if (r < 0) {
		doctor_report(d, ST_SKIP, r == -ECONNREFUSED ? "systemctl start libvirtd (or virtqemud, with the modular daemons)" : NULL,
		       "whether libvirt has a VM of each [vm] name: cannot ask it: %s", why);
		return;
	}
	for (size_t i = 0; i < d->c->n_vms; i++) {
		const struct vm *v = &d->c->vms[i];
		const char *near;
		_cleanup_free_ char *line = virt_unknown_vm(uri, v->name, names, n, &near), *fix = NULL;

		if (!line)
			continue;
		unknown++;
		fix = near ? xasprintf("rename the section [vm %s] (%s:%d)", near, d->c->path, v->line)
			   : xasprintf("define the VM in libvirt, or fix the name at %s:%d (virsh list --all)", d->c->path, v->line);
		doctor_report(d, ST_FAIL, fix, "[vm %s]: %s, so the hook does nothing for it", v->name, line);
	}
	if (!unknown)
		doctor_report(d, ST_PASS, NULL, "libvirt (%s) has a VM of each [vm] name", uri);
	virt_names_free(names, n);
}

void doctor_map(struct doctor *d)
{
	const char *path = config_path(d->cfg_path);
	_cleanup_free_ char *fix = NULL, *msg = NULL;

	if (access(path, F_OK) < 0) {
		fix = xasprintf("write one: vfio-hook map GROUP --add VM (GROUP from vfio-hook groups); or start from the example "
				"%s", EXAMPLE_MAP);
		doctor_report(d, ST_WARN, fix, "no device map at %s", path);
		return;
	}
	if (access(path, R_OK) < 0 && errno == EACCES) {
		doctor_report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "cannot read %s as this user: the map and device checks need root", path);
		return;
	}
	/* The map's own line, here and in --json: not a line on stderr that scrolled away. */
	if (config_load_msg(path, &d->c, &msg) < 0) {
		doctor_report(d, ST_FAIL, "correct it, then check the map again: vfio-hook config", "the map is refused: %s",
		       msg ? msg : path);
		return;
	}
	doctor_report(d, ST_PASS, NULL, "%s parses (%zu VM%s) and only its owner can write it", path, d->c->n_vms,
	       d->c->n_vms == 1 ? "" : "s");
	check_vm_names(d);
}

/* ---- Each mapped device ---- */

/* GPUs whose reset does not work without vendor-reset: Vega 10, Vega 20, Navi 10 (its device table). */
static const char *reset_bug(const struct pci_func *f)
{
	static const struct {
		uint16_t device;
		const char *family;
	} bugs[] = {
		{ 0x6860, "Vega 10" }, { 0x6861, "Vega 10" }, { 0x6862, "Vega 10" }, { 0x6863, "Vega 10" },
		{ 0x6864, "Vega 10" }, { 0x6867, "Vega 10" }, { 0x6868, "Vega 10" }, { 0x6869, "Vega 10" },
		{ 0x686a, "Vega 10" }, { 0x686b, "Vega 10" }, { 0x686c, "Vega 10" }, { 0x686d, "Vega 10" },
		{ 0x686e, "Vega 10" }, { 0x686f, "Vega 10" }, { 0x687f, "Vega 10" }, { 0x66a0, "Vega 20" },
		{ 0x66a1, "Vega 20" }, { 0x66a2, "Vega 20" }, { 0x66a3, "Vega 20" }, { 0x66a4, "Vega 20" },
		{ 0x66a7, "Vega 20" }, { 0x66af, "Vega 20" }, { 0x7310, "Navi 10" }, { 0x7312, "Navi 10" },
		{ 0x7318, "Navi 10" }, { 0x7319, "Navi 10" }, { 0x731a, "Navi 10" }, { 0x731b, "Navi 10" },
		{ 0x731e, "Navi 10" }, { 0x731f, "Navi 10" },
	};

	if (f->vendor != 0x1002)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bugs); i++)
		if (bugs[i].device == f->device)
			return bugs[i].family;
	return NULL;
}

static void check_reset(struct doctor *d, const struct pci_func *f, const char *a)
{
	_cleanup_free_ char *path = xasprintf("%s/reset_method", f->syspath);
	_cleanup_free_ char *rm = read_file(path);
	const char *family = reset_bug(f);
	_cleanup_free_ char *vr = xasprintf("install vendor-reset (https://github.com/gnif/vendor-reset) and load it at "
					    "boot; on kernels from 5.15 on also: echo device_specific > "
					    "/sys/bus/pci/devices/%s/reset_method", a);

	if (!rm)
		doctor_report(d, ST_WARN, "check dmesg for reset errors after a VM stops; a kernel from 5.15 on tells",
		       "%s (%s): the kernel does not say how it can be reset (no reset_method)", a, pci_func_name(f));
	else if (!*strip(rm))
		doctor_report(d, ST_WARN,
		       "it keeps its state from one VM to the next: pass the whole card (every function) so a bus reset "
		       "can work, and expect to reboot the host after a guest crash",
		       "%s (%s) has no reset method", a, pci_func_name(f));
	else
		doctor_report(d, ST_PASS, NULL, "%s (%s) can be reset: %s", a, pci_func_name(f), rm);
	if (family)
		doctor_report(d, ST_WARN, vr, "%s (%s) is an AMD %s GPU: it does not come back after a reset without vendor-reset", a,
		       pci_func_name(f), family);
}

static void check_display(struct doctor *d, const struct pci_func *f, const char *a)
{
	if ((f->class >> 16) != 0x03)
		return;
	if (f->boot_vga == 1)
		doctor_report(d, ST_WARN,
		       "give the host another GPU: make that one primary in the firmware setup, or set host-display = "
		       "handoff in the [vm] that gets it (the hook refuses it while the host's display is on it)",
		       "%s (%s) is the boot GPU: the host's console and display start on it", a, pci_func_name(f));
	else
		doctor_report(d, ST_PASS, NULL, "%s (%s) is not the host's boot GPU", a, pci_func_name(f));
}

static bool mapped(const struct config *c, const struct pci_func *f)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (vm_gets(&c->vms[i], f))
			return true;
	return false;
}

/* Each VM's dry run, as `vfio-hook --check VM` makes it: the running VMs, the ledger, its domain XML. */
static void check_vms(struct doctor *d)
{
	for (size_t i = 0; i < d->c->n_vms; i++) {
		const struct vm *v = &d->c->vms[i];
		_cleanup_free_ char *q = shell_quote(v->name), *xml_fix = NULL;
		struct check_verdict cv;

		if (!v->n_pci)
			continue;
		if (check_verdict(d->cfg_path, v->name, !d->libvirt_mute, &cv) < 0) {
			doctor_report(d, ST_SKIP, NULL, "[vm %s] no dry run: it could not be planned (standard error says why)", v->name);
			continue;
		}
		for (size_t k = 0; k < cv.n_warnings; k++)
			doctor_report(d, ST_WARN, NULL, "[vm %s] %s", v->name, cv.warnings[k]);
		for (size_t k = 0; k < cv.n_refusals; k++)
			doctor_report(d, ST_FAIL, NULL, "[vm %s] the hook would refuse to start it: %s", v->name, cv.refusals[k]);
		/* Refused: the verdict is the lines above, each refusal with its fix. */
		if (!cv.n_refusals && cv.unsure) {
			doctor_report(d, ST_WARN, "run as root (sudo vfio-hook doctor)",
			       "[vm %s] the dry run (--check) says the hook may start it: %zu PCI function%s, but what this user "
			       "cannot read was not checked",
			       v->name, cv.n_funcs, cv.n_funcs == 1 ? "" : "s");
		} else if (!cv.n_refusals) {
			doctor_report(d, ST_PASS, NULL, "[vm %s] the dry run (--check) says the hook would start it: %zu PCI function%s",
			       v->name, cv.n_funcs, cv.n_funcs == 1 ? "" : "s");
		}
		if (cv.no_xml) {
			xml_fix = xasprintf("vfio-hook --check %s --xml FILE, with the VM's XML (virsh dumpxml %s)", q, q);
			doctor_report(d, ST_SKIP, xml_fix, "[vm %s] whether its libvirt definition passes these functions through "
				      "(<hostdev>) is not checked: libvirt (%s) %s", v->name, d->c->opt.uri,
				      d->libvirt_mute ? "did not answer (see above), so it was not asked" : "did not give it");
		}
		check_verdict_clear(&cv);
	}
}

static void check_usb_entry(struct doctor *d, struct udev *udev, const char *name, const struct usb_entry *e)
{
	struct udev_enumerate *en = udev ? udev_enumerate_new(udev) : NULL;
	char vid[8], pid[8], id[16];
	bool plugged = false;

	usb_sel_format(&e->sel, id, sizeof(id));
	snprintf(vid, sizeof(vid), "%04x", e->sel.vendor);
	snprintf(pid, sizeof(pid), "%04x", e->sel.product);
	if (en && udev_enumerate_add_match_subsystem(en, "usb") >= 0 &&
	    udev_enumerate_add_match_sysattr(en, "idVendor", vid) >= 0 &&
	    (e->sel.any_product || udev_enumerate_add_match_sysattr(en, "idProduct", pid) >= 0) &&
	    udev_enumerate_scan_devices(en) >= 0)
		plugged = udev_enumerate_get_list_entry(en) != NULL;
	if (en)
		udev_enumerate_unref(en);
	if (plugged)
		doctor_report(d, ST_PASS, NULL, "[usb %s] %s is plugged in", name, id);
	else
		doctor_report(d, ST_WARN, "plug it in before starting a VM that uses it, or check the id with lsusb",
		       "[usb %s] %s is not plugged in", name, id);
}

static void check_devices(struct doctor *d)
{
	struct udev *udev;

	if (geteuid() != 0)
		doctor_report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "whether a disk on a mapped function is in use by the host: needs root to open it");
	check_vms(d);
	for (size_t i = 0; i < d->m->n_funcs; i++) {
		const struct pci_func *f = &d->m->funcs[i];
		char a[PCI_ADDR_LEN];

		if (!mapped(d->c, f))
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		check_reset(d, f, a);
		check_display(d, f, a);
	}
	udev = udev_new();
	for (size_t i = 0; i < d->c->n_usb_sets; i++)
		for (size_t k = 0; k < d->c->usb_sets[i].n_entries; k++)
			check_usb_entry(d, udev, d->c->usb_sets[i].name, &d->c->usb_sets[i].entries[k]);
	for (size_t i = 0; i < d->c->n_vms; i++)
		for (size_t k = 0; k < d->c->vms[i].n_bare_usb; k++) {
			_cleanup_free_ char *where = xasprintf("vm %s", d->c->vms[i].name);

			check_usb_entry(d, udev, where, &d->c->vms[i].bare_usb[k]);
		}
	if (udev)
		udev_unref(udev);
}

/* How many pages of SIZE_KIB the kernel command line reserves at boot (hugepagesz= hugepages= pairs). */
static unsigned long boot_reserved(const char *cmdline, unsigned long long size_kib, unsigned long long default_kib)
{
	_cleanup_free_ char *copy = xstrdup(cmdline ? cmdline : "");
	unsigned long long size = default_kib, n = 0;
	char *save = NULL;

	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		char *end;

		if (startswith(w, "hugepagesz=")) {
			unsigned long long v = strtoull(w + 11, &end, 10);

			size = *end == 'G' || *end == 'g' ? v * 1048576 : *end == 'M' || *end == 'm' ? v * 1024 : v;
		} else if (startswith(w, "hugepages=") && size == size_kib) {
			n = strtoull(w + 10, &end, 10);
		}
	}
	return (unsigned long)n;
}

/*
 * Each mapped VM whose memory is backed by 1 GiB hugepages (its XML in /etc/libvirt/qemu): the
 * hook raises the pool when it starts, but pages that large can rarely be had once memory has
 * fragmented; reserved at boot, they always are.
 */
static void check_big_pages(struct doctor *d)
{
	_cleanup_free_ char *meminfo = doctor_sys_read(d, "/proc/meminfo");
	const char *at = meminfo ? strstr(meminfo, "Hugepagesize:") : NULL;
	unsigned long long def = at ? strtoull(at + strlen("Hugepagesize:"), NULL, 10) : 0;

	for (size_t i = 0; i < d->c->n_vms; i++) {
		const char *name = d->c->vms[i].name;
		_cleanup_free_ char *rel = xasprintf("/etc/libvirt/qemu/%s.xml", name), *xml = doctor_sys_read(d, rel);
		struct domain dom = { 0 };
		struct pool_want *pools = NULL;
		size_t n = 0;

		if (!xml || domain_parse(xml, strlen(xml), &dom) < 0) {
			domain_clear(&dom);
			continue;
		}
		claims_pools(&dom, def, &pools, &n);
		for (size_t k = 0; k < n; k++) {
			unsigned long have = boot_reserved(d->cmdline, pools[k].size_kib, def);
			unsigned long long gib = pools[k].size_kib / 1048576;
			_cleanup_free_ char *fix = NULL;

			if (pools[k].size_kib < 1048576)
				continue;
			if (have >= pools[k].pages) {
				doctor_report(d, ST_PASS, NULL, "[vm %s] its %lu %llu GiB hugepages are reserved at boot (%lu on the kernel "
					      "command line)", name, pools[k].pages, gib, have);
				continue;
			}
			fix = xasprintf("reserve them at boot: hugepages = %lluG:%lu in [host] of %s, then 'vfio-hook setup' and "
					"reboot", gib, pools[k].pages, d->c->path);
			doctor_report(d, ST_WARN, fix,
				      "[vm %s] its memory takes %lu %llu GiB hugepages, %lu reserved at boot: pages this large can rarely be "
				      "had once the host runs, and its start is refused without them",
				      name, pools[k].pages, gib, have);
		}
		free(pools);
		domain_clear(&dom);
	}
}

void doctor_devices(struct doctor *d)
{
	if (d->c && d->m)
		check_devices(d);
	if (d->c)
		check_big_pages(d);
}

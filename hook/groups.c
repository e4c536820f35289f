/* SPDX-License-Identifier: MIT */
/*
 * The listing users know from the "IOMMU groups" script, with each line exactly as lspci
 * prints it, followed by what matters for passthrough: driver, and who gets it in the map.
 */
#include "groups.h"

#include "child.h"
#include "display.h"

#include "log.h"
#include "resolve.h"
#include "usbdevs.h"
#include "util.h"

#include <string.h>

static void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* The [pci] names and VMs that get f, each once, in map order. */
struct uses {
	const char *sets[32], *vms[32];
	size_t n_sets, n_vms;
};

static void add_once(const char **arr, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (streq(arr[i], s))
			return;
	if (*n < 32)
		arr[(*n)++] = s;
}

static struct uses uses_of(const struct config *c, const struct pci_func *f)
{
	struct uses u = { 0 };

	for (size_t i = 0; c && i < c->n_vms; i++)
		for (size_t k = 0; k < c->vms[i].n_pci; k++) {
			const struct vm_pci *vp = &c->vms[i].pci[k];

			if (!pci_sel_matches(&vp->entry->sel, f))
				continue;
			add_once(u.vms, &u.n_vms, c->vms[i].name);
			if (vp->set)
				add_once(u.sets, &u.n_sets, vp->set->name);
		}
	/* A [pci] section no VM uses still names the device. */
	for (size_t i = 0; c && i < c->n_pci_sets; i++)
		for (size_t e = 0; e < c->pci_sets[i].n_entries; e++)
			if (pci_sel_matches(&c->pci_sets[i].entries[e].sel, f))
				add_once(u.sets, &u.n_sets, c->pci_sets[i].name);
	return u;
}

static void print_list(const char *key, const char *const *arr, size_t n)
{
	if (!n)
		return;
	printf("  %s=", key);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", arr[i]);
}

static void json_list(const char *key, const char *const *arr, size_t n);

/* ---- The USB devices behind each USB controller, as lsusb names them ---- */

struct usb_list {
	struct usb_device *devs;
	size_t n;
};

/* The [usb] sections of the map that name U, each once. */
static struct uses usb_uses(const struct config *c, const struct usb_device *u)
{
	struct uses r = { 0 };

	for (size_t i = 0; c && i < c->n_usb_sets; i++)
		for (size_t k = 0; k < c->usb_sets[i].n_entries; k++) {
			const struct usb_sel *s = &c->usb_sets[i].entries[k].sel;

			if (s->vendor == u->vendor && (s->any_product || s->product == u->product))
				add_once(r.sets, &r.n_sets, c->usb_sets[i].name);
		}
	return r;
}

/*
 * The devices on F's buses, the root hubs left out: under a USB controller's line each as lsusb
 * prints it, or in --json a "usb" array.
 */
static void print_usb(const struct usb_list *l, const struct pci_func *f, const struct config *c, bool json)
{
	bool first = true;

	if (json)
		printf(",\"usb\":[");
	for (size_t i = 0; i < l->n; i++) {
		const struct usb_device *u = &l->devs[i];
		struct uses m;

		if (u->root_hub || !u->on_pci || pci_addr_cmp(&u->ctrl, &f->addr) != 0)
			continue;
		m = usb_uses(c, u);
		if (!json) {
			printf("    Bus %03u Device %03u: ID %04x:%04x%s%s%s%s", u->bus, u->device, u->vendor, u->product,
			       u->vendor_name ? " " : "", u->vendor_name ? u->vendor_name : "", u->model ? " " : "",
			       u->model ? u->model : "");
			print_list("map", m.sets, m.n_sets);
			putchar('\n');
			continue;
		}
		printf("%s{\"bus\":%u,\"device\":%u,\"vendor\":\"%04x\",\"product\":\"%04x\",\"vendor_name\":", first ? "" : ",",
		       u->bus, u->device, u->vendor, u->product);
		json_str(u->vendor_name);
		printf(",\"product_name\":");
		json_str(u->model);
		json_list("map", m.sets, m.n_sets);
		putchar('}');
		first = false;
	}
	if (json)
		putchar(']');
}

/* Does F drive the host's display now (fbcon, a firmware framebuffer, processes drawing on it)? */
static bool drives_display(const struct pci_func *f)
{
	static bool warned, warned_procs;
	struct display_use u;
	int r;

	if ((f->class >> 16) != 0x03)
		return false;
	display_snapshot();
	if (!warned && display_iomem_blind()) {
		warned = true;
		log_warning("/proc/iomem does not show its addresses to this process: a firmware framebuffer in a GPU's BARs "
			    "(the host's display) is not seen; %s",
			    closed_fix());
	}
	r = display_detect(f, NULL, now_ms() + CONFIG_DEFAULT_TIMEOUT * 1000L, &u);
	if (r == 0 && u.n_closed && !warned_procs) {
		warned_procs = true;
		log_warning("the open files of %zu %s cannot be looked at: a GPU drawn on there (the host's display) is not "
			    "seen; %s",
			    u.n_closed, u.n_closed == 1 ? "process" : "processes", closed_fix());
	}
	if (r < 0) {
		char a[PCI_ADDR_LEN];

		pci_addr_format(&f->addr, a, sizeof(a));
		log_warning("cannot tell whether %s drives the host's display: reading %s did not finish in time (the kernel's "
			    "console lock is held; see dmesg)",
			    a, u.stuck);
	}
	display_use_clear(&u);
	/* Not known counts as in use: nothing would be moved off it on this word. */
	return r != 0;
}

static void print_func_text(const struct pci_func *f, const struct config *c, const struct usb_list *usb)
{
	struct uses u = uses_of(c, f);
	char line[1024];

	pci_func_lspci(f, line, sizeof(line));
	printf("%s  driver=%s", line, f->driver ? f->driver : "none");
	if (f->driver_override)
		printf("  override=%s", f->driver_override);
	if (pci_func_is_bridge(f))
		printf("  bridge");
	if (f->boot_vga == 1)
		printf("  boot_vga");
	if (drives_display(f))
		printf("  host-display");
	if (f->stuck)
		printf("  stuck in the kernel (a driver operation on it has not finished; see dmesg)");
	print_list("map", u.sets, u.n_sets);
	print_list("vm", u.vms, u.n_vms);
	putchar('\n');
	print_usb(usb, f, c, false);
}

static void json_list(const char *key, const char *const *arr, size_t n)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		json_str(arr[i]);
	}
	putchar(']');
}

static void print_func_json(const struct pci_func *f, const struct config *c, const struct usb_list *usb)
{
	static const char *const headers[] = { "endpoint", "bridge", "cardbus" };
	struct uses u = uses_of(c, f);
	char addr[PCI_ADDR_LEN], line[1024];

	pci_addr_format(&f->addr, addr, sizeof(addr));
	pci_func_lspci(f, line, sizeof(line));
	printf("{\"address\":\"%s\",\"vendor\":\"%04x\",\"device\":\"%04x\",\"subsystem_vendor\":\"%04x\","
	       "\"subsystem_device\":\"%04x\",\"class\":\"%06x\",\"revision\":\"%02x\",\"header\":\"%s\"",
	       addr, f->vendor, f->device, f->sub_vendor, f->sub_device, f->class, f->revision,
	       f->header < ARRAY_SIZE(headers) ? headers[f->header] : "other");
	printf(",\"iommu_group\":");
	if (f->iommu_group >= 0)
		printf("%d", f->iommu_group);
	else
		fputs("null", stdout);
	printf(",\"driver\":");
	json_str(f->driver);
	printf(",\"driver_override\":");
	json_str(f->driver_override);
	printf(",\"boot_vga\":%s,\"host_display\":%s,\"stuck\":%s", f->boot_vga == 1 ? "true" : "false",
	       drives_display(f) ? "true" : "false", f->stuck ? "true" : "false");
	printf(",\"vendor_name\":");
	json_str(f->vendor_name);
	printf(",\"device_name\":");
	json_str(f->device_name);
	printf(",\"class_name\":");
	json_str(f->class_name);
	printf(",\"subclass_name\":");
	json_str(f->subclass_name);
	printf(",\"lspci\":");
	json_str(line);
	json_list("map", u.sets, u.n_sets);
	json_list("vms", u.vms, u.n_vms);
	print_usb(usb, f, c, true);
	putchar('}');
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Distinct group numbers, ascending. */
static int *sorted_groups(const struct machine *m, size_t *ret_n)
{
	int *g = xcalloc(m->n_funcs, sizeof(int));
	size_t n = 0;

	for (size_t i = 0; i < m->n_funcs; i++) {
		bool seen = false;

		if (m->funcs[i].iommu_group < 0)
			continue;
		for (size_t k = 0; k < n && !seen; k++)
			seen = g[k] == m->funcs[i].iommu_group;
		if (!seen)
			g[n++] = m->funcs[i].iommu_group;
	}
	qsort(g, n, sizeof(int), cmp_int);
	*ret_n = n;
	return g;
}

/* Does group G hold a display controller? */
static bool group_has_gpu(const struct machine *m, int g)
{
	for (size_t i = 0; i < m->n_funcs; i++)
		if (m->funcs[i].iommu_group == g && (m->funcs[i].class >> 16) == 0x03)
			return true;
	return false;
}

/* The group ONLY names: its number, or the address of one of its functions; -1 (logged) if none. */
static int only_group(const struct machine *m, const int *groups, size_t n_groups, const char *only)
{
	struct pci_addr a;
	const struct pci_func *f;
	char *end;
	long g;

	errno = 0;
	g = strtol(only, &end, 10);
	if (*only && !*end && !errno) {
		for (size_t i = 0; i < n_groups; i++)
			if (groups[i] == g)
				return (int)g;
		log_error("no IOMMU group %s on this machine (its groups are %d to %d: see vfio-hook groups)", only,
			  groups[0], groups[n_groups - 1]);
		return -1;
	}
	if (pci_addr_parse(only, &a) < 0) {
		log_error("groups: \"%s\" is neither an IOMMU group number nor a PCI address (as 24, or 09:00.0)", only);
		return -1;
	}
	f = machine_find(m, &a);
	if (!f || f->iommu_group < 0) {
		char s[PCI_ADDR_LEN];

		pci_addr_format(&a, s, sizeof(s));
		log_error(f ? "%s is in no IOMMU group (the IOMMU does not cover it)" : "no PCI function %s on this machine (see vfio-hook groups)",
			  s);
		return -1;
	}
	return f->iommu_group;
}

int groups_print(const struct machine *m, const struct config *c, const struct groups_filter *flt)
{
	_cleanup_free_ int *groups = NULL;
	struct usb_list usb;
	size_t n_groups, shown = 0;
	bool ungrouped = false, json = flt->json;
	int only = -1;

	if (m->n_groups == 0) {
		log_error("%s", machine_iommu_off_hint(m));
		return 1;
	}
	groups = sorted_groups(m, &n_groups);
	if (flt->only && n_groups && (only = only_group(m, groups, n_groups, flt->only)) < 0)
		return 2;
	usb.n = usb_devices_list(&usb.devs);
	if (json)
		printf("{\"groups\":[");
	for (size_t g = 0; g < n_groups; g++) {
		bool first = true;

		if ((flt->only && groups[g] != only) || (flt->gpu && !group_has_gpu(m, groups[g])))
			continue;
		if (json)
			printf("%s{\"group\":%d,\"functions\":[", shown ? "," : "", groups[g]);
		else
			printf("IOMMU Group %d:\n", groups[g]);
		shown++;
		for (size_t i = 0; i < m->n_funcs; i++) {
			if (m->funcs[i].iommu_group != groups[g])
				continue;
			if (json) {
				if (!first)
					putchar(',');
				print_func_json(&m->funcs[i], c, &usb);
			} else {
				print_func_text(&m->funcs[i], c, &usb);
			}
			first = false;
		}
		if (json)
			printf("]}");
	}
	if (json)
		printf("],\"ungrouped\":[");
	for (size_t i = 0; i < m->n_funcs && !flt->only && !flt->gpu; i++) {
		if (m->funcs[i].iommu_group >= 0)
			continue;
		if (json) {
			if (ungrouped)
				putchar(',');
			print_func_json(&m->funcs[i], c, &usb);
		} else {
			if (!ungrouped)
				printf("No IOMMU group (cannot be passed through):\n");
			print_func_text(&m->funcs[i], c, &usb);
		}
		ungrouped = true;
	}
	if (json)
		printf("]}\n");
	usb_devices_free(usb.devs, usb.n);
	if (flt->gpu && !shown)
		log_warning("no IOMMU group holds a GPU (a display controller, class 03) on this machine");
	if (c)
		resolve_report(c, m);
	return 0;
}

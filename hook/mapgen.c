/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook map: the map written for the user from what `groups` lists, instead of ids copied
 * by hand. What is asked for (an IOMMU group, an address or id, a VM) becomes [pci NAME]
 * sections, one per card: every function of the card's slot, each on a `device =` line named
 * as lspci names it, pinned by address where an identical function elsewhere shares its id. An
 * IOMMU group asked for by number is taken whole. Other devices that share a card's group (a
 * board without ACS isolation) are named, not taken: passing the host's own devices is not
 * something to do behind the user's back. With --add VM the sections and a [vm VM] entry go
 * into the map itself (mapedit.c).
 */
#define _GNU_SOURCE
#include "mapgen.h"

#include "config.h"
#include "discover.h"
#include "display.h"
#include "domxml.h"
#include "log.h"
#include "resolve.h"
#include "util.h"
#include "virt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A function of the machine, as the sets hold it (a pointer into machine.funcs). */
typedef const struct pci_func *func_ref;

/* One [pci NAME] section: a card (the functions of a slot), or an IOMMU group asked for whole. */
struct set {
	const struct pci_func **f;
	size_t n;
	bool whole;           /* asked for by its group number */
	const char *existing; /* a [pci] section of the map with exactly these functions */
	char *name;
	size_t had; /* functions of the card (or group) the --add VM gets already: left out of it */
};

struct gen {
	const struct config *c; /* NULL: no map (yet) */
	const struct machine *m;
	struct set *sets;
	size_t n_sets;
	char *libvirt_vm; /* asked for as a VM libvirt has and the map has not: its [vm] is printed */
	const char *map_vm; /* asked for as a [vm] of the map: the names it can list instead of ids */
	const char *add_vm;
	const struct vm *add_v; /* the --add VM's [vm] in the map, when it has one */
};

static void appendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char **s, const char *fmt, ...)
{
	_cleanup_free_ char *more = NULL;
	va_list ap;
	char *next;

	va_start(ap, fmt);
	if (vasprintf(&more, fmt, ap) < 0)
		more = NULL;
	va_end(ap);
	next = xasprintf("%s%s", *s ? *s : "", more ? more : "");
	free(*s);
	*s = next;
}

/* A function a VM can be given: not a bridge (PCI-to-PCI, host, ISA: the board's, never a guest's). */
static bool passable(const struct pci_func *f)
{
	return !pci_func_is_bridge(f) && (f->class >> 16) != 0x06;
}

static bool same_slot(const struct pci_func *a, const struct pci_func *b)
{
	return a->addr.domain == b->addr.domain && a->addr.bus == b->addr.bus && a->addr.slot == b->addr.slot;
}

static const struct set *set_of(const struct gen *g, const struct pci_func *f)
{
	for (size_t i = 0; i < g->n_sets; i++)
		for (size_t k = 0; k < g->sets[i].n; k++)
			if (g->sets[i].f[k] == f)
				return &g->sets[i];
	return NULL;
}

/* A new set of the functions of M that KEEP takes (and no set has yet); false when there is none. */
static bool add_set(struct gen *g, bool whole, bool (*keep)(const struct pci_func *f, const void *key), const void *key)
{
	struct set s = { .whole = whole };

	for (size_t i = 0; i < g->m->n_funcs; i++) {
		const struct pci_func *f = &g->m->funcs[i];

		if (passable(f) && keep(f, key) && !set_of(g, f))
			*(func_ref *)array_push(&s.f, &s.n, sizeof(func_ref)) = f;
	}
	if (!s.n)
		return false;
	*(struct set *)array_push(&g->sets, &g->n_sets, sizeof(s)) = s;
	return true;
}

static bool in_slot(const struct pci_func *f, const void *key)
{
	return same_slot(f, key);
}

static bool in_group(const struct pci_func *f, const void *key)
{
	return f->iommu_group == *(const int *)key;
}

/* The card of F: every function of its slot. Said when it has no IOMMU group, or is a bridge. */
static int add_card(struct gen *g, const struct pci_func *f, const char *asked)
{
	char a[PCI_ADDR_LEN];

	pci_addr_format(&f->addr, a, sizeof(a));
	if (f->iommu_group < 0) {
		log_error("%s (%s) is in no IOMMU group: it cannot be passed through (%s)", a, pci_func_name(f),
			  machine_iommu_off_hint(g->m));
		return -ENODEV;
	}
	if (!passable(f)) {
		log_error("%s (%s, asked for as %s) is a bridge of the board: a VM is given the devices behind it, never "
			  "the bridge (see vfio-hook groups)",
			  a, pci_func_name(f), asked);
		return -EINVAL;
	}
	add_set(g, false, in_slot, f);
	return 0;
}

static int add_group(struct gen *g, int group)
{
	for (size_t i = 0; i < g->m->n_funcs; i++)
		if (g->m->funcs[i].iommu_group == group) {
			if (!add_set(g, true, in_group, &group) && !set_of(g, &g->m->funcs[i])) {
				log_error("IOMMU group %d holds only bridges of the board: nothing in it can be passed through "
					  "(see vfio-hook groups %d)",
					  group, group);
				return -EINVAL;
			}
			return 0;
		}
	log_error("no IOMMU group %d on this machine (see vfio-hook groups)", group);
	return -EINVAL;
}

/* The functions libvirt's definition of VM passes through (<hostdev>s), each with its card. */
static int add_libvirt_vm(struct gen *g, const char *vm, const char *uri, unsigned timeout_s)
{
	const struct virt_req q = { uri, vm, VIRT_XML, NULL, VIR_DOMAIN_XML_INACTIVE };
	_cleanup_free_ char *xml = NULL;
	struct domain d = { 0 };
	int r;

	if (!virt_may_ask(uri)) {
		log_error("\"%s\" is not an IOMMU group, a PCI address or id, nor a VM of the map (libvirt at %s is not asked "
			  "under VFIO_HOOK_TEST)",
			  vm, uri);
		return -EINVAL;
	}
	r = virt_call(&q, (long)timeout_s * 1000L, &xml);
	if (r == -ENOENT) {
		log_error("\"%s\" is not an IOMMU group, a PCI address (09:00.0) or id (10de:1e84), nor a VM of the map or "
			  "of libvirt (%s) (see vfio-hook groups, virsh list --all)",
			  vm, uri);
		return -EINVAL;
	}
	if (r < 0) {
		char why[512];

		log_error("\"%s\" is not an IOMMU group, a PCI address or id, nor a VM of the map, and libvirt cannot say "
			  "whether it has such a VM: %s",
			  vm, virt_why(r, xml, uri, (long)timeout_s * 1000L, why, sizeof(why)));
		return r == -ECONNREFUSED ? r : -EIO;
	}
	r = domain_parse(xml, strlen(xml), &d);
	if (r < 0) {
		if (r != -ENOPKG)
			log_error("%s: libvirt's definition of it cannot be read", vm);
		return r;
	}
	for (size_t i = 0; i < d.n_hostdevs && r == 0; i++) {
		const struct pci_func *f = machine_find(g->m, &d.hostdevs[i].addr);
		char a[PCI_ADDR_LEN];

		pci_addr_format(&d.hostdevs[i].addr, a, sizeof(a));
		if (!f)
			log_warning("%s's definition passes %s through, which is not on this machine: left out", vm, a);
		else if (!set_of(g, f))
			r = add_card(g, f, a);
	}
	if (r == 0 && !d.n_hostdevs) {
		log_error("%s passes no PCI device through in its libvirt definition: name what it should get instead (an "
			  "IOMMU group or an address, from vfio-hook groups)",
			  vm);
		r = -EINVAL;
	}
	if (r == 0) {
		free(g->libvirt_vm);
		g->libvirt_vm = xstrdup(vm);
	}
	domain_clear(&d);
	return r;
}

/* One word of the command line: a group number, an address, a vendor:device id, or a VM. */
static int add_what(struct gen *g, const char *what)
{
	const struct vm *v = g->c ? config_find_vm(g->c, what) : NULL;
	struct pci_sel sel;
	char *end;
	long n;
	int r = 0;
	bool found = false;

	errno = 0;
	n = strtol(what, &end, 10);
	if (isdigit((unsigned char)*what) && !*end && !errno && n <= INT_MAX)
		return add_group(g, (int)n);
	if (pci_sel_parse(what, &sel) == 0) {
		for (size_t i = 0; i < g->m->n_funcs && r == 0; i++) {
			const struct pci_func *f = &g->m->funcs[i];

			if (!pci_sel_matches(&sel, f))
				continue;
			found = true;
			if (!set_of(g, f))
				r = add_card(g, f, what);
		}
		if (!found) {
			log_error("%s matches no PCI function on this machine (see vfio-hook groups)", what);
			return -EINVAL;
		}
		return r;
	}
	if (!v)
		return add_libvirt_vm(g, what, g->c ? g->c->opt.uri : CONFIG_DEFAULT_URI,
				      g->c ? g->c->opt.timeout : CONFIG_DEFAULT_TIMEOUT);
	for (size_t i = 0; i < g->m->n_funcs && r == 0; i++)
		if (vm_gets(v, &g->m->funcs[i]) && !set_of(g, &g->m->funcs[i])) {
			found = true;
			r = add_card(g, &g->m->funcs[i], what);
		}
	if (!found && r == 0) {
		log_error("[vm %s] gets no PCI function on this machine (see vfio-hook config)", what);
		return -EINVAL;
	}
	g->map_vm = v->name;
	return r;
}

/* ---- Names and lines ---- */

/* "Advanced Micro Devices, Inc. [AMD/ATI]" → "AMD", "NVIDIA Corporation" → "NVIDIA". */
static char *vendor_word(const struct pci_func *f)
{
	const char *v = f->vendor_name, *b = v ? strchr(v, '[') : NULL;

	if (!v)
		return xasprintf("%04x", f->vendor);
	if (b)
		return xasprintf("%.*s", (int)strcspn(b + 1, "/]"), b + 1);
	return xasprintf("%.*s", (int)strcspn(v, " ,"), v);
}

/*
 * "TU104 [GeForce RTX 2070 SUPER]" → its marketing name; "Ellesmere [Radeon RX 470/480/...]",
 * whose brackets list several, → the chip's; no brackets → the whole name.
 */
static char *device_words(const struct pci_func *f)
{
	const char *d = f->device_name, *b = d ? strchr(d, '[') : NULL;
	size_t in;

	if (!d)
		return xasprintf("%04x", f->device);
	if (!b)
		return xstrdup(d);
	in = strcspn(b + 1, "]");
	if (memchr(b + 1, '/', in) && b > d)
		return xasprintf("%.*s", (int)(b - d), d);
	return xasprintf("%.*s", (int)in, b + 1);
}

/* Lower-case letters and digits, words joined by '-', at most 40 bytes cut at a word's end. */
static char *slug(const char *words)
{
	char *r = xmalloc(strlen(words) + 1), *w = r;

	for (const char *p = words; *p; p++) {
		if (isalnum((unsigned char)*p))
			*w++ = (char)tolower((unsigned char)*p);
		else if (w > r && w[-1] != '-')
			*w++ = '-';
	}
	while (w > r && w[-1] == '-')
		w--;
	*w = '\0';
	/* Cut in the middle of a word: the word goes. */
	if (strlen(r) > 40) {
		bool mid_word = r[40] != '-';

		r[40] = '\0';
		if (mid_word && strrchr(r, '-'))
			*strrchr(r, '-') = '\0';
	}
	return r;
}

static bool name_taken(const struct gen *g, const char *name)
{
	for (size_t i = 0; g->c && i < g->c->n_pci_sets; i++)
		if (streq(g->c->pci_sets[i].name, name))
			return true;
	for (size_t i = 0; g->c && i < g->c->n_usb_sets; i++)
		if (streq(g->c->usb_sets[i].name, name))
			return true;
	for (size_t i = 0; i < g->n_sets; i++)
		if (g->sets[i].name && streq(g->sets[i].name, name))
			return true;
	return false;
}

/* The card's name, after its GPU if it has one, else its first function: "nvidia-geforce-rtx-2070-super". */
static char *set_name(const struct gen *g, const struct set *s)
{
	const struct pci_func *f = s->f[0];
	_cleanup_free_ char *vendor = NULL, *device = NULL, *words = NULL, *base = NULL;
	char *name;

	for (size_t i = 0; i < s->n; i++)
		if ((s->f[i]->class >> 16) == 0x03) {
			f = s->f[i];
			break;
		}
	vendor = vendor_word(f);
	device = device_words(f);
	words = xasprintf("%s %s", vendor, device);
	base = slug(words);
	if (!*base) {
		free(base);
		base = xasprintf("%04x-%04x", f->vendor, f->device);
	}
	name = xstrdup(base);
	for (unsigned k = 2; name_taken(g, name); k++) {
		free(name);
		name = xasprintf("%s-%u", base, k);
	}
	return name;
}

/* A [pci] section of the map that gives exactly the functions of S on this machine, or NULL. */
static const char *existing_set(const struct gen *g, const struct set *s)
{
	for (size_t i = 0; g->c && i < g->c->n_pci_sets; i++) {
		const struct pci_set *ps = &g->c->pci_sets[i];
		size_t matched = 0;
		bool other = false;

		for (size_t k = 0; k < g->m->n_funcs && !other; k++) {
			const struct pci_func *f = &g->m->funcs[k];
			bool in_ps = false, in_s = false;

			for (size_t e = 0; e < ps->n_entries && !in_ps; e++)
				in_ps = pci_sel_matches(&ps->entries[e].sel, f);
			for (size_t e = 0; e < s->n && !in_s; e++)
				in_s = s->f[e] == f;
			other = in_ps != in_s;
			matched += in_ps && in_s;
		}
		if (!other && matched == s->n)
			return ps->name;
	}
	return NULL;
}

/* Is F's vendor:device id shared by another function of the machine (identical cards)? */
static bool id_shared(const struct machine *m, const struct pci_func *f)
{
	for (size_t i = 0; i < m->n_funcs; i++)
		if (&m->funcs[i] != f && m->funcs[i].vendor == f->vendor && m->funcs[i].device == f->device)
			return true;
	return false;
}

/* "VGA compatible controller: TU104 [GeForce RTX 2070 SUPER]", fit for a value: no " ;" to end it. */
static char *description(const struct pci_func *f)
{
	const char *cls = f->subclass_name ? f->subclass_name : f->class_name;
	char *d = cls && f->device_name ? xasprintf("%s: %s", cls, f->device_name)
		  : cls			  ? xstrdup(cls)
		  : f->device_name	  ? xstrdup(f->device_name)
					  : xasprintf("class %06x", f->class);

	for (char *p = d; *p; p++)
		if (*p == ';' || (unsigned char)*p < 0x20)
			*p = *p == ';' ? ',' : ' ';
	return d;
}

/* The other devices of the groups of S that no set has: those the VM would still need. */
static void left_out(const struct gen *g, const struct set *s, const struct pci_func ***ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < g->m->n_funcs; i++) {
		const struct pci_func *o = &g->m->funcs[i];
		bool shares = false;

		for (size_t k = 0; k < s->n && !shares; k++)
			shares = o->iommu_group == s->f[k]->iommu_group;
		if (shares && passable(o) && !set_of(g, o) && !(g->add_v && vm_gets(g->add_v, o)))
			*(func_ref *)array_push(ret, ret_n, sizeof(func_ref)) = o;
	}
}

static bool harmless(const struct pci_func *f)
{
	return !f->driver || streq(f->driver, "vfio-pci") || streq(f->driver, "pci-stub");
}

/* The section S as the map takes it, with a comment saying what it is; NULL when the map has it. */
static void print_set(const struct gen *g, const struct set *s, char **out)
{
	_cleanup_free_ const struct pci_func **left = NULL;
	char a[PCI_ADDR_LEN], line[1024];
	size_t n_left;
	int group = s->f[0]->iommu_group;

	pci_func_lspci(s->f[0], line, sizeof(line));
	if (s->existing) {
		appendf(out, "; IOMMU group %d: %s: already in the map as [pci %s]\n", group, line, s->existing);
		return;
	}
	if (s->had) {
		char of[PCI_ADDR_LEN + 16] = "it";

		/* "0000:09:00.1" → "the card at 0000:09:00": the slot. */
		if (!s->whole) {
			pci_addr_format(&s->f[0]->addr, a, sizeof(a));
			snprintf(of, sizeof(of), "the card at %.*s", (int)strlen(a) - 2, a);
		}
		appendf(out, "; IOMMU group %d: the %zu function%s of %s that [vm %s] does not get yet (it gets the other %zu already)\n",
			group, s->n, s->n == 1 ? "" : "s", of, g->add_vm, s->had);
	} else if (s->whole && !same_slot(s->f[0], s->f[s->n - 1]))
		appendf(out, "; IOMMU group %d, whole: %zu functions of several devices\n", group, s->n);
	else if (s->n > 1)
		appendf(out, "; IOMMU group %d: %s, and the %zu other function%s of its card\n", group, line, s->n - 1,
			s->n == 2 ? "" : "s");
	else
		appendf(out, "; IOMMU group %d: %s\n", group, line);
	appendf(out, "[pci %s]\n", s->name);
	for (size_t i = 0; i < s->n; i++) {
		_cleanup_free_ char *desc = description(s->f[i]);

		if (id_shared(g->m, s->f[i]))
			pci_addr_format(&s->f[i]->addr, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "%04x:%04x", s->f[i]->vendor, s->f[i]->device);
		appendf(out, "device = %s  %s\n", a, desc);
	}
	left_out(g, s, &left, &n_left);
	for (size_t i = 0; i < n_left; i++) {
		pci_addr_format(&left[i]->addr, a, sizeof(a));
		appendf(out, "; left out: %s (%s) shares IOMMU group %d but is another device%s\n", a,
			pci_func_name(left[i]), left[i]->iommu_group,
			harmless(left[i]) ? " (it has no host driver: it does not stop the VM)" : "; see vfio-hook --check");
	}
}

/* For each set, the other devices of its group that would keep the hook from starting the VM. */
static void warn_left_out(const struct gen *g)
{
	for (size_t i = 0; i < g->n_sets; i++) {
		_cleanup_free_ const struct pci_func **left = NULL;
		size_t n_left;

		left_out(g, &g->sets[i], &left, &n_left);
		for (size_t k = 0; k < n_left; k++) {
			char a[PCI_ADDR_LEN], b[PCI_ADDR_LEN];

			if (harmless(left[k]))
				continue;
			pci_addr_format(&left[k]->addr, a, sizeof(a));
			pci_addr_format(&g->sets[i].f[0]->addr, b, sizeof(b));
			log_warning("%s (%s) shares IOMMU group %d with %s but is another device, which the host uses (driver "
				    "%s): the hook refuses the VM until the whole group goes; put the card in another slot "
				    "(one whose group is its own), ask for the group by number to give the VM both (vfio-hook "
				    "map %d), or see the ACS override in vfio-hook(8)",
				    a, pci_func_name(left[k]), left[k]->iommu_group, b, left[k]->driver, left[k]->iommu_group);
		}
	}
}

static void gen_clear(struct gen *g)
{
	for (size_t i = 0; i < g->n_sets; i++) {
		free(g->sets[i].f);
		free(g->sets[i].name);
	}
	free(g->sets);
	free(g->libvirt_vm);
}

/* ---- --add VM: the map changed in place ---- */

struct add_check {
	const struct gen *g;
	const char *path; /* the map, as the lines name it */
	const char *vm;
};

/* What a map vfio-hook map begins says of itself. */
#define NEW_MAP_HEADER \
	"; vfio-hook device map: which PCI functions and USB devices each libvirt VM gets (see vfio-hook.ini(5)).\n" \
	"; Begun by \"vfio-hook map\"; \"vfio-hook config\" checks it. Only root may write it (chmod 644).\n"

static void findings_free(char **msgs, int *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(lines);
}

/*
 * The new map as config would check it on this machine: it loads, gives VM every function of
 * the sets, and has no finding the map did not have already. Its lines are those of the map
 * as it would be, said so: the user's file has no such line yet.
 */
static int check_new_map(const char *tmp, void *data)
{
	const struct add_check *a = data;
	_cleanup_free_ char *msg = NULL;
	struct config *c = NULL;
	const struct vm *v;
	char **was = NULL, **now = NULL;
	int *was_lines = NULL, *now_lines = NULL, r = config_load_msg(tmp, &c, &msg);
	size_t n_was = 0, n_now;

	if (r < 0) {
		const char *rest = msg && startswith(msg, tmp) && msg[strlen(tmp)] == ':' ? msg + strlen(tmp) + 1 : NULL;
		int line = 0, used = 0;

		if (rest && sscanf(rest, "%d: %n", &line, &used) == 1 && used)
			rest += used;
		else if (rest)
			rest += strspn(rest, " ");
		log_error("%s: nothing was changed: the map with these additions would be refused%s%.0d: %s", a->path,
			  line ? ", at its line " : "", line, rest ? rest : msg ? msg : "it cannot be read");
		return -EINVAL;
	}
	v = config_find_vm(c, a->vm);
	for (size_t i = 0; v && i < a->g->n_sets; i++)
		for (size_t k = 0; k < a->g->sets[i].n; k++)
			if (!vm_gets(v, a->g->sets[i].f[k])) {
				char s[PCI_ADDR_LEN];

				pci_addr_format(&a->g->sets[i].f[k]->addr, s, sizeof(s));
				log_error("%s: nothing was changed: the map with these additions would not give %s %s", a->path,
					  a->vm, s);
				config_free(c);
				return -EIO;
			}
	if (!v) {
		log_error("%s: nothing was changed: the map with these additions would have no [vm %s]", a->path, a->vm);
		config_free(c);
		return -EIO;
	}
	/* What vfio-hook config says of it on this machine: nothing it did not say of the map before. */
	n_now = resolve_findings(c, a->g->m, &now, &now_lines);
	if (a->g->c)
		n_was = resolve_findings(a->g->c, a->g->m, &was, &was_lines);
	r = 0;
	for (size_t i = 0; i < n_now && n_now > n_was && r == 0; i++) {
		bool old = false;

		for (size_t k = 0; k < n_was && !old; k++)
			old = streq(now[i], was[k]);
		if (!old) {
			log_error("%s: nothing was changed: with these additions, vfio-hook config would warn on this machine, "
				  "at line %d of the result: %s",
				  a->path, now_lines[i], now[i]);
			r = -EIO;
		}
	}
	if (r == 0 && n_now > n_was) {
		log_error("%s: nothing was changed: with these additions, vfio-hook config would warn on this machine, at line "
			  "%d of the result: %s",
			  a->path, now_lines[0], now[0]);
		r = -EIO;
	}
	findings_free(now, now_lines, n_now);
	findings_free(was, was_lines, n_was);
	config_free(c);
	return r;
}

/* Why NAME cannot be written in a [vm NAME] header and read back as NAME, and what to do; NULL when it can. */
static const char *header_problem(const char *name)
{
	_cleanup_free_ char *header = xasprintf("vm %s", name);
	const char *comment = config_header_comment(header);
	size_t n = strlen(name);
	bool bad = !n || isspace((unsigned char)name[0]) || isspace((unsigned char)name[n - 1]) || strchr(name, ']');

	for (const char *p = name; *p && !bad; p++)
		bad = (unsigned char)*p < 0x20 || *p == '/';
	if (bad)
		return "a name with ']', '/', a control character or a space at either end cannot be read back from a [vm "
		       "NAME] header (rename the VM: virsh domrename)";
	if (comment)
		return comment[1] == ';' ? "\" ;\" in a [vm NAME] header begins a comment, so the name cannot be read back "
					   "(rename the VM to a name without \" ;\" or \" #\": virsh domrename)"
					 : "\" #\" in a [vm NAME] header begins a comment, so the name cannot be read back "
					   "(rename the VM to a name without \" ;\" or \" #\": virsh domrename)";
	if (n >= 2 && (name[0] == '"' || name[0] == '\'') && name[n - 1] == name[0])
		return "a name wholly in quotes is read as the name inside them, another VM (rename the VM to a name not "
		       "wholly in quotes: virsh domrename)";
	return NULL;
}

/* Warns when libvirt answers and has no VM of that name: the hook would never act for it. */
static void warn_unknown_vm(const struct config *c, const char *vm)
{
	const char *uri = c ? c->opt.uri : CONFIG_DEFAULT_URI;
	_cleanup_free_ char *why = NULL, *line = NULL;
	const char *near;
	char **names = NULL;
	size_t n = 0;

	if (virt_list_defined(uri, c ? c->opt.timeout : CONFIG_DEFAULT_TIMEOUT, &names, &n, &why) < 0)
		return;
	line = virt_unknown_vm(uri, vm, names, n, &near);
	if (line)
		log_warning("%s; the hook acts only for a [vm] named exactly as libvirt names the VM", line);
	virt_names_free(names, n);
}

/*
 * PATH: the file written; SHOWN: the map as the user named it; TEXT: its text (NULL: none yet);
 * ST: PATH as it was before TEXT was read (EXISTED: it was there).
 */
static int add_to_map(struct gen *g, const char *path, const char *shown, const char *text, bool existed,
		      const struct stat *st)
{
	const struct vm *v = g->add_v;
	const char *eol = map_text_eol(text ? text : "");
	_cleanup_free_ char *sections = NULL, *names = NULL, *vmline = NULL, *out = NULL, *q = NULL;
	struct add_check a = { g, shown, g->add_vm };
	_cleanup_free_ bool *wrote = xcalloc(g->n_sets, sizeof(bool));
	int r;

	for (size_t i = 0; i < g->n_sets; i++) {
		const struct set *s = &g->sets[i];

		if (!s->existing) {
			_cleanup_free_ char *one = NULL;

			print_set(g, s, &one);
			appendf(&sections, "\n; added by vfio-hook map for %s\n%s", g->add_vm, one);
			wrote[i] = true;
		}
		appendf(&names, "%s%s", names ? " " : "", s->existing ? s->existing : s->name);
	}
	warn_unknown_vm(g->c, g->add_vm);
	/* The map's own line ends: a file saved on Windows keeps its CRLF. */
	if (sections) {
		char *fixed = map_text_with_eol(sections, eol);

		free(sections);
		sections = fixed;
	}
	vmline = xasprintf("pci = %s%s", names, eol);
	/* A map that is not there yet, or empty, begins with what it is. */
	out = map_text_insert(text && *text ? text : NEW_MAP_HEADER, v ? v->line : INT_MAX, v ? vmline : "");
	if (sections) {
		char *more = xasprintf("%s%s", out, sections);

		free(out);
		out = more;
	}
	if (!v) {
		char *more = xasprintf("%s%s[vm %s]%s%s", out, *out ? eol : "", g->add_vm, eol, vmline);

		free(out);
		out = more;
	}
	{
		const struct map_write w = { path,
					     shown,
					     out,
					     existed ? (long long)st->st_size : -1,
					     existed ? st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec : 0,
					     existed ? (unsigned long long)st->st_ino : 0,
					     check_new_map,
					     &a };

		r = map_replace(&w);
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < g->n_sets; i++)
		if (wrote[i])
			printf("added [pci %s] (%zu function%s of IOMMU group %d) to %s\n", g->sets[i].name, g->sets[i].n,
			       g->sets[i].n == 1 ? "" : "s", g->sets[i].f[0]->iommu_group, shown);
	printf("added \"pci = %s\" to %s[vm %s] in %s\n", names, v ? "" : "a new ", g->add_vm, shown);
	q = shell_quote(g->add_vm);
	printf("next: vfio-hook doctor, then vfio-hook --check %s before virsh start %s\n", q, q);
	return 0;
}

/* WHAT as the user typed it, quoted for a shell: " 24 09:00.0". */
static char *args_line(const char *const *what, size_t n_what)
{
	char *args = xstrdup("");

	for (size_t i = 0; i < n_what; i++) {
		_cleanup_free_ char *qa = shell_quote(what[i]);

		appendf(&args, " %s", qa);
	}
	return args;
}

/*
 * NixOS builds /etc from its configuration (the map a link into the read-only store, replaced
 * at the next switch): a map in its /etc is changed there, not here. True (logged) when ASKED
 * is one. The root is the suite's under VFIO_HOOK_TEST, as doctor's; with none, the host's own
 * /etc is not looked at.
 */
static bool refuse_nixos(const char *asked, const char *const *what, size_t n_what)
{
	const char *root = display_root();
	_cleanup_free_ char *marker = NULL, *etc = NULL, *where = NULL, *target = NULL, *args = NULL;
	char cwd[PATH_MAX];

	if (getenv("VFIO_HOOK_TEST") && !*root)
		return false;
	marker = xasprintf("%s/etc/NIXOS", root);
	if (faccessat(AT_FDCWD, marker, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	etc = xasprintf("%s/etc/", root);
	where = *asked == '/' || !getcwd(cwd, sizeof(cwd)) ? xstrdup(asked) : xasprintf("%s/%s", cwd, asked);
	target = realpath(asked, NULL);
	if (!startswith(where, etc) && !(target && startswith(target, "/nix/store/")))
		return false;
	args = args_line(what, n_what);
	log_error("%s: this is NixOS, whose /etc is built from its configuration: nothing was written to %s; put what "
		  "vfio-hook map%s prints into services.vfio-hook.settings (pci, vm) in configuration.nix instead, with the "
		  "module in vfio-hook's etc/nixos/",
		  marker, asked, args);
	return true;
}

/*
 * The file --add edits for ASKED: the file a link points to (the link stays), or ASKED. NULL
 * (logged) for a link whose file is not there: a new file would take the link's place.
 */
static char *add_path(const char *asked)
{
	_cleanup_free_ char *target = NULL;
	struct stat st;
	char *real = realpath(asked, NULL);
	int err = errno;
	ssize_t n;

	if (real || lstat(asked, &st) < 0 || !S_ISLNK(st.st_mode))
		return real ? real : xstrdup(asked);
	target = xmalloc(PATH_MAX);
	n = readlink(asked, target, PATH_MAX - 1);
	target[n < 0 ? 0 : n] = '\0';
	log_error("%s is a link to %s, which %s: nothing was changed; mount or restore what it points to, or remove the "
		  "link to begin a new map there",
		  asked, n < 0 ? "?" : target, err == ENOENT ? "is not there" : "cannot be followed");
	return NULL;
}

/* Each set without the functions the --add VM gets already (and none that it gets whole); how many it got whole. */
static size_t drop_had(struct gen *g)
{
	size_t kept = 0, whole = 0;

	for (size_t i = 0; i < g->n_sets; i++) {
		struct set *s = &g->sets[i];
		size_t n = 0;

		for (size_t k = 0; k < s->n; k++)
			if (!vm_gets(g->add_v, s->f[k]))
				s->f[n++] = s->f[k];
		s->had = s->n - n;
		s->n = n;
		if (!n) {
			free(s->f);
			whole++;
			continue;
		}
		g->sets[kept++] = *s;
	}
	g->n_sets = kept;
	return whole;
}

int action_map(const char *cfg_path, const char *const *what, size_t n_what, const char *add_vm)
{
	const char *asked = config_path(cfg_path);
	_cleanup_free_ char *msg = NULL, *real = NULL, *text = NULL, *out = NULL;
	struct gen g = { .add_vm = add_vm };
	struct config *c = NULL;
	struct machine *m = NULL;
	struct stat st = { 0 };
	const char *path = asked;
	bool existed = false;
	int r, lock = -1;

	if (add_vm) {
		const char *why = header_problem(add_vm);

		if (refuse_nixos(asked, what, n_what))
			return -EPERM;
		if (why) {
			log_error("cannot write [vm %s] in the map: %s", add_vm, why);
			return -EINVAL;
		}
		real = add_path(asked);
		if (!real)
			return -ENOENT;
		path = real;
		/* Held until the map is replaced: a second vfio-hook map --add reads what this one wrote. */
		lock = map_lock(path, asked);
		if (lock < 0)
			return lock;
		/* Before it is read: a save by an editor after this is seen when the new map would replace it. */
		existed = stat(path, &st) == 0;
	}
	r = config_load_msg(path, &c, &msg);
	/* No map yet is fine (--add makes it); nor, for printing, a map only root may read. */
	if (r == -EACCES && !add_vm && !cfg_path && !getenv("VFIO_HOOK_CONFIG"))
		log_warning("cannot read %s as this user: the sections are not matched against it (run as root to)", path);
	else if (r < 0 && !(r == -ENOENT && (add_vm || (!cfg_path && !getenv("VFIO_HOOK_CONFIG"))))) {
		if (add_vm && r == -EINVAL && msg && strchr(msg, ':') != strrchr(msg, ':'))
			log_error("%s; fix that first: --add changes only a map config accepts", msg);
		else
			log_error("%s", msg ? msg : "cannot read the map");
		r = -EINVAL;
		goto out;
	}
	if (add_vm && c) {
		text = read_regular(AT_FDCWD, path, 0);
		if (!text) {
			log_error("cannot read %s: %m", path);
			r = -EIO;
			goto out;
		}
	}
	g.c = c;
	if (c)
		machine_set_read_deadline((long)c->opt.timeout * 1000L);
	r = machine_discover(&m);
	if (r < 0)
		goto out;
	g.m = m;
	if (m->n_groups == 0) {
		log_error("%s", machine_iommu_off_hint(m));
		r = -ENODEV;
		goto out;
	}
	for (size_t i = 0; i < n_what && r == 0; i++)
		r = add_what(&g, what[i]);
	if (r < 0)
		goto out;
	/* A VM given part of a card already (by address, or another section) gets the rest, never a function twice. */
	g.add_v = add_vm && c ? config_find_vm(c, add_vm) : NULL;
	if (g.add_v) {
		size_t whole = drop_had(&g);

		if (!g.n_sets) {
			printf("%s already gets %s: nothing to change in %s\n", add_vm, whole == 1 ? "it" : "all of them", asked);
			goto out;
		}
	}
	for (size_t i = 0; i < g.n_sets; i++) {
		g.sets[i].existing = existing_set(&g, &g.sets[i]);
		if (!g.sets[i].existing)
			g.sets[i].name = set_name(&g, &g.sets[i]);
	}
	warn_left_out(&g);
	if (add_vm) {
		r = add_to_map(&g, path, asked, text, existed, &st);
		goto out;
	}
	for (size_t i = 0; i < g.n_sets; i++) {
		if (i)
			appendf(&out, "\n");
		print_set(&g, &g.sets[i], &out);
	}
	if (g.map_vm && n_what == 1) {
		appendf(&out, "; [vm %s] can list them by name: pci =", g.map_vm);
		for (size_t i = 0; i < g.n_sets; i++)
			appendf(&out, " %s", g.sets[i].existing ? g.sets[i].existing : g.sets[i].name);
		appendf(&out, "\n");
	} else if (g.libvirt_vm && !header_problem(g.libvirt_vm)) {
		appendf(&out, "\n[vm %s]\npci =", g.libvirt_vm);
		for (size_t i = 0; i < g.n_sets; i++)
			appendf(&out, " %s", g.sets[i].existing ? g.sets[i].existing : g.sets[i].name);
		appendf(&out, "\n");
	} else {
		_cleanup_free_ char *args = args_line(what, n_what);

		appendf(&out, "; give %s to a VM: vfio-hook map%s --add VM (or list %s under pci = in its [vm] section)\n",
			g.n_sets == 1 ? "it" : "them", args, g.n_sets == 1 ? "its name" : "their names");
	}
	fputs(out, stdout);
out:
	if (lock >= 0)
		close(lock);
	gen_clear(&g);
	machine_free(m);
	config_free(c);
	return r;
}

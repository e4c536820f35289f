/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "plan.h"

#include "claims.h"

#include "child.h"
#include "display.h"
#include "guard.h"
#include "ledger.h"
#include "resolve.h"
#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>
#include <string.h>

void plan_note(char ***arr, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = xstrdup("out of memory");
	va_end(ap);
	*(char **)array_push(arr, n, sizeof(char *)) = s;
}

void plan_unchecked(struct plan *p, enum unchecked how, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (geteuid() != 0) {
		plan_note(&p->warnings, &p->n_warnings, "%s; %s", what ? what : "out of memory", closed_fix());
		p->unsure = true;
	} else if (how == UNCHECKED_ROOT_REFUSES) {
		plan_note(&p->refusals, &p->n_refusals, "%s; refusing rather than guessing (%s)", what ? what : "out of memory",
		    closed_fix());
	} else {
		plan_note(&p->warnings, &p->n_warnings, "%s (%s)", what ? what : "out of memory", closed_fix());
	}
}

static bool harmless_driver(const char *d)
{
	return !d || streq(d, "vfio-pci") || streq(d, "pci-stub");
}

/* How to give this VM function f too, as the user would write it. */
static char *fix_for(const struct config *c, const struct vm *vm, const struct pci_func *f, const struct vm_pci *sibling)
{
	char id[16];

	snprintf(id, sizeof(id), "%04x:%04x", f->vendor, f->device);
	if (sibling && sibling->set)
		return xasprintf("add \"device = %s\" to [pci %s] in %s", id, sibling->set->name, c->path);
	return xasprintf("add %s to \"pci =\" in [vm %s] in %s", id, vm->name, c->path);
}

static bool plan_has(const struct plan *p, const struct pci_func *f)
{
	for (size_t i = 0; i < p->n_funcs; i++)
		if (p->funcs[i].f == f)
			return true;
	return false;
}

/* Is G in the slot of one of the plan's functions: a function of the same card? */
static bool card_of_plan(const struct plan *p, const struct pci_func *g)
{
	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_addr *a = &p->funcs[i].f->addr;

		if (a->domain == g->addr.domain && a->bus == g->addr.bus && a->slot == g->addr.slot)
			return true;
	}
	return false;
}

static void check_group(const struct config *c, struct plan *p, const struct machine *m, int group)
{
	const struct vm_pci *sibling = NULL;

	for (size_t i = 0; i < p->n_funcs && !sibling; i++)
		if (p->funcs[i].f->iommu_group == group)
			sibling = p->funcs[i].ref;
	for (size_t i = 0; i < m->n_funcs; i++) {
		const struct pci_func *g = &m->funcs[i];
		_cleanup_free_ char *fix = NULL;
		char a[PCI_ADDR_LEN];

		if (g->iommu_group != group || pci_func_is_bridge(g) || plan_has(p, g) || harmless_driver(g->driver))
			continue;
		pci_addr_format(&g->addr, a, sizeof(a));
		fix = fix_for(c, p->vm, g, sibling);
		if (card_of_plan(p, g)) {
			plan_note(&p->refusals, &p->n_refusals,
			    "%s (%s) shares IOMMU group %d with this VM's devices but is not mapped: %s", a, pci_func_name(g),
			    group, fix);
			continue;
		}
		/*
		 * Another device the host uses (a chipset function, a card in a slot behind the same
		 * bridge): "map it too" would take it from the host. The user's choices, and what the
		 * ACS override patch does, belong in the same line.
		 */
		plan_note(&p->refusals, &p->n_refusals,
		    "%s (%s, driver %s) shares IOMMU group %d with this VM's devices but is another device, which the host uses "
		    "(the board does not isolate them: no ACS between them, and an IOMMU group goes to a VM whole): put the card "
		    "in another slot (one whose IOMMU group is its own: see vfio-hook groups), give the VM that device too (%s), "
		    "or boot a kernel with the ACS override patch (pcie_acs_override=downstream,multifunction), which splits "
		    "the group by pretending an isolation the hardware does not give: the two can still reach each other's "
		    "memory by DMA, so a guest could read or corrupt the host's",
		    a, pci_func_name(g), g->driver, group, fix);
	}
}

/* Is F in the IOMMU group of a function DOM names? */
static bool group_named(const struct machine *m, const struct domain *dom, const struct pci_func *f)
{
	for (size_t i = 0; i < m->n_funcs; i++)
		if (m->funcs[i].iommu_group == f->iommu_group && f->iommu_group >= 0 && domain_has(dom, &m->funcs[i].addr))
			return true;
	return false;
}

/*
 * An id that matches several functions (identical devices) gives the VM only those its domain
 * XML names, and their IOMMU group siblings; when that leaves none, which one is meant is
 * anybody's guess: refused, with the addresses to pin.
 */
static void drop_ambiguous(const struct config *c, const struct machine *m, const struct domain *dom, struct plan *p)
{
	for (size_t k = 0; k < p->vm->n_pci; k++) {
		const struct pci_entry *e = p->vm->pci[k].entry;
		char id[PCI_ADDR_LEN], list[512] = "";
		size_t n = 0, kept = 0, len = 0;

		if (e->sel.is_addr)
			continue;
		for (size_t i = 0; i < p->n_funcs; i++)
			n += p->funcs[i].ref->entry == e;
		if (n < 2)
			continue;
		for (size_t i = 0; i < p->n_funcs;) {
			const struct pci_func *f = p->funcs[i].f;
			char a[PCI_ADDR_LEN];

			if (p->funcs[i].ref->entry != e) {
				i++;
				continue;
			}
			pci_addr_format(&f->addr, a, sizeof(a));
			if (len < sizeof(list))
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", a);
			if (dom && (domain_has(dom, &f->addr) || group_named(m, dom, f))) {
				kept++;
				i++;
				continue;
			}
			memmove(&p->funcs[i], &p->funcs[i + 1], (p->n_funcs - i - 1) * sizeof(*p->funcs));
			p->n_funcs--;
		}
		if (kept)
			continue;
		pci_sel_format(&e->sel, id, sizeof(id));
		plan_note(&p->refusals, &p->n_refusals,
		    "%s (%s:%d) matches %zu functions (%s) and the domain XML names none of them: pin the one to pass "
		    "through by its address (device = ADDRESS) and add it to the domain XML",
		    id, c->path, e->line, n, list);
	}
}

/*
 * A needed function another VM owns in the ledger: fine when that VM runs (the holders say
 * whether it uses it, and the eviction takes it); refused when it does not, for it may be
 * starting (libvirt writes its status file only after the prepare hook) or stopped without
 * vfio-hook seeing it.
 */
/*
 * What a running VM uses through F without F being in its IOMMU group: a virtual function of
 * F (unbinding a PF's driver disables SR-IOV, tearing its VFs out of their VMs) or a mediated
 * device (vGPU) that lives on F's driver. Says which, or NULL.
 */
static char *used_through(const struct pci_func *f, const struct holders *h, const char *self)
{
	DIR *d = opendir(f->syspath);
	const struct dirent *e;
	const char *user = holders_mdev_parent(h, &f->addr, self);
	char *why = user ? xasprintf("the running VM %s uses a mediated device (vGPU) of it: shut %s down first", user,
				     user)
			 : NULL;

	while (!why && d && (e = readdir(d))) {
		_cleanup_free_ char *link = NULL;
		char target[PATH_MAX];
		struct pci_addr vf;

		if (!startswith(e->d_name, "virtfn"))
			continue;
		link = xasprintf("%s/%s", f->syspath, e->d_name);
		if (!realpath(link, target))
			continue;
		if (pci_addr_parse(strrchr(target, '/') ? strrchr(target, '/') + 1 : target, &vf) < 0)
			continue;
		user = holders_find(h, &vf, self);
		if (user) {
			char a[PCI_ADDR_LEN];

			pci_addr_format(&vf, a, sizeof(a));
			why = xasprintf("the running VM %s uses its SR-IOV virtual function %s, which goes with its driver: "
					"shut %s down first",
					user, a, user);
		}
	}
	if (d)
		closedir(d);
	return why;
}

static void check_owner(struct plan *p, const struct machine *m, const struct holders *h, const struct ledger *l,
			const char *giver, const struct pci_func *o)
{
	const struct ledger_func *e = l ? ledger_func(l, &o->addr) : NULL;
	const struct ledger_vm *v;
	_cleanup_free_ char *q = NULL, *qi = NULL;
	char a[PCI_ADDR_LEN];

	/*
	 * A running VM's hot-plug libvirt has not answered (step-plug.c) may land any time: what it
	 * may get, and its IOMMU group, is no other VM's to take, and cannot be unplugged yet.
	 */
	for (size_t i = 0; l && i < l->n_funcs; i++) {
		const struct ledger_func *x = &l->funcs[i];
		const struct pci_func *xf = x->plugging && x->owner ? machine_find(m, &x->addr) : NULL;
		const struct ledger_vm *xv = xf ? ledger_vm(l, x->owner) : NULL;
		const struct domain *d = xf ? holders_running(h, x->owner, xv ? xv->uuid : NULL) : NULL;

		if (d && !domain_has(d, &x->addr) && !streq(x->owner, p->vm->name) && xf->iommu_group == o->iommu_group) {
			_cleanup_free_ char *qx = shell_quote(x->owner);
			char xa[PCI_ADDR_LEN];

			pci_addr_format(&o->addr, a, sizeof(a));
			pci_addr_format(&x->addr, xa, sizeof(xa));
			plan_note(&p->refusals, &p->n_refusals,
			    "%s (%s): libvirt has not answered the hot-plug of %s into the running VM %s, which may get it any "
			    "time: start again once 'vfio-hook status' no longer says \"hot-plug unanswered\", or shut %s down (virsh "
			    "shutdown %s)",
			    a, pci_func_name(o), xa, x->owner, x->owner, qx);
			return;
		}
	}
	/* Its own, or the VM's that is letting go of it (a give-back at that VM's release). */
	if (!e || (e->owner && (streq(e->owner, p->vm->name) || (giver && streq(e->owner, giver)))))
		return;
	/* A damaged line about a function that is on its host driver now describes nothing that holds. */
	if (e->bad && !streq(o->driver, "vfio-pci"))
		return;
	pci_addr_format(&o->addr, a, sizeof(a));
	if (!e->owner) {
		plan_note(&p->refusals, &p->n_refusals,
		    "%s (%s) has a damaged entry in %s: check it, then run 'vfio-hook restore --all' to give it back", a,
		    pci_func_name(o), ledger_path());
		return;
	}
	v = ledger_vm(l, e->owner);
	if (holders_running(h, e->owner, v ? v->uuid : NULL))
		return;
	/*
	 * This start just took this IOMMU group from it, and it shut down: what it owned in the group
	 * is this VM's to take (its late release waits on our lock, then finds nothing of its own).
	 */
	for (size_t i = 0; i < l->n_took; i++) {
		const struct ledger_took *t = &l->took[i];
		const struct pci_func *tf = machine_find(m, &t->addr);

		if (!t->pending && streq(t->owner, p->vm->name) && streq(t->from, e->owner) && tf &&
		    tf->iommu_group == o->iommu_group)
			return;
	}
	if (e->bad) {
		plan_note(&p->refusals, &p->n_refusals,
		    "%s (%s) has a damaged entry in %s naming %s, which is not running: check it, then run 'vfio-hook "
		    "restore --all' to give it back",
		    a, pci_func_name(o), ledger_path(), e->owner);
		return;
	}
	q = shell_quote(e->owner);
	qi = shell_quote_inner(e->owner);
	plan_note(&p->refusals, &p->n_refusals,
	    "%s (%s) belongs to %s, which is starting or stopped without vfio-hook seeing it: if %s is not running "
	    "(virsh domstate %s), run 'vfio-hook restore %s', then try again",
	    a, pci_func_name(o), e->owner, e->owner, q, qi);
}

/* A function of the group that a driver operation holds in the kernel: nothing can move it now. */
static void check_stuck(struct plan *p, const struct machine *m, int group)
{
	for (size_t i = 0; i < m->n_funcs; i++) {
		const struct pci_func *g = &m->funcs[i];
		char a[PCI_ADDR_LEN];

		if (g->iommu_group != group || !g->stuck)
			continue;
		pci_addr_format(&g->addr, a, sizeof(a));
		plan_note(&p->refusals, &p->n_refusals,
		    "a driver operation on %s is stuck in the kernel (%s, IOMMU group %d: an unbind is waiting for whatever "
		    "uses the device to let go; see dmesg): try again once it finishes",
		    a, pci_func_name(g), group);
	}
}

/* The host's display on F: refused, or handed over first (host-display = handoff). */
static void check_display(const struct config *c, struct plan *p, const struct pci_func *f, const struct holders *h)
{
	struct display_cfg dc = vm_display(c, p->vm);
	const struct display_proc *q;
	struct display_use u;
	char a[PCI_ADDR_LEN];
	int r;

	pci_addr_format(&f->addr, a, sizeof(a));
	r = display_detect(f, h, now_ms() + (long)c->opt.timeout * 1000L, &u);
	/* Drives the display or not: one of them may be a running VM's QEMU, or the one to wait for. */
	if (r >= 0 && u.n_closed)
		plan_unchecked(p, UNCHECKED_ROOT_WARNS, "%s (%s): the open files of %zu %s cannot be looked at: which of them use its nodes (the host's "
				  "display, a running VM's QEMU) is not checked",
			       a, pci_func_name(f), u.n_closed, u.n_closed == 1 ? "process" : "processes");
	if (r == 0)
		return;
	if (r < 0) {
		plan_note(&p->refusals, &p->n_refusals,
		    "cannot tell whether %s (%s) drives the host's display: reading %s did not finish in time (the kernel's "
		    "console lock is held; see dmesg): try again once it answers",
		    a, pci_func_name(f), u.stuck);
		display_use_clear(&u);
		return;
	}
	/* A QEMU among its users: never signalled, so F cannot be handed over while it runs. */
	if ((q = display_qemu_user(&u))) {
		if (q->vm >= 0)
			plan_note(&p->refusals, &p->n_refusals,
			    "%s (%s) is used by the running VM %s (its QEMU, pid %ld, has %s open): shut %s down first, or give it "
			    "another GPU to render on",
			    a, pci_func_name(f), u.vms[q->vm].name, q->pid, q->node, u.vms[q->vm].name);
		else
			plan_note(&p->refusals, &p->n_refusals,
			    "%s (%s) is used by a QEMU that is no VM of libvirt's system instance (pid %ld, has %s open: a "
			    "qemu:///session VM, or one started by hand): shut it down first, or give it another GPU to render on",
			    a, pci_func_name(f), q->pid, q->node);
		display_use_clear(&u);
		return;
	}
	if (!dc.handoff) {
		_cleanup_free_ char *desc = display_describe(&u), *unit = display_manager_unit(&dc);

		plan_note(&p->refusals, &p->n_refusals,
		    "%s (%s) drives the host's display (%s): set host-display = handoff in [vm %s] to let vfio-hook stop %s "
		    "while %s runs, or give the host another GPU",
		    a, pci_func_name(f), desc, p->vm->name, unit, p->vm->name);
		display_use_clear(&u);
		return;
	}
	if (!p->display) {
		p->display = xcalloc(1, sizeof(*p->display));
		p->display->cfg = dc;
		p->display->manager = display_manager_unit(&dc);
	}
	*(struct display_use *)array_push(&p->display->uses, &p->display->n_uses, sizeof(u)) = u;
}

int plan_build(const struct plan_in *in, struct plan *ret)
{
	const struct config *c = in->c;
	const struct vm *vm = in->vm;
	const struct machine *m = in->m;
	const struct holders *h = in->h;
	const struct ledger *l = in->l;
	const struct domain *dom = in->dom;
	struct plan p = { .vm = vm, .policy = in->policy };
	int *groups = NULL;
	size_t n_groups = 0;

	for (size_t i = 0; i < m->n_funcs; i++) {
		const struct pci_func *f = &m->funcs[i];
		const struct vm_pci *ref = vm_gets(vm, f);
		struct plan_func *pf;

		if (!ref)
			continue;
		pf = array_push(&p.funcs, &p.n_funcs, sizeof(*pf));
		*pf = (struct plan_func){ .f = f, .ref = ref, .already = streq(f->driver, "vfio-pci") };
	}
	for (size_t k = 0; k < vm->n_pci; k++) {
		const struct pci_entry *e = vm->pci[k].entry;
		bool found = false;
		char id[PCI_ADDR_LEN];

		for (size_t i = 0; i < p.n_funcs && !found; i++)
			found = pci_sel_matches(&e->sel, p.funcs[i].f);
		if (found)
			continue;
		pci_sel_format(&e->sel, id, sizeof(id));
		plan_note(&p.warnings, &p.n_warnings, "%s:%d: %s matches no PCI function on this machine", c->path, e->line, id);
	}
	drop_ambiguous(c, m, dom, &p);
	if (p.n_funcs == 0 && vm->n_pci > 0 && p.n_refusals == 0)
		plan_note(&p.refusals, &p.n_refusals,
		    "none of the PCI devices mapped to it is on this machine (check the ids in %s with 'vfio-hook config')",
		    c->path);

	if (h && h->closed)
		plan_unchecked(&p, UNCHECKED_ROOT_REFUSES, "libvirt's status files of running VMs in %s cannot be read: which devices running VMs use is not "
				   "checked",
			       holders_dir());
	for (size_t i = 0; i < p.n_funcs; i++) {
		const struct pci_func *f = p.funcs[i].f;

		if ((f->class >> 16) != 0x03 || p.funcs[i].already)
			continue;
		if (display_iomem_blind()) {
			char a[PCI_ADDR_LEN];

			pci_addr_format(&f->addr, a, sizeof(a));
			plan_unchecked(&p, UNCHECKED_ROOT_WARNS,
				       "/proc/iomem does not show its addresses to this process: whether a firmware framebuffer lies in "
				       "%s's BARs (the host's display) is not checked",
				       a);
		}
		break;
	}
	for (size_t i = 0; i < p.n_funcs; i++) {
		const struct pci_func *f = p.funcs[i].f;
		_cleanup_free_ char *why = NULL, *unchecked = NULL;
		char a[PCI_ADDR_LEN];
		bool seen = false;

		pci_addr_format(&f->addr, a, sizeof(a));
		if (pci_func_is_bridge(f)) {
			plan_note(&p.refusals, &p.n_refusals,
			    "%s (%s) is a PCI bridge and cannot be passed through: remove it from the map (%s:%d)", a,
			    pci_func_name(f), c->path, p.funcs[i].ref->entry->line);
			continue;
		}
		if (f->iommu_group < 0) {
			plan_note(&p.refusals, &p.n_refusals,
			    "%s (%s) has no IOMMU group: the IOMMU is off or does not cover it (see 'vfio-hook groups')", a,
			    pci_func_name(f));
			continue;
		}
		if (!p.funcs[i].already)
			check_display(c, &p, f, h);
		why = p.funcs[i].already ? NULL : guard_check(f, h, &unchecked);
		if (!why && unchecked)
			plan_unchecked(&p, UNCHECKED_ROOT_REFUSES, "%s (%s): %s", a, pci_func_name(f), unchecked);
		if (!why)
			why = used_through(f, h, vm->name);
		if (why)
			plan_note(&p.refusals, &p.n_refusals, "%s (%s): %s", a, pci_func_name(f), why);
		if (dom && !domain_has(dom, &f->addr)) {
			_cleanup_free_ char *hd = pci_hostdev_xml(&f->addr, false);

			plan_note(&p.warnings, &p.n_warnings, "%s (%s) is mapped to %s but not in its domain XML; to pass it through add: %s",
			    a, pci_func_name(f), vm->name, hd);
		}
		for (size_t g = 0; g < n_groups && !seen; g++)
			seen = groups[g] == f->iommu_group;
		if (!seen)
			*(int *)array_push(&groups, &n_groups, sizeof(int)) = f->iommu_group;
	}
	/* First: nothing else about a group matters while the kernel holds one of its functions. */
	for (size_t g = 0; g < n_groups; g++)
		check_stuck(&p, m, groups[g]);
	for (size_t g = 0; g < n_groups; g++) {
		check_group(c, &p, m, groups[g]);
		/* Any function of the group held by a running domain, ours or a sibling, blocks the group. */
		for (size_t i = 0; i < m->n_funcs; i++) {
			const struct pci_func *o = &m->funcs[i];
			const char *holder;
			char a[PCI_ADDR_LEN], where[32] = "";

			if (o->iommu_group != groups[g])
				continue;
			check_owner(&p, m, h, l, in->giver, o);
			holder = holders_find(h, &o->addr, vm->name);
			if (!holder)
				continue;
			if (p.policy != EVICT_REFUSE) {
				struct eviction *e = array_push(&p.evictions, &p.n_evictions, sizeof(*e));

				*e = (struct eviction){ holder, holders_get(h, holder), domain_hostdev(holders_get(h, holder), &o->addr), o };
				continue;
			}
			pci_addr_format(&o->addr, a, sizeof(a));
			if (!plan_has(&p, o))
				snprintf(where, sizeof(where), " in IOMMU group %d", groups[g]);
			if (config_find_vm(c, vm->name) == vm) {
				_cleanup_free_ char *q = shell_quote(holder);

				plan_note(&p.refusals, &p.n_refusals,
				    "%s (%s)%s is in use by the running VM %s and evict = refuse: shut %s down first (virsh "
				    "shutdown %s), or set evict = detach in [vm %s] of %s",
				    a, pci_func_name(o), where, holder, holder, q, vm->name, c->path);
			} else { /* a swap by hand */
				plan_note(&p.refusals, &p.n_refusals,
				    "%s (%s)%s is in use by the running VM %s and evict = refuse: shut %s down first, or add "
				    "--force to have swap shut it down",
				    a, pci_func_name(o), where, holder, holder);
			}
		}
	}
	free(groups);
	*ret = p;
	return 0;
}

void plan_problem_line(const struct plan *p, char *buf, size_t n)
{
	if (p->n_refusals > 1) {
		_cleanup_free_ char *q = shell_quote_inner(p->vm->name);

		snprintf(buf, n, "%s (and %zu more problems: run 'vfio-hook --check %s')", p->refusals[0], p->n_refusals - 1, q);
	} else {
		snprintf(buf, n, "%s", p->n_refusals ? p->refusals[0] : "");
	}
}

long plan_hold_ms(const struct plan *p, unsigned timeout_s)
{
	/* The eviction's wait, then per function its three writes, and as many again to roll back. */
	return (long)timeout_s * 1000L * (long)(2 + 4 * p->n_evictions + 6 * p->n_funcs) +
	       display_plan_hold_ms(p->display, timeout_s);
}

void plan_clear(struct plan *p)
{
	claims_plan_free(p->claims);
	for (size_t i = 0; i < p->n_refusals; i++)
		free(p->refusals[i]);
	for (size_t i = 0; i < p->n_warnings; i++)
		free(p->warnings[i]);
	free(p->refusals);
	free(p->warnings);
	free(p->funcs);
	free(p->evictions);
	display_plan_free(p->display);
	*p = (struct plan){ 0 };
}

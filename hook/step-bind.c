/* SPDX-License-Identifier: MIT */
/*
 * The engine's bind step: each function of the take to vfio-pci (bind.h), its ledger entry
 * (owner, what it was on) saved before its first write; and its give: a VM's functions back to
 * what they were on, except what a running VM uses (that becomes the running VM's), never to
 * no driver.
 */
#define _GNU_SOURCE
#include "bind.h"

#include "log.h"
#include "step.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <string.h>

static bool bind_needed(const struct take *t)
{
	for (size_t i = 0; i < t->p.n_funcs; i++)
		if (!t->p.funcs[i].already)
			return true;
	return false;
}

/* Records every function to move (an entry this VM's cut-short start left keeps what it was on before). */
static void record(struct take *t)
{
	struct ledger *l = &t->w->l;
	const char *vm = t->q->vm;

	for (size_t i = 0; i < t->p.n_funcs; i++) {
		const struct pci_func *f = t->p.funcs[i].f;
		struct ledger_func *e;
		bool fresh = false;
		size_t n;

		if (t->p.funcs[i].already)
			continue;
		/* Any other entry (damaged, or another VM's about a function not on vfio-pci) is stale: what is there now counts. */
		e = ledger_func(l, &f->addr);
		if (!e || e->bad || !e->owner || !streq(e->owner, vm)) {
			e = ledger_claim(l, &f->addr, vm);
			bind_record(e, f);
			fresh = true;
		}
		n = t->n_moving;
		e->moved = false;
		*(bool *)array_push(&t->fresh, &n, sizeof(bool)) = fresh;
		*(struct pci_addr *)array_push(&t->moving, &t->n_moving, sizeof(f->addr)) = f->addr;
	}
}

static int bind_run(struct take *t)
{
	struct ledger *l = &t->w->l;
	const char *vm = t->q->vm;
	unsigned timeout_s = t->w->cfg->opt.timeout;
	size_t total;
	int r;

	for (size_t i = total = 0; i < t->p.n_funcs; i++)
		total += !t->p.funcs[i].already;
	if (!total)
		return 0;
	/* Before anything is recorded: what an earlier start of this VM left stays as it was. */
	r = bind_vfio_loaded(timeout_s);
	if (r < 0)
		return r; /* its line is logged */
	record(t);
	/* Recorded before the first write, so a crash at any point can be undone. */
	r = ledger_save(l);
	if (r < 0) {
		snprintf(t->what, sizeof(t->what), "cannot record the functions to move in %s", ledger_path());
		t->n_moving = 0;
		return r;
	}
	for (size_t i = 0, k = 0; i < t->p.n_funcs; i++) {
		const struct pci_func *f = t->p.funcs[i].f;
		char a[PCI_ADDR_LEN], why[256];

		if (t->p.funcs[i].already)
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		r = bind_vfio(f, timeout_s, why, sizeof(why));
		if (r == 0) {
			ledger_func(l, &f->addr)->moved = true;
			r = ledger_save(l);
			snprintf(why, sizeof(why), "cannot record it in %s", ledger_path());
		}
		if (r < 0) {
			/* Those after it were never touched: forgotten, unless this VM's earlier run recorded them. */
			for (size_t j = k + 1; j < t->n_moving; j++)
				if (t->fresh[j])
					ledger_drop(l, &t->moving[j]);
			/* The failed one is undone too (its first writes may have happened), unless the kernel holds it. */
			t->n_moving = k + 1;
			t->stuck = r == -ETIMEDOUT;
			snprintf(t->what, sizeof(t->what), "%s (%s): %s", a, pci_func_name(f), why);
			if (t->q->why_at)
				snprintf(t->q->why_at, PCI_ADDR_LEN, "%s", a);
			return r;
		}
		t->n_moved = ++k;
		log_info("%s: moved %s (%s) from %s to vfio-pci", vm, a, pci_func_name(f), f->driver ? f->driver : "no driver");
	}
	return 0;
}

/* What this take moved goes back, the last first; one the kernel holds stays for restore. */
static bool bind_undo(struct take *t)
{
	struct give_req rq;
	struct give g;
	bool all;

	if (!t->n_moving)
		return !t->stuck;
	take_undo_give(t, t->moving, t->stuck ? t->n_moved : t->n_moving, &rq, &g);
	step_bind.give(&g);
	all = !g.left && !t->stuck;
	take_undo_give_end(&g);
	return all;
}

/* A stays on vfio-pci for the running VM D: D's, so that D's release gives it back. */
static void hand_to_user(struct ledger *l, const struct ledger_func *e, const struct domain *d)
{
	if (!ledger_vm(l, d->name))
		ledger_vm_add(l, d->name, d->uuid)->started = true;
	ledger_claim(l, &e->addr, d->name);
}

/*
 * The running domain that uses A, or another function of A's IOMMU group: either way A must
 * stay on vfio-pci (a group is usable only while every endpoint in it is). *ret_group: the
 * group, when that is why.
 */
static const struct domain *group_user(const struct holders *h, const struct pci_addr *a, int *ret_group)
{
	const char *direct = holders_find(h, a, NULL);
	int g = -1;

	*ret_group = -1;
	if (direct)
		return holders_get(h, direct);
	for (size_t i = 0; i < h->n; i++)
		for (size_t k = 0; k < h->doms[i].n_hostdevs; k++) {
			if (g < 0 && (g = bind_group_of(a)) < 0)
				return NULL;
			if (bind_group_of(&h->doms[i].hostdevs[k].addr) == g) {
				*ret_group = g;
				return &h->doms[i];
			}
		}
	return NULL;
}

/* Another function O of E's IOMMU group, recorded as a VM's that keeps E's group (a predicate). */
typedef bool (*keeps_group_fn)(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
			       const struct ledger_func *o);

/* The owner of the first function of E's IOMMU group that KEEPS says keeps it, or NULL (its group in *RET_GROUP). */
static const char *group_kept_by(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
				 keeps_group_fn keeps, int *ret_group)
{
	int g = -1;

	*ret_group = -1;
	for (size_t i = 0; i < l->n_funcs; i++) {
		const struct ledger_func *o = &l->funcs[i];

		if (o == e || !o->owner || !keeps(l, h, e, o))
			continue;
		if (g < 0 && (g = bind_group_of(&e->addr)) < 0)
			return NULL;
		if (bind_group_of(&o->addr) == g) {
			*ret_group = g;
			return o->owner;
		}
	}
	return NULL;
}

/*
 * O's owner is starting: between its prepare and libvirt's status file (a VM that took the group
 * from E's owner by shutting it down, whose late release this is), when nothing but the ledger
 * can say what it will use. A VM that runs uses what its status file says (group_user), whatever
 * the ledger says it owns: its prepare may have moved a function its domain does not have.
 */
static bool starting_with(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
			  const struct ledger_func *o)
{
	const struct ledger_vm *v = ledger_vm(l, o->owner);

	return !(e->owner && streq(o->owner, e->owner)) && !holders_get(h, o->owner) && v && !v->started;
}

/*
 * O's owner runs, and its hot-plug of O went unanswered (step-plug.c): its status file does not
 * list it yet, but libvirt may plug it any time. What it may get, and its group, is never
 * unbound or given to another: the group must be whole on vfio-pci when the plug lands.
 */
static bool plugging_into(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
			  const struct ledger_func *o)
{
	(void)l;
	(void)e;
	return o->plugging && holders_get(h, o->owner);
}

/* A VM starting with another function of E's IOMMU group: its name, or NULL. */
static const char *group_owner(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
			       int *ret_group)
{
	return group_kept_by(l, h, e, starting_with, ret_group);
}

/* A running VM that may get E, or another function of E's IOMMU group, any time: its name, or NULL. */
static const char *plug_owner(const struct ledger *l, const struct holders *h, const struct ledger_func *e,
			      int *ret_group)
{
	*ret_group = -1;
	if (e->owner && plugging_into(l, h, e, e))
		return e->owner;
	return group_kept_by(l, h, e, plugging_into, ret_group);
}

/*
 * E stays on vfio-pci for a VM: one a failed move left on no driver goes there now (nothing is
 * unbound: it has none), never left driverless. False, with why, when vfio-pci did not take it.
 */
static bool keep_on_vfio(const struct ledger_func *e, unsigned timeout_s, char *why, size_t n)
{
	char cur[64];

	if (sysfs_driver(&e->addr, cur, sizeof(cur)) < 0 || *cur)
		return true;
	return bind_vfio_addr(&e->addr, timeout_s, why, n) == 0;
}

/* E stays on vfio-pci, TO's from now on (another VM's), for WHY_KEPT: one line, and the record. */
static void hand_over(struct ledger *l, struct ledger_func *e, const char *who, const char *a, const char *to,
		      const char *why_kept)
{
	_cleanup_free_ char *name = xstrdup(to); /* TO may be another entry's owner */

	log_info("%s: %s stays on vfio-pci: %s; it is %s's to give back now", who, a, why_kept, name);
	ledger_claim(l, &e->addr, name);
}

/* What E was on, for the lines. */
static const char *was(const struct ledger_func *e)
{
	return !e->known ? "its driver" : *e->driver ? e->driver : "no driver";
}

/*
 * Gives the functions the give names back to what they were on, the last moved first; never
 * one that a running domain uses, its owner included: unbinding it blocks in the kernel, and
 * takes the device from under the VM. Given-back entries leave the ledger, which is saved.
 */
static void bind_give(struct give *g)
{
	struct ledger *l = &g->w->l;
	unsigned timeout_s = g->w->cfg->opt.timeout;
	int prio = g->q->prio;

	for (size_t i = l->n_funcs; i-- > 0;) {
		struct ledger_func *e = &l->funcs[i];
		const char *who = e->owner ? e->owner : "(unreadable owner)";
		const struct domain *user;
		const char *owner, *plug;
		char a[PCI_ADDR_LEN], why[512];
		int group;

		if (!give_wants(g, &e->addr, e->owner))
			continue;
		pci_addr_format(&e->addr, a, sizeof(a));
		user = group_user(&g->h, &e->addr, &group);
		plug = user ? NULL : plug_owner(l, &g->h, e, &group);
		owner = user ? user->name : plug ? plug : group_owner(l, &g->h, e, &group);
		if (owner && !keep_on_vfio(e, timeout_s, why, sizeof(why))) {
			log_msg(prio, "%s: %s stays recorded, with no driver: %s %s IOMMU group %d, and vfio-pci did not take it: "
				"%s (run 'vfio-hook restore %s' once %s stopped)", who, a, owner,
				user ? "uses its" : plug ? "is being hot-plugged with its" : "is starting with",
				group < 0 ? bind_group_of(&e->addr) : group, why, e->owner ? e->owner : "--all", owner);
			g->left = true;
			continue;
		}
		if (plug && e->owner && streq(plug, e->owner)) {
			log_msg(prio, "%s: %s stays on vfio-pci: libvirt has not answered the hot-plug of %s into the running VM "
				"%s, which may get it any time (%s's stop gives it back if it never does)", who, a,
				group < 0 ? "it" : "its IOMMU group", plug, plug);
			g->left = true;
			continue;
		}
		if (plug) {
			_cleanup_free_ char *why_kept =
				xasprintf("libvirt may still plug IOMMU group %d into the running VM %s", group, plug);

			hand_over(l, e, who, a, plug, why_kept);
			continue;
		}
		if (user && e->owner && streq(user->name, e->owner)) {
			if (domain_has(user, &e->addr))
				e->plugging = false; /* libvirt's plug landed */
			if (group < 0)
				log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses it (shut %s down first)", who, a,
					user->name, user->name);
			else
				log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses IOMMU group %d (shut %s down first)",
					who, a, user->name, group, user->name);
			g->left = true;
			continue;
		}
		if (user) {
			log_info("%s: %s stays on vfio-pci: the running VM %s uses %s; it is %s's to give back now", who, a,
				 user->name, group < 0 ? "it" : "its IOMMU group", user->name);
			hand_to_user(l, e, user);
			continue;
		}
		if (owner) {
			_cleanup_free_ char *why_kept = xasprintf("%s, which is starting, owns IOMMU group %d", owner, group);

			hand_over(l, e, who, a, owner, why_kept);
			continue;
		}
		_cleanup_free_ char *arg = shell_quote_inner(e->owner ? e->owner : "--all");

		switch (bind_host(e, timeout_s, why, sizeof(why))) {
		case BIND_HOST:
			log_info("%s: gave %s back to %s", who, a,
				 !e->known ? "the driver the kernel chose" : *e->driver ? e->driver : "no driver");
			ledger_drop(l, &e->addr);
			continue;
		case BIND_GONE:
			log_msg(LOG_NOTICE, "%s: %s %s: its record is dropped", who, a, why);
			ledger_drop(l, &e->addr);
			continue;
		case BIND_VFIO:
			e->moved = true;
			log_msg(prio, "%s: %s could not go back to %s: %s; it is on vfio-pci again (it stays recorded: run "
				"'vfio-hook restore %s' once the cause is gone)", who, a, was(e), why, arg);
			break;
		case BIND_NONE:
		case BIND_STUCK:
			log_msg(prio, "%s: %s could not go back to %s: %s (it stays recorded: run 'vfio-hook restore %s' once "
				"the cause is gone)", who, a, was(e), why, arg);
			break;
		}
		g->left = true;
	}
	if (ledger_save(l) < 0)
		g->left = true;
}

static void bind_describe(const struct plan *p, FILE *out)
{
	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		char a[PCI_ADDR_LEN];

		pci_addr_format(&f->addr, a, sizeof(a));
		if (p->funcs[i].already)
			fprintf(out, "  keep %s (%s): already on vfio-pci, IOMMU group %d\n", a, pci_func_name(f),
				f->iommu_group);
		else
			fprintf(out, "  move %s (%s): %s -> vfio-pci, IOMMU group %d\n", a, pci_func_name(f),
				f->driver ? f->driver : "no driver", f->iommu_group);
	}
}

const struct step step_bind = {
	.name = "bind",
	.needed = bind_needed,
	.run = bind_run,
	.undo = bind_undo,
	.give = bind_give,
	.describe = bind_describe,
	.undone = "; every device was put back on its driver",
	.left = STEP_LEFT,
};

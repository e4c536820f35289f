/* SPDX-License-Identifier: MIT */
/*
 * The engine's hugepage step (claims.h): for each pool a starting VM's memory comes from, its
 * claim is recorded (how many it uses, how many the pool is raised by), then the pool is raised
 * by what it needs beyond what is free, read back, and where the kernel gives fewer pages, the
 * caches are dropped and memory compacted between a few more tries. Short at the end: the pool
 * goes back to what it was, and the start is refused with how many pages were missing. Its give
 * lowers each pool by exactly what was added for the VM, never below what others still use, nor
 * below what the pool had before the first claim raised it ("pool" in the ledger, recorded
 * before that raise); the last claim on a pool to go lowers it back to that, whatever races
 * between starts and stops made of the claims' counts.
 */
#define _GNU_SOURCE
#include "claims.h"
#include "log.h"
#include "step.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <string.h>

/* Tries to raise a pool: the first, and after each time the caches were dropped and memory compacted. */
#define POOL_TRIES 3

static int write_count(const char *path, unsigned long v, unsigned timeout_s)
{
	char s[32];

	snprintf(s, sizeof(s), "%lu", v);
	return sysfs_write(path, s, timeout_s);
}

/* Sets the pool's size to WANT and reads what it has then (*GOT). */
static int pool_set(const char *nr, unsigned long want, unsigned timeout_s, unsigned long *got)
{
	int r = write_count(nr, want, timeout_s);

	/* The kernel stops short of WANT without an error when it runs out of memory: the count says. */
	if (r < 0 && r != -ENOMEM)
		return r;
	return host_read_number(nr, timeout_s, got);
}

/* What the kernel can do to find more pages: free the page cache, then compact what is left. */
static void make_room(unsigned timeout_s)
{
	_cleanup_free_ char *drop = host_file("/proc/sys/vm/drop_caches"), *compact = host_file("/proc/sys/vm/compact_memory");

	sysfs_write(drop, "3", timeout_s);
	sysfs_write(compact, "1", timeout_s);
}

/* Pages of other VMs' claims on the pool that their QEMU may not have taken yet (starting). */
static unsigned long pending(const struct ledger *l, const struct ledger_pages *p)
{
	unsigned long n = 0;

	for (size_t i = 0; i < l->n_pages; i++) {
		const struct ledger_pages *o = &l->pages[i];
		const struct ledger_vm *v = ledger_vm(l, o->owner);

		if (o != p && o->size_kib == p->size_kib && (o->node == p->node || o->node < 0 || p->node < 0) &&
		    (!v || !v->started))
			n += o->pages;
	}
	return n;
}

/*
 * The pool of SIZE_KIB on NODE went from FROM to TO by vfio-hook's write: its record says so, and
 * a node's pool moves the pool of all nodes by as much (the kernel's count is the nodes' sum).
 */
static void pool_written(struct ledger *l, unsigned long long size_kib, int node, unsigned long from, unsigned long to)
{
	struct ledger_pool *p = ledger_pool(l, size_kib, node), *all = node >= 0 ? ledger_pool(l, size_kib, -1) : NULL;

	if (p)
		p->set = to;
	if (all)
		all->set = to >= from ? all->set + (to - from) : all->set > from - to ? all->set - (from - to) : 0;
}

/* Is there a claim on the pool of SIZE_KIB on NODE, other than BUT (may be NULL)? */
static bool pages_on(const struct ledger *l, unsigned long long size_kib, int node, const struct ledger_pages *but)
{
	for (size_t i = 0; i < l->n_pages; i++)
		if (&l->pages[i] != but && l->pages[i].size_kib == size_kib && l->pages[i].node == node)
			return true;
	return false;
}

/*
 * Lowers P's pool by what was added for it, never below what is in use, what VMs still starting
 * claimed, and the pool before the first claim (what a raise that never happened, or was cut
 * short, cannot take away); the last claim on the pool lowers it to that. What has to stay goes
 * to another claim on the pool (its stop lowers it).
 */
static int pool_lower(struct ledger *l, struct ledger_pages *p, unsigned timeout_s, char *why, size_t n)
{
	_cleanup_free_ char *nr_path = pool_file(p->size_kib, p->node, "nr_hugepages");
	_cleanup_free_ char *free_path = pool_file(p->size_kib, p->node, "free_hugepages");
	unsigned long nr = 0, fr = 0, floor, target, got, lowest;
	char name[96];
	int r;

	struct ledger_pool *base = ledger_pool(l, p->size_kib, p->node);
	/* A damaged pages line may be another claim on the pool: never taken for the last. */
	bool last = base && !pages_on(l, p->size_kib, p->node, p) && !ledger_bad_kind(l, "pages");

	pool_name(p->size_kib, p->node, name, sizeof(name));
	if (!p->added && !last)
		return 0;
	r = host_read_number(nr_path, timeout_s, &nr);
	if (r == 0)
		r = host_read_number(free_path, timeout_s, &fr);
	if (r < 0) {
		char e[64];

		snprintf(why, n, "reading the pool of %s %s", name, host_error(r, e, sizeof(e)));
		return r;
	}
	/* Someone else changed the pool since vfio-hook last did (raised it by hand): only what was added goes. */
	if (last && nr != base->set)
		last = false;
	floor = (nr > fr ? nr - fr : 0) + pending(l, p);
	target = last ? 0 : nr > p->added ? nr - p->added : 0;
	if (base && target < base->was)
		target = base->was;
	if (target < floor)
		target = floor < nr ? floor : nr;
	got = nr;
	if (target < nr && (r = pool_set(nr_path, target, timeout_s, &got)) < 0) {
		char e[64];

		snprintf(why, n, "lowering the pool of %s to %lu %s", name, target, host_error(r, e, sizeof(e)));
		return r;
	}
	if (target < nr)
		pool_written(l, p->size_kib, p->node, nr, got);
	/*
	 * What stayed in the pool (in use, or claimed) is lowered by the next claim on it that goes;
	 * what the pool had before the first claim was never this VM's to lower.
	 */
	lowest = last ? 0 : nr > p->added ? nr - p->added : 0;
	if (base && lowest < base->was)
		lowest = base->was;
	if (got > lowest) {
		unsigned long left = got - lowest;

		for (size_t i = 0; i < l->n_pages && left; i++) {
			struct ledger_pages *o = &l->pages[i];

			if (o != p && o->size_kib == p->size_kib && o->node == p->node) {
				o->added += left;
				if (o->added > o->pages)
					o->added = o->pages;
				left = 0;
			}
		}
		if (left)
			log_info("%s: %lu %s stay in the pool: something else uses them", p->owner, left, name);
	}
	return 0;
}

bool pages_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio)
{
	bool all = true;

	for (size_t i = l->n_pages; i-- > 0;) {
		struct ledger_pages *p = &l->pages[i];
		char why[512] = "";

		if (!streq(p->owner, owner))
			continue;
		if (pool_lower(l, p, timeout_s, why, sizeof(why)) < 0) {
			log_msg(prio, "%s: its hugepages stay in the pool: %s; run 'vfio-hook restore %s' when the cause is gone",
				owner, why, owner);
			all = false;
			continue;
		}
		{
			unsigned long long size = p->size_kib;
			int node = p->node;

			ledger_pages_drop(l, p);
			if (!pages_on(l, size, node, NULL) && !ledger_bad_kind(l, "pages"))
				ledger_pool_drop(l, size, node);
		}
		if (ledger_save(l) < 0)
			all = false;
	}
	return all;
}

/* Raises one pool for the VM; -ENOMEM with the line in t->what when the kernel gives too few. */
static int pool_raise(struct take *t, const struct pool_want *w)
{
	struct ledger *l = &t->w->l;
	unsigned timeout = t->w->cfg->opt.timeout;
	_cleanup_free_ char *nr_path = pool_file(w->size_kib, w->node, "nr_hugepages");
	const struct ledger_pages *stale = ledger_pages_of(l, t->q->vm, w->size_kib, w->node);
	/*
	 * A claim of this VM's own left from a run whose give could not lower the pool: those pages
	 * are still in it (free now, counted in what this start found free), so they stay its to
	 * give back.
	 */
	unsigned long added = w->need + (stale ? stale->added : 0);
	struct ledger_pages *p;
	unsigned long old = 0, got = 0;
	bool late = false;
	char name[96];
	int r, tries = 0;

	pool_name(w->size_kib, w->node, name, sizeof(name));
	r = host_read_number(nr_path, timeout, &old);
	if (r < 0) {
		char e[64];

		snprintf(t->what, sizeof(t->what), "cannot read the pool of %s (%s) %s", name, nr_path, host_error(r, e, sizeof(e)));
		return r;
	}
	/*
	 * What the pool had before any claim raised it: recorded before the first raise. The pool of
	 * all nodes holds the nodes' pools: what claims on those added is not what it had.
	 */
	if (!ledger_pool(l, w->size_kib, w->node)) {
		unsigned long was = old;

		for (size_t i = 0; w->node < 0 && i < l->n_pages; i++)
			if (l->pages[i].size_kib == w->size_kib && l->pages[i].node >= 0)
				was = was > l->pages[i].added ? was - l->pages[i].added : 0;
		ledger_pool_add(l, w->size_kib, w->node, was, old);
	}
	p = ledger_pages_add(l, t->q->vm, w->size_kib, w->node, w->pages, added > w->pages ? w->pages : added);
	if (ledger_save(l) < 0) {
		snprintf(t->what, sizeof(t->what), "cannot record its %s in %s", name, ledger_path());
		return -EIO;
	}
	while (r == 0 && w->need && tries < POOL_TRIES) {
		if (tries++)
			make_room(timeout);
		r = pool_set(nr_path, old + w->need, timeout, &got);
		/*
		 * The kernel still looking for pages when the map's timeout ran out (a large pool on a
		 * machine short of memory): its writer is killed, which ends the search; what it found
		 * by then is read back, and no more tries.
		 */
		if (r == -ETIMEDOUT) {
			late = true;
			r = host_read_number(nr_path, timeout, &got);
			break;
		}
		if (r == 0 && got >= old + w->need)
			break;
	}
	if (r < 0) {
		char e[64];

		snprintf(t->what, sizeof(t->what), "cannot raise the pool of %s (%s) %s", name, nr_path, host_error(r, e, sizeof(e)));
		return r;
	}
	if (w->need)
		pool_written(l, w->size_kib, w->node, old, got);
	if (w->need && got < old + w->need) {
		char late_in[64] = "";

		/* Only what the kernel gave is the VM's to give back: the undo lowers the pool by that. */
		p = ledger_pages_of(l, t->q->vm, w->size_kib, w->node);
		p->added = (got > old ? got - old : 0) + (added > w->need ? added - w->need : 0);
		if (p->added > p->pages)
			p->added = p->pages;
		ledger_save(l);
		if (late)
			snprintf(late_in, sizeof(late_in), "in the %u s of the map's timeout, ", timeout);
		snprintf(t->what, sizeof(t->what),
			 "%lu %s are missing: it needs %lu, %lu were free and the kernel found %lu more of %lu (%s%d %s); free "
			 "memory, reserve them at boot (hugepages = in [host], then 'vfio-hook setup'), or give it less memory",
			 old + w->need - got, name, w->pages, w->free, got > old ? got - old : 0, w->need, late_in, tries,
			 tries == 1 ? "try" : "tries, the caches dropped and memory compacted");
		return -ENOMEM;
	}
	p->done = true;
	return ledger_save(l) < 0 ? -EIO : 0;
}

/* ---- the step ---- */

static bool pages_needed(const struct take *t)
{
	return t->p.claims && t->p.claims->n_pools;
}

static int pages_run(struct take *t)
{
	for (size_t i = 0; i < t->p.claims->n_pools; i++) {
		int r = pool_raise(t, &t->p.claims->pools[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static bool pages_undo(struct take *t)
{
	return pages_give(&t->w->l, t->q->vm, t->w->cfg->opt.timeout, LOG_NOTICE);
}

static void pages_give_step(struct give *g)
{
	if (give_wants_claims(g) && !pages_give(&g->w->l, g->q->owner, g->w->cfg->opt.timeout, g->q->prio))
		g->left = true;
}

const struct step step_pages = {
	.name = "hugepages",
	.needed = pages_needed,
	.run = pages_run,
	.undo = pages_undo,
	.give = pages_give_step,
	.describe = claims_describe_pages,
	.undone = STEP_UNDONE,
	.left = CLAIM_LEFT,
};

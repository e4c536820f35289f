/* SPDX-License-Identifier: MIT */
/*
 * The engine's claim step: a function the take needs that is on vfio-pci already and recorded
 * as another VM's (taken from that VM just now, or given back by the VM being released) becomes
 * the taking VM's, and the host's display steps of a GPU go with it. Its undo hands each back
 * to the VM it was taken from; it has no give of its own (the bind step's give hands what a
 * running VM uses to that VM).
 */
#define _GNU_SOURCE
#include "domxml.h"
#include "log.h"
#include "step.h"
#include "util.h"

static bool claim_needed(const struct take *t)
{
	for (size_t i = 0; i < t->p.n_funcs; i++) {
		const char *owner = ledger_owner(&t->w->l, &t->p.funcs[i].f->addr);

		if (t->p.funcs[i].already && owner && *owner && !streq(owner, t->q->vm))
			return true;
	}
	return false;
}

static int claim_run(struct take *t)
{
	struct ledger *l = &t->w->l;

	for (size_t i = 0; i < t->p.n_funcs; i++) {
		const struct pci_addr *a = &t->p.funcs[i].f->addr;
		const char *owner = ledger_owner(l, a);
		struct claim *c;

		if (!t->p.funcs[i].already || !owner || !*owner || streq(owner, t->q->vm))
			continue;
		c = array_push(&t->claims, &t->n_claims, sizeof(*c));
		c->addr = *a;
		c->was = xstrdup(owner);
		ledger_claim(l, a, t->q->vm);
	}
	if (ledger_save(l) < 0) {
		snprintf(t->what, sizeof(t->what), "cannot record in %s which functions %s owns now", ledger_path(), t->q->vm);
		return -EIO;
	}
	return 0;
}

static bool among(const struct pci_addr *a, const struct pci_addr *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_eq(a, &set[i]))
			return true;
	return false;
}

/*
 * Each goes back to the VM it came from while that VM is still there to have it: it runs, it
 * is starting, or it is the giver (whose release goes on to give it to the host). One this
 * take unplugged from a VM that runs without it stays the taker's: the evict step's undo, next,
 * plugs it back into that VM, or gives it to the host if that VM will not have it (handed back
 * here, a refused give-back would leave it on vfio-pci, recorded as that VM's, which has it not).
 * One whose VM has gone since (shut down by this take's eviction) goes to the host now: nothing
 * else would.
 */
static bool claim_undo(struct take *t)
{
	struct ledger *l = &t->w->l;
	struct pci_addr *orphans = NULL;
	size_t n = 0;
	bool all = true;
	struct holders h = { 0 };
	bool known = holders_load(&h) == 0;

	for (size_t i = t->n_claims; i-- > 0;) {
		const struct claim *c = &t->claims[i];
		const struct ledger_vm *v = ledger_vm(l, c->was);
		/* Taken from it by this take while it ran: not running now, it was shut down, not starting. */
		bool evicted = among(&c->addr, t->taken, t->n_taken);
		bool there = !known || holders_get(&h, c->was) || (v && !v->started && !evicted) ||
			     (t->q->giver && streq(t->q->giver, c->was));
		const char *has = known ? holders_find(&h, &c->addr, NULL) : NULL;

		if (!ledger_owner(l, &c->addr))
			continue;
		if (known && evicted && holders_get(&h, c->was) && !(has && streq(has, c->was)))
			continue;
		if (there)
			ledger_claim(l, &c->addr, c->was);
		else
			*(struct pci_addr *)array_push(&orphans, &n, sizeof(c->addr)) = c->addr;
	}
	holders_clear(&h);
	if (n) {
		struct give_req rq;
		struct give g;

		take_undo_give(t, orphans, n, &rq, &g);
		step_bind.give(&g);
		step_display.give(&g);
		all = !g.left;
		take_undo_give_end(&g);
	}
	free(orphans);
	return ledger_save(l) == 0 && all;
}

const struct step step_claim = {
	.name = "claim",
	.needed = claim_needed,
	.run = claim_run,
	.undo = claim_undo,
	.undone = STEP_UNDONE,
	.left = STEP_LEFT,
};

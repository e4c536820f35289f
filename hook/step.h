/* SPDX-License-Identifier: MIT */
#ifndef VH_STEP_H
#define VH_STEP_H

#include "engine.h"

#include <stdio.h>

/*
 * The engine's steps (engine.h), each in a file of its own (step-*.c) and one entry in the
 * ladder of engine.c. A step knows three things:
 *   run:  its part of a take, recorded in the ledger before each write; what it did is kept in
 *         the take, for its undo;
 *   undo: puts back what its run did in this take (called for the step that failed too, and
 *         for every step before it, in reverse); false when something could not be put back;
 *   give: its part of giving a VM's holdings back (a release, restore, a failed take's undo),
 *         for the functions the give names.
 * and how it prints itself for --check.
 */

/* A take in progress: the plan, and what each step has done so far. */
struct take {
	struct world *w;
	const struct take_req *q;
	struct machine *m; /* this take's own look at the machine and the running VMs: a take */
	struct holders h;  /* nested in another one's undo (a give-back) must not change the outer one's */
	struct plan p;
	struct domain live;            /* q->plug: the VM as it runs now */
	struct pci_addr *taken;        /* evict: what this take asked running VMs to let go of */
	size_t n_taken;
	bool handed;                   /* display: the host's display was handed over (steps recorded) */
	struct pci_addr *moving;       /* bind: recorded to move, in plan order */
	bool *fresh;                   /* bind: recorded by this take (not left by an earlier start of the VM) */
	size_t n_moving, n_moved;      /* bind: how many of them are on vfio-pci now */
	bool stuck;                    /* bind: the last write did not finish: the kernel holds that function */
	struct claim *claims;          /* claim: functions that changed owner, and from whom */
	size_t n_claims;
	struct pci_addr *plugged;      /* plug: hot-plugged into the running VM */
	size_t n_plugged;
	char what[1024];               /* the failing step's line, before what its undo achieved */
	char reason[512];              /* what a caller that words the line itself needs of it (q->why); "": what */
	char hint[160];                /* said after that ("stop them, or set host-display-kill = yes") */
};

struct claim {
	struct pci_addr addr;
	char *was; /* its owner before; NULL: none */
};

/* A give in progress: whose holdings go back, and which. */
struct give {
	struct world *w;
	const struct give_req *q;
	struct holders h; /* the running VMs: nothing they use is unbound */
	bool left;        /* out: something stayed (logged at q->prio) */
};

struct step {
	const char *name;
	bool (*needed)(const struct take *t);
	int (*run)(struct take *t);
	bool (*undo)(struct take *t);
	void (*give)(struct give *g);
	void (*describe)(const struct plan *p, FILE *out);
	bool undo_last; /* its undo waits until every other step's is done (the display: once the GPU is back where it was) */
	const char *undone; /* what the failing step's line ends with when every undo succeeded */
	const char *left;   /* ... when one did not (%s: the VM, for 'vfio-hook restore %s') */
};

/* What most steps' failing line ends with: all was undone, or not (the VM for 'vfio-hook restore %s'). */
#define STEP_UNDONE "; everything was put back"
#define STEP_LEFT "; some devices could not be put back: run 'vfio-hook restore %s' when the cause is gone"
/* ... for a claim's step: what did not go back may be a device or a claim. */
#define CLAIM_LEFT "; not everything could be put back: run 'vfio-hook restore %s' when the cause is gone"

extern const struct step step_evict, step_pages, step_cpus, step_sleep, step_display, step_bind, step_claim, step_plug;

/* A fresh look at the machine and the running VMs, and the take's plan on it (after an
 * eviction). -EPERM with the refusal in t->what. */
int take_replan(struct take *t, enum evict_policy policy);

/* Does the give ask for its owner's claims on the host (claims.h): a whole VM's, which is not running? */
bool give_wants_claims(const struct give *g);
/* Does the give (or the take's undo) ask about A, owned by OWNER? */
bool give_wants(const struct give *g, const struct pci_addr *a, const char *owner);
/* A give restricted to ADDRS (N), owned by the take's VM: what the take's undo hands its steps. */
void take_undo_give(struct take *t, const struct pci_addr *addrs, size_t n, struct give_req *rq, struct give *g);
void take_undo_give_end(struct give *g);

#endif

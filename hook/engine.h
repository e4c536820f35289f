/* SPDX-License-Identifier: MIT */
#ifndef VH_ENGINE_H
#define VH_ENGINE_H

#include "config.h"
#include "plan.h"
#include "world.h"

#include <stdio.h>

/*
 * The one way a PCI function changes hands. Every path (a start, a release, the give-back of
 * an eviction, swap, restore) states the end it wants and calls one of two functions, as
 * libvirt's virhostdev.c moves every PCI device through its prepare and reattach:
 *
 * engine_take: the functions of a selection to a VM. It plans the whole move against the world
 *   (the map, the machine, the running VMs, the ledger) and runs every guard for every
 *   function before the first write; a refusal changes nothing. Then the ladder (engine.c):
 *   evict (take them from running VMs), the host's hugepages, CPUs and sleep a starting VM
 *   claims (claims.h), display (hand the host's display over), bind (to vfio-pci), claim (what
 *   was on vfio-pci already becomes the VM's), plug (into the VM, when it runs). Each step is in the ledger before it writes; a failure undoes the steps done, the
 *   failed one included, in reverse, and logs one line that says whether all of it went back.
 *
 * engine_give: what a VM owns back to the host, the same steps backwards: what it took from
 *   running VMs goes back into them (through engine_take: the same guards), what a running VM
 *   still uses becomes that VM's, the rest goes back to its host driver (never to no driver: a
 *   driver that will not take it back leaves it on vfio-pci, recorded), the host's display
 *   once its GPU is back, and what it claimed of the host (not while it runs).
 */

/* Which functions a take is about: map entries, and the VM that gets them. */
struct selection {
	const struct vm *vm;     /* the entries, named after the VM (the plan leaves it out as a holder): */
	struct vm own_vm;        /* the VM's [vm] section itself, or this, made here */
	struct pci_entry *own;   /* entries made here: a device named on the command line, a give-back's */
	size_t n_own;
	char **xml;              /* a give-back: each own entry's <hostdev> in that VM (n_own), else NULL */
	const struct vm *mapped; /* the VM's own [vm] section in the map, or NULL */
};

/* What [vm NAME] of the map gives VM. */
void selection_vm(const struct config *c, const struct vm *v, struct selection *ret);
/* DEVICE as the command line names it: a [pci] name (the whole set), an id or an address. -EINVAL, logged. */
int selection_device(const struct config *c, const char *vm, const char *device, struct selection *ret);
/* Addresses (a give-back), each with the <hostdev> VM had (N of them; XML may be NULL). */
void selection_addrs(const struct config *c, const char *vm, const struct pci_addr *addrs, char *const *xml, size_t n,
		     struct selection *ret);
void selection_clear(struct selection *s);
/* The <hostdev> a give-back's selection has for A, or NULL. */
const char *selection_xml(const struct selection *s, const struct pci_addr *a);

struct take_req {
	const char *vm;
	const struct selection *sel;
	enum evict_policy policy;    /* a running VM that holds one: detach, shut down, or refuse */
	const struct domain *dom;    /* the VM's domain XML, when known (ambiguous ids, the cross-check) */
	const char *retry;           /* what to run again, for an eviction's line ("start win10 again") */
	const char *giver;           /* a VM letting go of them (being released): what it owns is free */
	bool starting;               /* the VM is starting (its prepare): it owns what it gets from the first write */
	bool claims;                 /* ... and claims its CPUs, hugepages and the host's sleep (claims.h) */
	bool plug;                   /* the VM runs: hot-plug what it does not have yet */
	bool say;                    /* by hand (swap): what it takes from running VMs is printed on stdout */
	char *why;                   /* set: the one line goes here, without the VM's name, not to the log */
	size_t why_n;
	char *why_at;                /* set (PCI_ADDR_LEN, ""): with why, the function the failing step was about, if one */
};

/*
 * Plans and moves. ≥ 0: the VM has them (how many); -EPERM: refused by a guard (nothing changed); another
 * -errno: a step failed, and what it did and everything before it was undone as far as it
 * could be (the line says which). The ledger (w->l) is saved at each step.
 */
int engine_take(struct world *w, const struct take_req *q);

/*
 * The plan engine_take would follow, with what the guards say, on the machine and running VMs
 * as w saw them (world_discover): --check prints it.
 */
int engine_plan(const struct world *w, const struct take_req *q, struct plan *ret);
/* The plan as the ladder will walk it: each step's part, the warnings, the refusals, the verdict. */
void engine_describe(const struct plan *p, FILE *out);

struct give_req {
	const char *owner;             /* whose holdings; NULL: only ONLY's, whoever owns them (damaged entries) */
	const struct pci_addr *only;   /* NULL: all OWNER owns */
	size_t n_only;
	bool returns;                  /* what OWNER took from running VMs goes back into them (its release) */
	bool forced;                   /* ... whatever giveback says: OWNER's start failed */
	bool keep_taken;               /* restore: what OWNER took stays with the host; the records go */
	unsigned stuck_s;              /* a hand-over step stuck in the kernel gets this long (0: left alone) */
	int prio;                      /* how what stays is logged */
};

/*
 * Gives back. 0, or -EIO when something stayed (each logged, at q->prio, with what to do); the
 * ledger is saved. Nothing a running VM uses is unbound (it becomes that VM's), nor anything in
 * its IOMMU group.
 */
int engine_give(struct world *w, const struct give_req *q);

/*
 * What OWNER took from running VMs, back into them (OWNER NULL: the takes of VMs that neither
 * run nor start: late unplugs). FORCE: also with giveback = no. FINAL: a pending unplug is not
 * waited for. ONLY (N): just those functions. False when one could not go back (logged): what
 * its VM will not take back goes to the host (what stays there is recorded as its taker's).
 */
bool engine_return(struct world *w, const char *owner, bool force, bool final, const struct pci_addr *only, size_t n);

#endif

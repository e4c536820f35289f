/* SPDX-License-Identifier: MIT */
#ifndef VH_WORLD_H
#define VH_WORLD_H

#include "config.h"
#include "discover.h"
#include "domxml.h"
#include "plan.h"
#include "ledger.h"

/* Everything a plan needs. */
struct world {
	struct config *cfg;
	struct machine *m;
	struct holders h;
	struct ledger l; /* loaded under the lock by whoever changes it */
	int lock;        /* that lock's fd, -1 when not held */
};

void world_clear(struct world *w);
/* The machine and its running domains, for a map already loaded into w->cfg. */
int world_discover(struct world *w);
/* The map at config_path(cfg_path), then the machine: -EINVAL (logged) for a broken map. */
int world_load(const char *cfg_path, struct world *w);
/* The plan for VM on the machine as it is now (after an eviction, the machine has changed). */
int plan_now(struct world *w, const struct vm *vm, enum evict_policy policy, const struct domain *dom, struct plan *p);

/* plan_now, with its refusals logged: -EPERM when there is one. */
int plan_or_refuse(struct world *w, const struct vm *vm, enum evict_policy policy, const struct domain *dom,
		   struct plan *p);
/*
 * Takes the plan's functions from the VMs that hold them (evict.h), plans again on the changed
 * machine, and moves them to vfio-pci (apply.h), all recorded in w->l. RETRY ends the line of a
 * failed eviction. When anything fails after an eviction, what was taken goes back to its VM.
 */
int evict_and_apply(struct world *w, const struct vm *vm, const struct domain *dom, const char *retry, struct plan *p);

/* Shared by the actions (actions.c). */
unsigned lock_timeout(unsigned step_timeout);
void log_plan_problems(const struct plan *p);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_WORLD_H
#define VH_WORLD_H

#include "config.h"
#include "discover.h"
#include "holders.h"
#include "ledger.h"

/* What every action looks at: the map, the machine, the running VMs, the ledger. */
struct world {
	struct config *cfg;
	struct machine *m;
	struct holders h;
	struct ledger l; /* loaded under the lock by whoever changes it */
	int lock;        /* that lock's fd, -1 when not held */
};

void world_clear(struct world *w);
/*
 * The machine and the running VMs, for the map C (NULL: its defaults): what a plan needs.
 * Without libxml2 (logged) nothing can be known of them: -ENOPKG. Running VMs that cannot be
 * read are logged and marked (h->closed): a plan refuses (root) or promises nothing (a user).
 */
int world_look(const struct config *c, struct machine **ret_m, struct holders *ret_h);
/* world_look into w, for the map already in w->cfg. */
int world_discover(struct world *w);
/* The map at config_path(cfg_path), then the machine: -EINVAL (logged) for a broken map. */
int world_load(const char *cfg_path, struct world *w);
/*
 * The map for a path that gives back (release, restore): a broken map must not keep devices,
 * so one that cannot be used gives its defaults (the timeout, the URI) instead.
 */
struct config *world_map_or_defaults(const char *cfg_path);

/*
 * The lock (WHAT says who holds it), then the ledger under it: an unreadable ledger stops
 * everything (it is reported, never rewritten). 0, or -errno with nothing held.
 */
int world_lock(struct world *w, const char *what, unsigned timeout_s);
void world_unlock(struct world *w);

#endif

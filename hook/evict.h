/* SPDX-License-Identifier: MIT */
#ifndef VH_EVICT_H
#define VH_EVICT_H

#include "config.h"
#include "ledger.h"
#include "plan.h"

/*
 * Takes the plan's functions from the running VMs that hold them, by p->policy (detach: hot-
 * unplug and wait until the holder's status no longer lists them; shutdown: ACPI shutdown and
 * wait until it is off), all within c->opt.timeout. Never asks libvirt about p->vm. Each is in
 * the ledger as taken by p->vm, with the holder's UUID, id and hostdev, before it is asked for.
 * On failure logs one line (RETRY says what to run again) and gives back to its holder whatever
 * already left it; what the holder still has stays recorded as pending (an unplug that completes
 * late is given back by the next run). 0 or -errno.
 */
int evict_run(const struct config *c, const struct plan *p, struct ledger *l, const char *retry);

/*
 * Gives back what OWNER took: each function goes back into the VM it came from, if that same VM
 * (UUID and domain id) still runs without it: moved to vfio-pci first (recorded as that VM's
 * before the write), or to its host driver for a managed='yes' hostdev, as that VM expects.
 * FORCE: also when giveback is off (OWNER's start failed: the holder is left as it was).
 * Entries whose holder still has the function stay while pending (unless FINAL); all others
 * leave the ledger. With OWNER NULL: the entries of every VM that neither runs nor is starting
 * (left by a start that failed, for unplugs that completed late). Saves L.
 */
void evict_give_back(const char *uri, unsigned timeout_s, struct ledger *l, const char *owner, bool force, bool final);
/* The same for the functions ONLY (N of them) OWNER took (a failed swap's). */
void evict_give_back_only(const char *uri, unsigned timeout_s, struct ledger *l, const char *owner,
			  const struct pci_addr *only, size_t n);

/*
 * Waits at most timeout_s for the unplugs OWNER asked for and its holders have not completed:
 * a start that failed at the deadline gives back what leaves just after it.
 */
void evict_settle(struct ledger *l, const char *owner, unsigned timeout_s);

/* The pause between two looks at a status file. */
void evict_nap(void);

#endif

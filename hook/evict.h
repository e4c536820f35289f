/* SPDX-License-Identifier: MIT */
#ifndef VH_EVICT_H
#define VH_EVICT_H

#include "config.h"
#include "plan.h"
#include "state.h"

/*
 * Takes the plan's functions from the running VMs that hold them, by p->policy (detach: hot-
 * unplug and wait until the holder's status no longer lists them; shutdown: ACPI shutdown and
 * wait until it is off), all within c->opt.timeout. Never asks libvirt about p->vm. On success
 * fills *inherit with what was taken, from whom, and its hostdev there, for give-back (see
 * apply_prepare). On failure logs one line (RETRY says what to run again) and leaves every holder
 * as it was: devices already unplugged are plugged back. 0 or -errno.
 */
int evict_run(const struct config *c, const struct plan *p, const char *retry, struct record *inherit);

/*
 * At release with giveback: hot-plugs R's evicted functions back into the VMs they were taken
 * from that still run (moved to vfio-pci, or to the host driver for a managed='yes' hostdev, as
 * that VM expects). What went back leaves R (and joins that VM's record); the rest stays in R
 * for the caller to give to the host. R's evicted entries are cleared either way.
 */
void evict_give_back(const char *uri, unsigned timeout_s, struct record *r);

/* The pause between two looks at a status file. */
void evict_nap(void);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_EVICT_H
#define VH_EVICT_H

#include "ledger.h"

/*
 * The eviction step of the engine (step-evict.c) takes functions from running VMs; these are
 * the waits it shares with the paths around it.
 */

/*
 * Waits at most timeout_s for the unplugs OWNER asked for and its holders have not completed:
 * a start that failed at the deadline gives back what leaves just after it.
 */
void evict_settle(struct ledger *l, const char *owner, unsigned timeout_s);

/* The pause between two looks at a status file. */
void evict_nap(void);

#endif

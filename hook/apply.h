/* SPDX-License-Identifier: MIT */
#ifndef VH_APPLY_H
#define VH_APPLY_H

#include "domxml.h"
#include "ledger.h"
#include "plan.h"

/*
 * Moves every function of the plan to vfio-pci for p->vm: each gets its ledger entry (owner,
 * what it was on) saved before its first write. Once all are moved, the plan's functions that
 * were on vfio-pci already and owned by another VM (taken from it) become p->vm's. Any failure
 * puts back what this call moved (in reverse), keeps the rest recorded and logs one line.
 * 0 or -errno.
 */
int apply_prepare(const struct plan *p, struct ledger *l, unsigned timeout_s);

/* One function to vfio-pci / back to what its entry recorded; why says which step failed. */
int apply_to_vfio(const struct pci_addr *a, unsigned timeout_s, char *why, size_t n);
int apply_to_host(const struct ledger_func *e, unsigned timeout_s, char *why, size_t n);

/*
 * Gives the functions OWNER owns (every entry when OWNER is NULL; only the N addresses ONLY when
 * ONLY is not NULL) back to what they were on, except any that a running domain uses, OWNER
 * included: unbinding those blocks in the kernel, and takes the device from under the VM. Each
 * is logged at PRIO; given-back entries leave L, which is saved. 0, or -EIO if something stayed.
 */
int apply_restore(struct ledger *l, const char *owner, const struct pci_addr *only, size_t n, const struct holders *h,
		  unsigned timeout_s, int prio);

#endif

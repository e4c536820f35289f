/* SPDX-License-Identifier: MIT */
#ifndef VH_APPLY_H
#define VH_APPLY_H

#include "domxml.h"
#include "plan.h"
#include "state.h"

/*
 * Moves every function of the plan to vfio-pci, recording each step first. INHERIT (may be
 * NULL) holds the hostdevs taken from other running VMs, for give-back. Their record entries
 * for those, and for plan functions another VM's start put on vfio-pci, move to this VM's record. Any failure puts back what this
 * call moved (in reverse), keeps the rest recorded and logs one line. RECORD_ONLY: moves nothing,
 * only records INHERIT (the start fails, and its release gives those back). 0 or -errno.
 */
int apply_prepare(const struct plan *p, const struct record *inherit, unsigned timeout_s, bool record_only);

/* One function to vfio-pci / back to its recorded driver; why says which step failed. */
int apply_to_vfio(const struct pci_addr *a, unsigned timeout_s, char *why, size_t n);
int apply_to_host(const struct rec_func *rf, unsigned timeout_s, char *why, size_t n);

/*
 * Gives the functions of a record back to their original drivers, except any that a running
 * domain other than the record's VM holds (unbinding those blocks in the kernel). Removes the
 * record when nothing is left, else keeps what is left. 0, or -errno if something stayed.
 */
int apply_restore(struct record *r, const struct holders *h, unsigned timeout_s);

#endif

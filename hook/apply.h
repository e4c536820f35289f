/* SPDX-License-Identifier: MIT */
#ifndef VH_APPLY_H
#define VH_APPLY_H

#include "domxml.h"
#include "plan.h"
#include "state.h"

/*
 * Moves every function of the plan to vfio-pci, recording each step first. Any failure
 * puts back what was moved (in reverse), removes the record and logs one line. 0 or -errno.
 */
int apply_prepare(const struct plan *p, unsigned timeout_s);

/*
 * Gives the functions of a record back to their original drivers, except any that a running
 * domain other than the record's VM holds (unbinding those blocks in the kernel). Removes the
 * record when nothing is left, else keeps what is left. 0, or -errno if something stayed.
 */
int apply_restore(struct record *r, const struct holders *h, unsigned timeout_s);

#endif

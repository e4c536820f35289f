/* SPDX-License-Identifier: MIT */
#ifndef VH_GUARD_H
#define VH_GUARD_H

#include "discover.h"

/*
 * Why taking F from the host would break the host, or NULL: a disk on it, or a partition,
 * backs a mounted filesystem (by device number or mount source), active swap or an md/dm/LVM
 * device, or the kernel refuses an exclusive open of it (a ZFS pool, anything else that holds
 * it); or F is the boot GPU with the framebuffer console on it. The caller frees the string.
 */
char *guard_check(const struct pci_func *f);

#endif

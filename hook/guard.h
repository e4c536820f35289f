/* SPDX-License-Identifier: MIT */
#ifndef VH_GUARD_H
#define VH_GUARD_H

#include "discover.h"
#include "holders.h"

/*
 * Why taking F from the host would break the host, or NULL: a disk on it (an NVMe multipath
 * head disk counts when one of its paths is on F), or a partition, backs a mounted filesystem
 * (by device number or mount source), active swap, an md/dm/LVM device, a loop device, or the
 * raw disk of a running domain of H, or the kernel refuses an exclusive open of it (a ZFS pool,
 * anything else that holds it). The host's display on F is display.h's. The caller frees the
 * string. *UNCHECKED (also the caller's to free, else NULL) says what could not be checked: a
 * disk that may not be opened here, which the kernel may hold (plan_unchecked() decides).
 */
char *guard_check(const struct pci_func *f, const struct holders *h, char **unchecked);

#endif

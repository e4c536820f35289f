/* SPDX-License-Identifier: MIT */
#ifndef VH_GUARD_H
#define VH_GUARD_H

#include "discover.h"

/*
 * Why taking F from the host would break the host, or NULL: it backs a mounted filesystem,
 * active swap or an md/dm/LVM device; or it is the boot GPU with the framebuffer console on
 * it. The caller frees the string.
 */
char *guard_check(const struct pci_func *f);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_GROUPS_H
#define VH_GROUPS_H

#include "config.h"
#include "discover.h"

/* `vfio-hook groups [--json]`; c may be NULL (no map). Returns the exit status. */
int groups_print(const struct machine *m, const struct config *c, bool json);

#endif

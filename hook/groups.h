/* SPDX-License-Identifier: MIT */
#ifndef VH_GROUPS_H
#define VH_GROUPS_H

#include "config.h"
#include "discover.h"

/* What `vfio-hook groups` lists: every group, or one, or those with a GPU; as text or JSON. */
struct groups_filter {
	bool json;
	bool gpu;          /* only the groups with a display controller (class 03) */
	const char *only;  /* NULL, or one group: its number, or the address of one of its functions */
};

/* `vfio-hook groups`; c may be NULL (no map). Returns the exit status. */
int groups_print(const struct machine *m, const struct config *c, const struct groups_filter *f);

#endif

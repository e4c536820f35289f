/* SPDX-License-Identifier: MIT */
#ifndef VH_HANDOFF_H
#define VH_HANDOFF_H

#include <stdbool.h>

/*
 * One step of handing the host's display over to OWNER (display.h, step-display.c), recorded before it runs and
 * undone in reverse: the display manager or nvidia-persistenced stopped (WHAT: the unit), the
 * wait for the GPU's users (nothing to undo), fbcon unbound from a vtconsole (WHAT: vtconN), a
 * firmware framebuffer unbound from its platform driver (WHAT: the device, DRIVER: its driver),
 * an NVIDIA module unloaded (WHAT: the module). It belongs with GPU: whoever owns that function
 * owns its steps, and they are undone once the function is back on the host.
 */
enum display_step { DSTEP_DM, DSTEP_WAIT, DSTEP_PERSISTENCED, DSTEP_VTCON, DSTEP_FB, DSTEP_MODULE, DSTEP_N };

/* Its name in the ledger ("display-manager", "vtcon", ...). */
const char *display_step_name(enum display_step s);
/* Is S fit to be WHAT of a STEP (a unit, vtconN, a device or module name)? Nothing else reaches sysfs or argv. */
bool display_what_valid(enum display_step step, const char *s);
/* The step a ledger name stands for; DSTEP_N when none. */
enum display_step display_step_parse(const char *name);

#endif

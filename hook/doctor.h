/* SPDX-License-Identifier: MIT */
#ifndef VH_DOCTOR_H
#define VH_DOCTOR_H

#include <stdbool.h>

/*
 * `vfio-hook doctor [--json]`: is this host ready for passthrough, and if not, what to do.
 * Read-only: it loads no module, starts or stops nothing and writes nothing. Prints one line
 * per check ("PASS|WARN|FAIL|SKIP  what — fix") in groups, or a JSON array. Returns the exit
 * status: 0 when nothing FAILs, 1 otherwise, 2 when it cannot run at all.
 */
int doctor_run(const char *cfg_path, bool json);

#endif

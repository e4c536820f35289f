/* SPDX-License-Identifier: MIT */
#ifndef VH_SETUP_H
#define VH_SETUP_H

#include <stdbool.h>

/*
 * `vfio-hook setup [--dry-run] [--root DIR]` and `vfio-hook setup --undo [--root DIR]`:
 * writes the host configuration the map's [host] section asks for (modules-load.d,
 * modprobe.d, udev rules, group kvm, limits.d, grub.d), records it with checksums in
 * /var/lib/vfio-hook/setup.manifest, and prints what is left to do. ROOT is NULL for this
 * system. Returns the exit status: 0 done, 1 failed (rolled back), 2 map or usage wrong.
 */
int setup_run(const char *cfg_path, const char *root, bool dry_run, bool undo);

#endif

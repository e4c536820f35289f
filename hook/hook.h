/* SPDX-License-Identifier: MIT */
#ifndef VH_HOOK_H
#define VH_HOOK_H

#include <stdbool.h>

/* argv as libvirt passes it to /etc/libvirt/hooks/qemu: NAME OP SUBOP EXTRA. */
bool hook_argv(int argc, char **argv);
int hook_main(int argc, char **argv);

#endif

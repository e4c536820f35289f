/* SPDX-License-Identifier: MIT */
#ifndef VH_RESOLVE_H
#define VH_RESOLVE_H

#include "config.h"
#include "discover.h"

bool pci_sel_matches(const struct pci_sel *s, const struct pci_func *f);

/*
 * The map against this machine: logs (as warnings) each entry that matches no function, an id
 * that matches several (identical devices: pin one by address), and a function a VM gets twice
 * through different entries. Returns how many it found.
 */
size_t resolve_report(const struct config *c, const struct machine *m);

/*
 * The same findings, kept instead of logged: *RET_MSGS (each without its FILE:LINE) and
 * *RET_LINES, as many as returned; the caller frees them.
 */
size_t resolve_findings(const struct config *c, const struct machine *m, char ***ret_msgs, int **ret_lines);

/* Does VM v get function f? Returns the first map entry that gives it, or NULL. */
const struct vm_pci *vm_gets(const struct vm *v, const struct pci_func *f);

/*
 * The map against libvirt, when it answers: logs (as warnings, FILE:LINE) each [vm NAME] that
 * names no VM libvirt has, with the closest it has. Returns how many.
 */
size_t resolve_report_vms(const struct config *c);

/* `vfio-hook config`: what each VM of the map gets on this machine; 1 when an entry needs a word. */
int config_print(const struct machine *m, const struct config *c);

#endif

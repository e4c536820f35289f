/* SPDX-License-Identifier: MIT */
#ifndef VH_ACTIONS_H
#define VH_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What the hook and the command line do, on the map at config_path(cfg_path). Each returns
 * 0 on success, -EINVAL for a map or usage error (exit 2), another -errno when it refused or
 * failed (exit 1); the one line that explains it has been logged.
 */
int action_prepare(const char *cfg_path, const char *vm, const char *xml, size_t xml_len);
/* REASON: libvirt's (≥ 10.5) "failed", "destroyed", …, or NULL. */
int action_release(const char *cfg_path, const char *vm, const char *reason);
/* libvirt says VM is running: its start did not fail; RECONNECT: its daemon restarted and found it so. */
int action_started(const char *vm, bool reconnect);
int action_check(const char *cfg_path, const char *vm, const char *xml_file);
/*
 * What --check VM would conclude, for doctor: its domain XML from libvirt when the map's uri may
 * be asked (none is a verdict without the <hostdev> cross-check: NO_XML). 0 with RET filled
 * (check_verdict_clear()), or -errno when no plan could be made (logged).
 */
struct check_verdict {
	size_t n_funcs, n_refusals, n_warnings;
	char **refusals; /* each with its fix, as --check prints them */
	char **warnings;
	bool unsure; /* what this user cannot read was not checked: the hook may start it */
	bool no_xml;
};
int check_verdict(const char *cfg_path, const char *vm, bool ask_libvirt, struct check_verdict *ret);
void check_verdict_clear(struct check_verdict *v);
/* vm NULL: every VM with a record. */
int action_restore(const char *cfg_path, const char *vm);
int action_status(const char *cfg_path);
/* vfio-hook swap [--force] [--config] VM DEVICE (swap.c). */
int action_swap(const char *cfg_path, const char *vm, const char *device, bool force, bool config);
/* vfio-hook usb add|remove VM DEVICE (usb.c). */
int action_usb(const char *cfg_path, bool add, const char *vm, const char *device);

#endif

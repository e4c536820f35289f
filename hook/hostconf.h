/* SPDX-License-Identifier: MIT */
#ifndef VH_HOSTCONF_H
#define VH_HOSTCONF_H

#include "config.h"

#include <stddef.h>

#define HOSTCONF_MODULES "/etc/modules-load.d/vfio-hook.conf"
#define HOSTCONF_MODPROBE "/etc/modprobe.d/vfio-hook.conf"
#define HOSTCONF_UDEV "/etc/udev/rules.d/70-vfio-hook.rules"
#define HOSTCONF_LIMITS "/etc/security/limits.d/vfio-hook.conf"
#define HOSTCONF_GRUB "/etc/default/grub.d/vfio-hook.cfg"

struct hostconf_file {
	const char *path; /* one of the HOSTCONF_ paths, under the root */
	char *text;       /* all of it, with the header naming the map */
};

struct hostconf {
	/* In: the map, the root the files go under ("" for this system), the map's path for headers. */
	const struct config *c;
	const char *root;
	const char *map;
	/* Out. */
	struct hostconf_file *files;
	size_t n_files;
	char **members;     /* the users to put in group kvm */
	size_t n_members;
	char *boot_cmd;     /* with systemd-boot, kernelstub, BLS or GRUB: the command that adds the parameters */
	bool boot_unknown;  /* no boot loader configuration found: boot_cmd is advice, not a check */
	char *params;       /* the kernel parameters: the IOMMU's, hugepages reserved at boot; "" for none */
};

/*
 * What the map's [host] asks for under the root: fills the out fields. 0, or -EINVAL when the
 * map cannot say (logged as FILE:LINE), -EIO when the PCI devices cannot be listed.
 */
int hostconf_build(struct hostconf *h);
void hostconf_clear(struct hostconf *h);

#endif

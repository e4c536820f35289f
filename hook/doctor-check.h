/* SPDX-License-Identifier: MIT */
#ifndef VH_DOCTOR_CHECK_H
#define VH_DOCTOR_CHECK_H

#include "config.h"
#include "discover.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * What the parts of vfio-hook doctor share (doctor.c runs them, one group of checks a file):
 * the list of checks, and the reads of the system's files, which the test suite points at a
 * directory of its own (every path outside /sys, /dev and /proc/cpuinfo goes through
 * doctor_sys_path()).
 */

enum status { ST_PASS, ST_WARN, ST_FAIL, ST_SKIP };

struct check {
	const char *group;
	enum status status;
	char *what;
	char *fix; /* NULL: nothing to do */
};

struct doctor {
	struct check *checks;
	size_t n;
	const char *group; /* the heading new checks go under */
	const char *root;  /* prefix of every path read through doctor_sys_path(): "" on a real host */
	struct machine *m; /* NULL when PCI devices could not be listed */
	struct config *c;  /* NULL when there is no usable map */
	char *cmdline;     /* the kernel command line, NULL when unreadable */
	char *release;     /* the running kernel's release */
	const char *cfg_path; /* the map asked for (-c), or NULL */
	bool libvirt_mute;    /* libvirt did not answer within the map's timeout: not asked again */
};

/* One check: its status, what was found, and what to do (NULL: nothing). */
void doctor_report(struct doctor *d, enum status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
char *doctor_sys_path(const struct doctor *d, const char *path);
bool doctor_sys_exists(const struct doctor *d, const char *path);
char *doctor_sys_read(const struct doctor *d, const char *path);
/* Is WORD one of the whitespace-separated words of S? */
bool doctor_has_word(const char *s, const char *word);
/*
 * The value of KEY= on the kernel command line, as an item of its comma list: 1 when ITEM is
 * in it, 0 when KEY is there without ITEM, -1 when KEY is absent. The last KEY= wins.
 */
int doctor_cmdline_item(const char *cmdline, const char *key, const char *item);
bool doctor_cpu_is_intel(const struct doctor *d);
bool doctor_cpu_is_amd(const struct doctor *d);

/* The groups of checks, in the order doctor prints them (doctor-*.c). */
void doctor_firmware(struct doctor *d); /* CPU and firmware */
void doctor_kernel(struct doctor *d);   /* the IOMMU, interrupt remapping, the vfio modules */
void doctor_libvirt(struct doctor *d);  /* the hook installed and seen, SELinux, OVMF */
void doctor_map(struct doctor *d);      /* the map */
void doctor_devices(struct doctor *d);  /* each mapped device, each mapped VM's plan */
void doctor_users(struct doctor *d);    /* [host] users: /dev/vfio, memlock */

#endif

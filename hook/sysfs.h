/* SPDX-License-Identifier: MIT */
#ifndef VH_SYSFS_H
#define VH_SYSFS_H

#include "pciaddr.h"

/*
 * Writes VALUE to the sysfs file PATH in a child process and waits at most TIMEOUT_S seconds.
 * Unbinding a driver can block in the kernel for good; the child holds none of our file
 * descriptors (libvirt's pipes, the lock), so we can give up on it. Returns 0, -errno of the
 * write, or -ETIMEDOUT. Logs nothing: the caller knows what the step means.
 */
int sysfs_write(const char *path, const char *value, unsigned timeout_s);
/*
 * Reads the file PATH (a sysfs attribute that may block: the console lock, a cgroup, a hugepage
 * pool) in a child, waiting at most TIMEOUT_MS: 0 with *RET (caller frees), -errno, -ETIMEDOUT.
 */
int sysfs_read(const char *path, long timeout_ms, char **ret);
/* Ends this run's writer: the next sysfs_write() starts a fresh one (with the environment as it is then). */
void sysfs_end(void);
/* Milliseconds this run's sysfs_write() calls spent in the kernel (the rest is vfio-hook's own). */
long sysfs_kernel_ms(void);

/*
 * Runs argv (e.g. modprobe) the same way, with a deadline; returns its exit status or -errno.
 * Under VFIO_HOOK_TEST only the stand-in $VFIO_HOOK_TEST_BIN/NAME runs, else -EPERM (logged).
 */
int run_with_deadline(char *const argv[], unsigned timeout_s);

/*
 * ADDR's modalias, as the kernel writes it for udev ("pci:v…d…sv…sd…bc…sc…i…"): its own
 * attribute, or made from its ids where the attribute is missing. 0 or -errno.
 */
int sysfs_modalias(const struct pci_addr *a, char *buf, size_t n);

/* The driver bound to ADDR now ("" when none), read fresh from sysfs; -ENODEV: no such function. */
int sysfs_driver(const struct pci_addr *a, char *buf, size_t n);

/*
 * Test suites set VFIO_HOOK_TEST; then every write must land in umockdev's fake /sys, or under
 * the fixture's root ($VFIO_HOOK_TEST_ROOT: a cgroup, a hugepage pool, a CPU's governor). This
 * returns 0 when writing PATH is allowed, -EPERM (logged) when it would reach the real machine.
 */
int sysfs_write_allowed(const char *path);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A function's driver (bind.h): the sysfs writes libvirt uses both ways, driver_override,
 * unbind, drivers_probe, each with a deadline and each checked.
 */
#define _GNU_SOURCE
#include "bind.h"

#include "log.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCI_DEVICES "/sys/bus/pci/devices"

static const char *step_error(int r)
{
	return r == -ETIMEDOUT ? "did not finish in time" : strerror(-r);
}

static bool driver_loaded(const char *name)
{
	_cleanup_free_ char *dir = xasprintf("/sys/bus/pci/drivers/%s", name);
	struct stat st;

	return stat(dir, &st) == 0;
}

int bind_vfio_loaded(unsigned timeout_s)
{
	char *const argv[] = { (char *)"modprobe", (char *)"vfio-pci", NULL };
	int r;

	if (driver_loaded("vfio-pci"))
		return 0;
	r = run_with_deadline(argv, timeout_s);
	if (driver_loaded("vfio-pci"))
		return 0;
	log_error("cannot load vfio-pci: modprobe vfio-pci %s (is the module installed for this kernel?)",
		  r < 0 ? step_error(r) : "failed");
	return r < 0 ? r : -ENOENT;
}

/*
 * A host driver that is not loaded (a hand-over unloaded NVIDIA's; a module removed by hand):
 * loaded before the probe, first by the device's modalias, as udev loads drivers at boot (a
 * driver's name is not always its module's: xhci_hcd is xhci_pci's), then by the driver's
 * name. WANT NULL: whatever the kernel would pick. A failure shows in the check after the probe.
 */
static void load_driver(const struct pci_addr *a, const char *want, unsigned timeout_s)
{
	char alias[256];

	if (want && (!*want || streq(want, "vfio-pci") || !driver_name_valid(want) || driver_loaded(want)))
		return;
	if (sysfs_modalias(a, alias, sizeof(alias)) == 0) {
		char *const argv[] = { (char *)"modprobe", (char *)"-b", alias, NULL };

		run_with_deadline(argv, timeout_s);
	}
	if (want && !driver_loaded(want)) {
		char *const argv[] = { (char *)"modprobe", (char *)want, NULL };

		run_with_deadline(argv, timeout_s);
	}
}

/*
 * The one sequence libvirt uses both ways: OVERRIDE into driver_override ("\n" clears it),
 * unbind whatever is bound unless it is WANT already, probe, and check that WANT ("" for no
 * driver; NULL for whatever the kernel picks but vfio-pci) is what ends up bound. Says which
 * step failed in why.
 */
static int rebind(const struct pci_addr *addr, const char *override, const char *want, unsigned timeout_s, char *why,
		  size_t n)
{
	_cleanup_free_ char *ovr = NULL, *unbind = NULL;
	char a[PCI_ADDR_LEN], cur[64];
	int r;

	/* Only a driver name ever reaches driver_override, whatever a record said. */
	if (!streq(override, "\n") && !driver_name_valid(override)) {
		snprintf(why, n, "\"%.64s\" is not a driver name", override);
		return -EINVAL;
	}
	pci_addr_format(addr, a, sizeof(a));
	ovr = xasprintf(PCI_DEVICES "/%s/driver_override", a);
	unbind = xasprintf(PCI_DEVICES "/%s/driver/unbind", a);
	r = sysfs_write(ovr, override, timeout_s);
	if (r < 0) {
		snprintf(why, n, "writing driver_override %s", step_error(r));
		return r;
	}
	if (sysfs_driver(addr, cur, sizeof(cur)) < 0)
		cur[0] = '\0';
	if (want ? streq(cur, want) : *cur && !streq(cur, "vfio-pci"))
		return 0;
	if (*cur) {
		r = sysfs_write(unbind, a, timeout_s);
		if (r < 0) {
			snprintf(why, n, "unbinding from %s %s%s", cur, step_error(r),
				 r == -ETIMEDOUT ? " (something still uses it: stop it first)" : "");
			return r;
		}
	}
	if (!want || *want) {
		load_driver(addr, want, timeout_s);
		r = sysfs_write("/sys/bus/pci/drivers_probe", a, timeout_s);
		if (r < 0) {
			snprintf(why, n, "probing for %s %s", want ? want : "its driver", step_error(r));
			return r;
		}
	}
	/* WANT NULL (whatever the kernel picks) still means a driver: none bound is not given back. */
	if (sysfs_driver(addr, cur, sizeof(cur)) < 0 || (want ? !streq(cur, want) : !*cur || streq(cur, "vfio-pci"))) {
		snprintf(why, n, "%s did not bind (driver now: %s; see dmesg)", !want ? "its driver" : *want ? want : "no driver",
			 *cur ? cur : "none");
		return -EIO;
	}
	return 0;
}

int bind_vfio_addr(const struct pci_addr *a, unsigned timeout_s, char *why, size_t n)
{
	int r = bind_vfio_loaded(timeout_s);

	if (r < 0) {
		snprintf(why, n, "vfio-pci is not loaded");
		return r;
	}
	return rebind(a, "vfio-pci", "vfio-pci", timeout_s, why, n);
}

int bind_vfio(const struct pci_func *f, unsigned timeout_s, char *why, size_t n)
{
	_cleanup_free_ char *node = xasprintf("/dev/vfio/%d", f->iommu_group);
	struct stat st;
	int r = rebind(&f->addr, "vfio-pci", "vfio-pci", timeout_s, why, n);

	if (r < 0)
		return r;
	if (stat(node, &st) < 0) {
		snprintf(why, n, "%s did not appear", node);
		return -ENOENT;
	}
	return 0;
}

enum bind_end bind_host(const struct ledger_func *e, unsigned timeout_s, char *why, size_t n)
{
	/* An entry whose driver could not be read: clear the override and let the kernel choose. */
	const char *want = e->known ? e->driver : NULL, *ovr = e->known ? e->override : "";
	/* An override naming another driver than the one that was bound had not taken effect yet. */
	bool later = *ovr && want && !streq(ovr, want);
	char cur[64], first[256] = "", back[256] = "";
	int r = -EIO;

	if (sysfs_driver(&e->addr, cur, sizeof(cur)) == -ENODEV) {
		snprintf(why, n, "is not on this machine any more (unplugged)");
		return BIND_GONE;
	}
	/* Twice: a probe that fails once (firmware not ready, a transient error) is not the end. */
	for (int i = 0; i < 2 && r < 0 && r != -ETIMEDOUT; i++) {
		r = rebind(&e->addr, later || !*ovr ? "\n" : ovr, want, timeout_s, why, n);
		if (i == 0 && r < 0)
			snprintf(first, sizeof(first), "%s", why);
	}
	if (r == 0) {
		if (later) {
			char a[PCI_ADDR_LEN];
			_cleanup_free_ char *path = NULL;

			pci_addr_format(&e->addr, a, sizeof(a));
			path = xasprintf(PCI_DEVICES "/%s/driver_override", a);
			(void)sysfs_write(path, ovr, timeout_s);
		}
		return BIND_HOST;
	}
	if (r == -ETIMEDOUT)
		return BIND_STUCK;
	/* Its driver will not take it: on vfio-pci, where nothing uses it, rather than on no driver. */
	r = rebind(&e->addr, "vfio-pci", "vfio-pci", timeout_s, back, sizeof(back));
	snprintf(why, n, "%s", first);
	if (r == 0)
		return BIND_VFIO;
	/* A write of the way back that did not finish: the kernel holds the function; nothing more is tried. */
	if (r == -ETIMEDOUT) {
		snprintf(why, n, "%s; the way back to vfio-pci is stuck in the kernel: %s", first, back);
		return BIND_STUCK;
	}
	/* Said as it is: a write of the way back that failed may have left it where it was. */
	if (sysfs_driver(&e->addr, cur, sizeof(cur)) < 0)
		cur[0] = '\0';
	if (streq(cur, "vfio-pci"))
		return BIND_VFIO;
	if (strstr(back, "driver now:"))
		snprintf(why, n, "%s; vfio-pci did not take it either: %s", first, back);
	else
		snprintf(why, n, "%s; vfio-pci did not take it either: %s (driver now: %s)", first, back, *cur ? cur : "none");
	return BIND_NONE;
}

void bind_record(struct ledger_func *e, const struct pci_func *f)
{
	const char *ovr = f->driver_override ? f->driver_override : "";

	e->known = true;
	snprintf(e->driver, sizeof(e->driver), "%s", f->driver ? f->driver : "");
	snprintf(e->override, sizeof(e->override), "%s", ovr);
	/*
	 * vfio-pci in driver_override of a function on no driver is what a start cut short leaves
	 * behind, not what the host had: the kernel chooses at give-back.
	 */
	if (!f->driver && streq(ovr, "vfio-pci")) {
		e->known = false;
		e->driver[0] = e->override[0] = '\0';
	}
}

int bind_group_of(const struct pci_addr *a)
{
	char addr[PCI_ADDR_LEN], target[PATH_MAX];
	_cleanup_free_ char *link = NULL;
	const char *base;

	pci_addr_format(a, addr, sizeof(addr));
	link = xasprintf(PCI_DEVICES "/%s/iommu_group", addr);
	if (!realpath(link, target))
		return -1;
	base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	return *base >= '0' && *base <= '9' ? atoi(base) : -1;
}

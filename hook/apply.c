/* SPDX-License-Identifier: MIT */
/*
 * The sysfs steps, as libvirt does them (driver_override, unbind, drivers_probe), each with
 * a deadline, each verified, and a rollback ladder: step N failing undoes N-1..1.
 */
#define _GNU_SOURCE
#include "apply.h"

#include "log.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCI_DEVICES "/sys/bus/pci/devices"

static const char *step_error(int r)
{
	return r == -ETIMEDOUT ? "did not finish in time" : strerror(-r);
}

static int ensure_vfio_loaded(unsigned timeout_s)
{
	char *const argv[] = { (char *)"modprobe", (char *)"vfio-pci", NULL };
	struct stat st;
	int r;

	if (stat("/sys/bus/pci/drivers/vfio-pci", &st) == 0)
		return 0;
	r = run_with_deadline(argv, timeout_s);
	if (stat("/sys/bus/pci/drivers/vfio-pci", &st) == 0)
		return 0;
	log_error("cannot load vfio-pci: modprobe vfio-pci %s (is the module installed for this kernel?)",
		  r < 0 ? step_error(r) : "failed");
	return r < 0 ? r : -ENOENT;
}

/*
 * The one sequence libvirt uses both ways: OVERRIDE into driver_override ("\n" clears it),
 * unbind whatever is bound unless it is WANT already, probe, and check that WANT ("" for no
 * driver) is what ends up bound. Says which step failed in why.
 */
static int rebind(const struct pci_addr *addr, const char *override, const char *want, unsigned timeout_s, char *why,
		  size_t n)
{
	_cleanup_free_ char *ovr = NULL, *unbind = NULL;
	char a[PCI_ADDR_LEN], cur[64];
	int r;

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
	if (streq(cur, want))
		return 0;
	if (*cur) {
		r = sysfs_write(unbind, a, timeout_s);
		if (r < 0) {
			snprintf(why, n, "unbinding from %s %s%s", cur, step_error(r),
				 r == -ETIMEDOUT ? " (something still uses it: stop it first)" : "");
			return r;
		}
	}
	if (*want) {
		r = sysfs_write("/sys/bus/pci/drivers_probe", a, timeout_s);
		if (r < 0) {
			snprintf(why, n, "probing for %s %s", want, step_error(r));
			return r;
		}
	}
	if (sysfs_driver(addr, cur, sizeof(cur)) < 0 || !streq(cur, want)) {
		snprintf(why, n, "%s did not bind (driver now: %s; see dmesg)", *want ? want : "no driver",
			 *cur ? cur : "none");
		return -EIO;
	}
	return 0;
}

/* Puts one recorded function back on its original driver and driver_override. */
static int restore_func(const struct rec_func *rf, unsigned timeout_s, char *why, size_t n)
{
	return rebind(&rf->addr, *rf->override ? rf->override : "\n", rf->driver, timeout_s, why, n);
}

/* One function to vfio-pci, and its group's /dev/vfio node there for QEMU. */
static int move_func(const struct pci_func *f, unsigned timeout_s, char *why, size_t n)
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

/*
 * Gives back every function of R that no other running domain holds; keeps in the record only
 * what could not be given back. Problems are logged at PRIO.
 */
static int restore_all(const struct record *r, const struct holders *h, unsigned timeout_s, int prio)
{
	struct record left = { 0 };
	int ret = 0;

	snprintf(left.vm, sizeof(left.vm), "%s", r->vm);
	for (size_t i = r->n; i-- > 0;) {
		const struct rec_func *rf = &r->funcs[i];
		const char *holder = holders_find(h, &rf->addr, r->vm);
		char a[PCI_ADDR_LEN], why[256];

		pci_addr_format(&rf->addr, a, sizeof(a));
		if (holder) {
			log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses it now", r->vm, a, holder);
			continue;
		}
		if (restore_func(rf, timeout_s, why, sizeof(why)) < 0) {
			log_msg(prio, "%s: %s could not go back to %s: %s (the record stays: run 'vfio-hook restore %s' once the "
				"cause is gone)", r->vm, a, *rf->driver ? rf->driver : "no driver", why, r->vm);
			*(struct rec_func *)array_push(&left.funcs, &left.n, sizeof(*rf)) = *rf;
			ret = -EIO;
			continue;
		}
		log_info("%s: gave %s back to %s", r->vm, a, *rf->driver ? rf->driver : "no driver");
	}
	if (left.n)
		record_save(&left);
	else
		record_remove(r->vm);
	record_clear(&left);
	return ret;
}

int apply_prepare(const struct plan *p, unsigned timeout_s)
{
	const struct holders none = { 0 };
	struct record rec = { 0 }, rollback;
	size_t todo = 0;
	int r = 0;

	snprintf(rec.vm, sizeof(rec.vm), "%s", p->vm->name);
	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		struct rec_func rf = { .addr = f->addr };

		if (p->funcs[i].already)
			continue;
		snprintf(rf.driver, sizeof(rf.driver), "%s", f->driver ? f->driver : "");
		snprintf(rf.override, sizeof(rf.override), "%s", f->driver_override ? f->driver_override : "");
		*(struct rec_func *)array_push(&rec.funcs, &rec.n, sizeof(rf)) = rf;
	}
	if (rec.n == 0)
		goto out;
	rollback = rec;
	r = ensure_vfio_loaded(timeout_s);
	if (r < 0)
		goto out;
	/* Recorded before the first write, so a crash at any point can be undone. */
	r = record_save(&rec);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		char a[PCI_ADDR_LEN], why[256];

		if (p->funcs[i].already)
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		r = move_func(f, timeout_s, why, sizeof(why));
		if (r < 0) {
			/* The failed function is rolled back too: its first steps may have happened. */
			rollback.n = todo + 1;
			if (restore_all(&rollback, &none, timeout_s, LOG_NOTICE) == 0)
				log_error("%s: %s (%s): %s; every device was put back on its driver", p->vm->name, a,
					  pci_func_name(f), why);
			else
				log_error("%s: %s (%s): %s; some devices could not be put back: run 'vfio-hook restore %s' "
					  "when the cause is gone", p->vm->name, a, pci_func_name(f), why, p->vm->name);
			goto out;
		}
		rec.funcs[todo++].moved = true;
		r = record_save(&rec);
		if (r < 0) {
			rollback.n = todo;
			restore_all(&rollback, &none, timeout_s, LOG_ERR);
			goto out;
		}
		log_info("%s: moved %s (%s) from %s to vfio-pci", p->vm->name, a, pci_func_name(f),
			 f->driver ? f->driver : "no driver");
	}
out:
	record_clear(&rec);
	return r;
}

int apply_restore(struct record *r, const struct holders *h, unsigned timeout_s)
{
	return restore_all(r, h, timeout_s, LOG_ERR);
}

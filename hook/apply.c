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
 * Gives back functions lo..hi-1 of R (in reverse) unless another running domain holds them,
 * then stores R with only what is left: those that could not be given back and those outside
 * the range. Problems are logged at PRIO.
 */
static int restore_range(struct record *r, size_t lo, size_t hi, const struct holders *h, unsigned timeout_s,
			 int prio)
{
	int ret = 0;

	for (size_t i = hi; i-- > lo;) {
		const struct rec_func *rf = &r->funcs[i];
		const char *holder = holders_find(h, &rf->addr, r->vm);
		char a[PCI_ADDR_LEN], why[256];

		pci_addr_format(&rf->addr, a, sizeof(a));
		if (holder) {
			log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses it now", r->vm, a, holder);
		} else if (restore_func(rf, timeout_s, why, sizeof(why)) < 0) {
			log_msg(prio, "%s: %s could not go back to %s: %s (the record stays: run 'vfio-hook restore %s' once the "
				"cause is gone)", r->vm, a, *rf->driver ? rf->driver : "no driver", why, r->vm);
			ret = -EIO;
			continue;
		} else {
			log_info("%s: gave %s back to %s", r->vm, a, *rf->driver ? rf->driver : "no driver");
		}
		/* Done with it: out of the record. */
		memmove(&r->funcs[i], &r->funcs[i + 1], (r->n - i - 1) * sizeof(*rf));
		r->n--;
	}
	if (record_store(r) < 0)
		ret = -EIO;
	return ret;
}

int apply_to_host(const struct rec_func *rf, unsigned timeout_s, char *why, size_t n)
{
	return restore_func(rf, timeout_s, why, n);
}

int apply_to_vfio(const struct pci_addr *a, unsigned timeout_s, char *why, size_t n)
{
	int r = ensure_vfio_loaded(timeout_s);

	if (r < 0) {
		snprintf(why, n, "vfio-pci is not loaded");
		return r;
	}
	return rebind(a, "vfio-pci", "vfio-pci", timeout_s, why, n);
}

/* Takes over another VM's record entry for A, unless REC has one: the VM using A records it. */
static void claim(struct record *rec, const struct pci_addr *a)
{
	struct rec_func rf = { 0 };

	for (size_t k = 0; k < rec->n; k++)
		if (pci_addr_eq(&rec->funcs[k].addr, a))
			return;
	if (record_find_other(rec->vm, a, &rf))
		*(struct rec_func *)array_push(&rec->funcs, &rec->n, sizeof(rf)) = rf;
}

int apply_prepare(const struct plan *p, const struct record *inherit, unsigned timeout_s, bool record_only)
{
	const struct holders none = { 0 };
	struct record rec = { 0 };
	size_t first, todo;
	int r = 0;

	/* A record left by a crash stays part of it: it is what release must still undo. */
	if (record_load(p->vm->name, &rec) < 0)
		rec = (struct record){ 0 };
	snprintf(rec.vm, sizeof(rec.vm), "%s", p->vm->name);
	/* What was taken from other VMs, and what is on vfio-pci for another VM's start, is this VM's now. */
	for (size_t i = 0; inherit && i < inherit->n_evicted; i++) {
		struct rec_evict e = inherit->evicted[i];

		e.xml = xstrdup(e.xml);
		*(struct rec_evict *)array_push(&rec.evicted, &rec.n_evicted, sizeof(e)) = e;
		claim(&rec, &e.addr);
	}
	for (size_t i = 0; i < p->n_funcs && !record_only; i++)
		if (p->funcs[i].already)
			claim(&rec, &p->funcs[i].f->addr);
	first = todo = rec.n;
	for (size_t i = 0; i < p->n_funcs && !record_only; i++) {
		const struct pci_func *f = p->funcs[i].f;
		struct rec_func rf = { .addr = f->addr };

		if (p->funcs[i].already)
			continue;
		snprintf(rf.driver, sizeof(rf.driver), "%s", f->driver ? f->driver : "");
		snprintf(rf.override, sizeof(rf.override), "%s", f->driver_override ? f->driver_override : "");
		*(struct rec_func *)array_push(&rec.funcs, &rec.n, sizeof(rf)) = rf;
	}
	if (rec.n > first && (r = ensure_vfio_loaded(timeout_s)) < 0)
		rec.n = first; /* nothing to move after all; what was inherited is still recorded */
	if (rec.n == 0 && rec.n_evicted == 0)
		goto out;
	/* Recorded before the first write, so a crash at any point can be undone. */
	if (record_save(&rec) < 0) {
		r = -EIO;
		goto out;
	}
	/* What was taken from other VMs is ours to give back now, not theirs any more. */
	record_hand_over(&rec);
	if (r < 0 || rec.n == first)
		goto out;
	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		char a[PCI_ADDR_LEN], why[256];

		if (p->funcs[i].already)
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		r = move_func(f, timeout_s, why, sizeof(why));
		if (r < 0) {
			/* The failed function is rolled back too: its first steps may have happened. Those after it were never touched. */
			rec.n = todo + 1;
			if (restore_range(&rec, first, todo + 1, &none, timeout_s, LOG_NOTICE) == 0)
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
			rec.n = todo;
			restore_range(&rec, first, todo, &none, timeout_s, LOG_ERR);
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
	return restore_range(r, 0, r->n, h, timeout_s, LOG_ERR);
}

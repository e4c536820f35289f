/* SPDX-License-Identifier: MIT */
/*
 * The sysfs steps, as libvirt does them (driver_override, unbind, drivers_probe), each with
 * a deadline, each verified, and a rollback ladder: step N failing undoes N-1..1. Every
 * function is in the ledger before its first write.
 */
#define _GNU_SOURCE
#include "apply.h"

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
 * A host driver whose module is not loaded (a hand-over of the host's display unloaded NVIDIA's):
 * loaded before the probe that gives the function back. A failure shows in the check after it.
 */
static void load_driver(const char *want, unsigned timeout_s)
{
	_cleanup_free_ char *dir = NULL;
	char *const argv[] = { (char *)"modprobe", (char *)want, NULL };
	struct stat st;

	if (!want || !*want || streq(want, "vfio-pci") || !driver_name_valid(want))
		return;
	dir = xasprintf("/sys/bus/pci/drivers/%s", want);
	if (stat(dir, &st) < 0)
		run_with_deadline(argv, timeout_s);
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
		load_driver(want, timeout_s);
		r = sysfs_write("/sys/bus/pci/drivers_probe", a, timeout_s);
		if (r < 0) {
			snprintf(why, n, "probing for %s %s", want ? want : "its driver", step_error(r));
			return r;
		}
	}
	if (sysfs_driver(addr, cur, sizeof(cur)) < 0 || (want ? !streq(cur, want) : streq(cur, "vfio-pci"))) {
		snprintf(why, n, "%s did not bind (driver now: %s; see dmesg)", !want ? "its driver" : *want ? want : "no driver",
			 *cur ? cur : "none");
		return -EIO;
	}
	return 0;
}

int apply_to_host(const struct ledger_func *e, unsigned timeout_s, char *why, size_t n)
{
	/* An entry whose driver could not be read: clear the override and let the kernel choose. */
	if (!e->known)
		return rebind(&e->addr, "\n", NULL, timeout_s, why, n);
	return rebind(&e->addr, *e->override ? e->override : "\n", e->driver, timeout_s, why, n);
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

/* The IOMMU group of A, from its sysfs link (resolving a link takes no device lock); -1: none. */
static int group_of(const struct pci_addr *a)
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

/*
 * The running domain that uses A, or another function of A's IOMMU group: either way A must
 * stay on vfio-pci (a group is usable only while every endpoint in it is). *ret_group: the
 * group, when that is why.
 */
static const struct domain *group_user(const struct holders *h, const struct pci_addr *a, int *ret_group)
{
	const char *direct = holders_find(h, a, NULL);
	int g = -1;

	*ret_group = -1;
	if (direct)
		return holders_get(h, direct);
	for (size_t i = 0; i < h->n; i++)
		for (size_t k = 0; k < h->doms[i].n_hostdevs; k++) {
			if (g < 0 && (g = group_of(a)) < 0)
				return NULL;
			if (group_of(&h->doms[i].hostdevs[k].addr) == g) {
				*ret_group = g;
				return &h->doms[i];
			}
		}
	return NULL;
}

/* A stays on vfio-pci for the running VM D: D's, so that D's release gives it back. */
static void hand_to_user(struct ledger *l, const struct ledger_func *e, const struct domain *d)
{
	if (!ledger_vm(l, d->name))
		ledger_vm_add(l, d->name, d->uuid)->started = true;
	ledger_claim(l, &e->addr, d->name);
}

static bool wanted(const struct ledger_func *e, const char *owner, const struct pci_addr *only, size_t n)
{
	if (owner && (!e->owner || !streq(e->owner, owner)))
		return false;
	for (size_t i = 0; only && i < n; i++)
		if (pci_addr_eq(&only[i], &e->addr))
			return true;
	return !only;
}

int apply_restore(struct ledger *l, const char *owner, const struct pci_addr *only, size_t n, const struct holders *h,
		  unsigned timeout_s, int prio)
{
	int ret = 0;

	/* In reverse: the last moved goes back first. */
	for (size_t i = l->n_funcs; i-- > 0;) {
		struct ledger_func *e = &l->funcs[i];
		const char *who = e->owner ? e->owner : "(unreadable owner)";
		const struct domain *user;
		char a[PCI_ADDR_LEN], why[256];
		int group;

		if (!wanted(e, owner, only, n))
			continue;
		pci_addr_format(&e->addr, a, sizeof(a));
		user = group_user(h, &e->addr, &group);
		if (user && e->owner && streq(user->name, e->owner)) {
			if (group < 0)
				log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses it (shut %s down first)", who, a,
					user->name, user->name);
			else
				log_msg(prio, "%s: %s stays on vfio-pci: the running VM %s uses IOMMU group %d (shut %s down first)",
					who, a, user->name, group, user->name);
			ret = -EBUSY;
			continue;
		}
		if (user) {
			log_info("%s: %s stays on vfio-pci: the running VM %s uses %s; it is %s's to give back now", who, a,
				 user->name, group < 0 ? "it" : "its IOMMU group", user->name);
			hand_to_user(l, e, user);
			continue;
		}
		if (apply_to_host(e, timeout_s, why, sizeof(why)) < 0) {
			log_msg(prio, "%s: %s could not go back to %s: %s (it stays recorded: run 'vfio-hook restore %s' once "
				"the cause is gone)", who, a, !e->known ? "its driver" : *e->driver ? e->driver : "no driver",
				why, e->owner ? e->owner : "--all");
			ret = -EIO;
			continue;
		}
		log_info("%s: gave %s back to %s", who, a, !e->known ? "the driver the kernel chose" : *e->driver ? e->driver : "no driver");
		ledger_drop(l, &e->addr);
	}
	if (ledger_save(l) < 0 && ret == 0)
		ret = -EIO;
	return ret;
}

/* Undoes the moves of apply_prepare: the first N of the addresses it recorded. */
static int roll_back(struct ledger *l, const char *vm, const struct pci_addr *addrs, size_t n, unsigned timeout_s)
{
	const struct holders none = { 0 };

	return apply_restore(l, vm, addrs, n, &none, timeout_s, LOG_NOTICE);
}

int apply_prepare(const struct plan *p, struct ledger *l, unsigned timeout_s)
{
	const char *vm = p->vm->name;
	struct pci_addr *moving = NULL;
	bool *fresh = NULL, claimed = false;
	size_t n_moving = 0, n_fresh = 0;
	int r = 0;

	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		struct ledger_func *e;

		if (p->funcs[i].already)
			continue;
		/*
		 * An entry this VM's crashed start left keeps what the function was on before; any other
		 * (damaged, or another VM's about a function not on vfio-pci) is stale: what is there now counts.
		 */
		e = ledger_func(l, &f->addr);
		if (!e || e->bad || !e->owner || !streq(e->owner, vm)) {
			e = ledger_claim(l, &f->addr, vm);
			e->known = true;
			snprintf(e->driver, sizeof(e->driver), "%s", f->driver ? f->driver : "");
			snprintf(e->override, sizeof(e->override), "%s", f->driver_override ? f->driver_override : "");
			*(bool *)array_push(&fresh, &n_fresh, sizeof(bool)) = true;
		} else {
			*(bool *)array_push(&fresh, &n_fresh, sizeof(bool)) = false;
		}
		e->moved = false;
		*(struct pci_addr *)array_push(&moving, &n_moving, sizeof(f->addr)) = f->addr;
	}
	if (n_moving && (r = ensure_vfio_loaded(timeout_s)) < 0) {
		for (size_t i = 0; i < n_moving; i++)
			ledger_drop(l, &moving[i]);
		goto out;
	}
	/* Recorded before the first write, so a crash at any point can be undone. */
	if (n_moving && (r = ledger_save(l)) < 0)
		goto out;
	for (size_t i = 0, done = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		char a[PCI_ADDR_LEN], why[256];

		if (p->funcs[i].already)
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		r = move_func(f, timeout_s, why, sizeof(why));
		if (r == 0) {
			ledger_func(l, &f->addr)->moved = true;
			r = ledger_save(l);
			snprintf(why, sizeof(why), "cannot record it in %s", ledger_path());
		}
		if (r < 0) {
			/* Those after it were never touched: forgotten, unless this VM's earlier run recorded them. */
			for (size_t k = done + 1; k < n_moving; k++)
				if (fresh[k])
					ledger_drop(l, &moving[k]);
			/*
			 * The failed function is rolled back too: its first steps may have happened. Not one
			 * whose write is stuck in the kernel, though: that would only wait out another deadline.
			 */
			if (roll_back(l, vm, moving, r == -ETIMEDOUT ? done : done + 1, timeout_s) == 0 && r != -ETIMEDOUT)
				log_error("%s: %s (%s): %s; every device was put back on its driver", vm, a, pci_func_name(f), why);
			else
				log_error("%s: %s (%s): %s; some devices could not be put back: run 'vfio-hook restore %s' when "
					  "the cause is gone", vm, a, pci_func_name(f), why, vm);
			goto out;
		}
		done++;
		log_info("%s: moved %s (%s) from %s to vfio-pci", vm, a, pci_func_name(f), f->driver ? f->driver : "no driver");
	}
	/* What was on vfio-pci for another VM (taken from it, or left unused by it) is this VM's now. */
	for (size_t i = 0; i < p->n_funcs; i++) {
		const char *owner = ledger_owner(l, &p->funcs[i].f->addr);

		if (p->funcs[i].already && owner && *owner && !streq(owner, vm)) {
			ledger_claim(l, &p->funcs[i].f->addr, vm);
			claimed = true;
		}
	}
	r = claimed ? ledger_save(l) : 0;
out:
	free(fresh);
	free(moving);
	return r;
}

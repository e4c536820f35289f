/* SPDX-License-Identifier: MIT */
/*
 * Taking devices from other running VMs, and giving them back. Every libvirt call is about the
 * holder, never about the VM being started or released (libvirt holds that one's lock while its
 * hook runs), runs in an abandonable child with a deadline (virt.h), and success is read from
 * the holder's status file, not asked of libvirt.
 */
#define _GNU_SOURCE
#include "evict.h"

#include "apply.h"
#include "child.h"
#include "domxml.h"
#include "log.h"
#include "sysfs.h"
#include "util.h"
#include "virt.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define POLL_MS 200

void evict_nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* Every eviction done: detach waits for the hostdevs to go, shutdown for the holder to stop. */
static bool all_gone(const struct plan *p)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct domain d;
		bool there = domain_load_running(e->holder, &d) != -ENOENT;

		if (there && p->policy != EVICT_SHUTDOWN)
			there = domain_has(&d, &e->f->addr);
		domain_clear(&d);
		if (there)
			return false;
	}
	return true;
}

/*
 * Sends the requests: one unplug per hostdev, or one shutdown per holder. *ret_sent[i] says
 * whether eviction i was asked for (a holder may act on it later).
 */
static int request(const struct config *c, const struct plan *p, long deadline, const char *retry, bool *ret_sent)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct virt_req q = { c->opt.uri, e->holder, VIRT_SHUTDOWN, NULL, 0 };
		_cleanup_free_ char *msg = NULL;
		char a[PCI_ADDR_LEN], why[512];
		bool seen = false;
		int r;

		for (size_t k = 0; k < i && !seen; k++)
			seen = streq(p->evictions[k].holder, e->holder) && ret_sent[k];
		ret_sent[i] = p->policy == EVICT_SHUTDOWN && seen;
		if (ret_sent[i])
			continue;
		if (p->policy == EVICT_DETACH) {
			q.op = e->hd->alias ? VIRT_DETACH_ALIAS : VIRT_DETACH;
			q.arg = e->hd->alias ? e->hd->alias : e->hd->xml;
			q.flags = VIR_DOMAIN_AFFECT_LIVE;
		}
		r = virt_call(&q, deadline - now_ms(), &msg);
		ret_sent[i] = r == 0;
		if (r == 0)
			continue;
		pci_addr_format(&e->f->addr, a, sizeof(a));
		log_error("%s: cannot %s the running VM %s, which holds %s (%s): %s%s; %s keeps it: shut %s down first "
			  "(virsh shutdown %s), then %s",
			  p->vm->name, p->policy == EVICT_SHUTDOWN ? "shut down" : "hot-unplug a device from", e->holder, a,
			  pci_func_name(e->f), virt_why(r, msg, c->opt.uri, (long)c->opt.timeout * 1000L, why, sizeof(why)),
			  r == -ETIMEDOUT ? " (libvirt does not answer hooks while it autostarts VMs)" : "", e->holder,
			  e->holder, e->holder, retry);
		return r;
	}
	return 0;
}

/* The one line for an eviction that did not complete in time, naming the first holder still holding. */
static void log_not_released(const struct config *c, const struct plan *p, const char *retry)
{
	const struct eviction *e = &p->evictions[0];
	char a[PCI_ADDR_LEN];

	for (size_t i = 0; i < p->n_evictions; i++) {
		struct domain d;
		bool there;

		e = &p->evictions[i];
		there = domain_load_running(e->holder, &d) != -ENOENT &&
			(p->policy == EVICT_SHUTDOWN || domain_has(&d, &e->f->addr));
		domain_clear(&d);
		if (there)
			break;
	}
	pci_addr_format(&e->f->addr, a, sizeof(a));
	if (p->policy == EVICT_SHUTDOWN)
		log_error("%s: the running VM %s holds %s (%s) and did not shut down within %u s of an ACPI shutdown "
			  "request; it keeps running: shut it down from inside or with 'virsh destroy %s', then %s",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, retry);
	else if (config_find_vm(c, p->vm->name) == p->vm)
		log_error("%s: the running VM %s did not release %s (%s) within %u s of a hot-unplug request (a guest "
			  "without an OS or without PCI hotplug never does); %s keeps it: shut %s down first (virsh "
			  "shutdown %s), or set evict = shutdown in [vm %s] of %s",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder, e->holder,
			  p->vm->name, c->path);
	else /* a swap by hand */
		log_error("%s: the running VM %s did not release %s (%s) within %u s of a hot-unplug request (a guest "
			  "without an OS or without PCI hotplug never does); %s keeps it: shut %s down first, or add "
			  "--force to have swap shut it down",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder);
}

int evict_run(const struct config *c, const struct plan *p, struct ledger *l, const char *retry)
{
	long deadline = now_ms() + (long)c->opt.timeout * 1000L;
	_cleanup_free_ bool *sent = NULL;
	char a[PCI_ADDR_LEN];
	bool requested;
	int r;

	if (p->n_evictions == 0)
		return 0;
	sent = xcalloc(p->n_evictions, sizeof(bool));
	/* Recorded before anything is asked: a crash from here on still gives them back. */
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];

		ledger_took_add(l, &e->f->addr, p->vm->name, e->holder, e->d ? e->d->uuid : "", e->d ? e->d->id : -1,
				e->hd->xml)->pending = true;
	}
	r = ledger_save(l);
	if (r < 0)
		goto fail;
	r = request(c, p, deadline, retry, sent);
	requested = r == 0;
	while (r == 0 && !all_gone(p)) {
		if (now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		evict_nap();
	}
	if (r == 0 || (r == -ETIMEDOUT && all_gone(p))) {
		for (size_t i = 0; i < l->n_took; i++)
			if (streq(l->took[i].owner, p->vm->name))
				l->took[i].pending = false;
		for (size_t i = 0; i < p->n_evictions; i++) {
			pci_addr_format(&p->evictions[i].f->addr, a, sizeof(a));
			log_info("%s: took %s from %s (evict = %s)", p->vm->name, a, p->evictions[i].holder,
				 evict_policy_name(p->policy));
		}
		return ledger_save(l);
	}
	if (requested)
		log_not_released(c, p, retry);
fail:
	/* Never asked for: nothing will come of it. */
	for (size_t i = 0; i < p->n_evictions; i++)
		for (size_t k = 0; !sent[i] && k < l->n_took; k++)
			if (l->took[k].pending && streq(l->took[k].owner, p->vm->name) &&
			    pci_addr_eq(&l->took[k].addr, &p->evictions[i].f->addr)) {
				ledger_took_drop(l, k);
				break;
			}
	/* What did leave its holder goes back into it; the rest stays pending in the ledger. */
	evict_give_back(c->opt.uri, c->opt.timeout, l, p->vm->name, true, false);
	return r < 0 ? r : -EIO;
}

/* Is the VM a function was taken from still the one that ran then? Its status, or NULL. */
static const struct domain *same_holder(const struct holders *h, const struct ledger_took *t)
{
	const struct domain *d = holders_running(h, t->from, t->from_uuid);

	if (d && t->from_id >= 0 && d->id >= 0 && d->id != t->from_id)
		return NULL; /* restarted since: it does not expect the device back */
	return d;
}

/*
 * Puts the taken function T back into its holder, as that VM expects it: on vfio-pci (recorded
 * as the holder's before the write) for managed='no', on its host driver for managed='yes'
 * (libvirt moves it). If the hot-plug fails, the function goes to the host. 0 or -errno.
 */
static int give_back_one(const char *uri, unsigned timeout_s, struct ledger *l, const struct ledger_took *t)
{
	const struct virt_req q = { uri, t->from, VIRT_ATTACH, t->xml, VIR_DOMAIN_AFFECT_LIVE };
	bool managed = strstr(t->xml, "managed=\"yes\"") || strstr(t->xml, "managed='yes'");
	struct ledger_func *e = ledger_func(l, &t->addr);
	_cleanup_free_ char *msg = NULL;
	char a[PCI_ADDR_LEN], why[512] = "";
	int k = 0;

	pci_addr_format(&t->addr, a, sizeof(a));
	if (managed) {
		/* libvirt moves it to vfio-pci itself, from the host driver it expects. */
		if (e && (k = apply_to_host(e, timeout_s, why, sizeof(why))) == 0) {
			ledger_drop(l, &t->addr);
			e = NULL;
		}
	} else {
		/* On vfio-pci for the holder: its release gives it to the host, so it is the holder's. */
		char drv[64] = "";

		if (e) {
			e = ledger_claim(l, &t->addr, t->from);
		} else if (sysfs_driver(&t->addr, drv, sizeof(drv)) == 0 && !streq(drv, "vfio-pci")) {
			e = ledger_claim(l, &t->addr, t->from);
			snprintf(e->driver, sizeof(e->driver), "%s", drv);
		}
		if (e)
			k = ledger_save(l);
		if (k == 0)
			k = apply_to_vfio(&t->addr, timeout_s, why, sizeof(why));
		if (e && k == 0)
			e->moved = true;
	}
	if (k == 0) {
		k = virt_call(&q, (long)timeout_s * 1000L, &msg);
		if (k < 0)
			virt_why(k, msg, uri, (long)timeout_s * 1000L, why, sizeof(why));
	}
	if (k == -ETIMEDOUT && !managed) {
		/* libvirt may still plug it in: it stays on vfio-pci, that VM's, for its release to give back. */
		log_warning("%s: no answer in time giving %s back to %s: %s; it stays on vfio-pci for %s", t->owner, a,
			    t->from, why, t->from);
		return k;
	}
	if (k < 0) {
		log_warning("%s: could not give %s back to %s: %s; it goes back to the host", t->owner, a, t->from, why);
		if (e && e->owner && streq(e->owner, t->from)) {
			const struct holders none = { 0 };
			const struct pci_addr only = t->addr;

			apply_restore(l, t->from, &only, 1, &none, timeout_s, LOG_WARNING);
		}
		return k;
	}
	log_info("%s: gave %s back to the running VM %s", t->owner, a, t->from);
	return 0;
}

/* Does anyone still run as, or start as, VM NAME? */
static bool alive(const struct holders *h, const struct ledger *l, const char *name)
{
	return holders_get(h, name) || ledger_vm(l, name);
}

static bool among(const struct pci_addr *a, const struct pci_addr *only, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_eq(a, &only[i]))
			return true;
	return !only;
}

static void give_back(const char *uri, unsigned timeout_s, struct ledger *l, const char *owner, const struct pci_addr *only,
		      size_t n, bool force, bool final)
{
	struct holders h = { 0 };

	/* Without the running VMs no record can be judged: all stay for a later run. */
	if (holders_load(&h) < 0)
		return;
	for (size_t i = 0; i < l->n_took;) {
		struct ledger_took *t = &l->took[i];
		const struct domain *d;
		char a[PCI_ADDR_LEN];

		if ((owner ? !streq(t->owner, owner) : alive(&h, l, t->owner)) || !among(&t->addr, only, n)) {
			i++;
			continue;
		}
		pci_addr_format(&t->addr, a, sizeof(a));
		d = same_holder(&h, t);
		if (d && domain_has(d, &t->addr)) {
			/* Never taken after all, or not yet: a late unplug is given back by a later run. */
			if (t->pending && !final) {
				i++;
				continue;
			}
		} else if (!d) {
			log_info("%s: %s, which %s came from, is not running any more: it stays with the host", t->owner,
				 t->from, a);
		} else if (!force && !t->pending && owner) {
			/* giveback = no: it goes to the host with the rest of OWNER's devices. */
		} else if (holders_find(&h, &t->addr, t->from) ||
			   (ledger_owner(l, &t->addr) && !streq(ledger_owner(l, &t->addr), t->owner) &&
			    !streq(ledger_owner(l, &t->addr), t->from))) {
			log_info("%s: %s is another VM's now: it does not go back to %s", t->owner, a, t->from);
		} else {
			give_back_one(uri, timeout_s, l, t);
		}
		ledger_took_drop(l, i);
	}
	holders_clear(&h);
	ledger_save(l);
}

void evict_give_back(const char *uri, unsigned timeout_s, struct ledger *l, const char *owner, bool force, bool final)
{
	give_back(uri, timeout_s, l, owner, NULL, 0, force, final);
}

void evict_give_back_only(const char *uri, unsigned timeout_s, struct ledger *l, const char *owner,
			  const struct pci_addr *only, size_t n)
{
	give_back(uri, timeout_s, l, owner, only, n, true, true);
}

void evict_settle(struct ledger *l, const char *owner, unsigned timeout_s)
{
	long deadline = now_ms() + (long)timeout_s * 1000L;

	for (;;) {
		struct holders h = { 0 };
		bool waiting = false;

		if (holders_load(&h) < 0)
			return;
		for (size_t i = 0; i < l->n_took && !waiting; i++) {
			const struct ledger_took *t = &l->took[i];
			const struct domain *d;

			if (t->pending && streq(t->owner, owner) && (d = same_holder(&h, t)))
				waiting = domain_has(d, &t->addr);
		}
		holders_clear(&h);
		if (!waiting || now_ms() >= deadline)
			return;
		evict_nap();
	}
}

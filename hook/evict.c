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

/* Does the running VM NAME still have A? A VM that is not running has nothing. */
static bool still_has(const char *name, const struct pci_addr *a)
{
	struct domain d;
	bool r;

	if (domain_load_running(name, &d) < 0)
		return false;
	r = domain_has(&d, a);
	domain_clear(&d);
	return r;
}

static bool running(const char *name)
{
	struct domain d;
	int r = domain_load_running(name, &d);

	domain_clear(&d);
	return r != -ENOENT;
}

/* Every eviction done: detach waits for the hostdevs to go, shutdown for the holder to stop. */
static bool all_gone(const struct plan *p)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];

		if (p->policy == EVICT_SHUTDOWN ? running(e->holder) : still_has(e->holder, &e->f->addr))
			return false;
	}
	return true;
}

/* Puts back into their holders the hostdevs a failed detach did remove. */
static void plug_back(const struct config *c, const struct plan *p)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		const struct virt_req q = { c->opt.uri, e->holder, VIRT_ATTACH, e->hd->xml, VIR_DOMAIN_AFFECT_LIVE };
		_cleanup_free_ char *msg = NULL;
		char a[PCI_ADDR_LEN];
		int r;

		if (!running(e->holder) || still_has(e->holder, &e->f->addr))
			continue;
		pci_addr_format(&e->f->addr, a, sizeof(a));
		r = virt_call(&q, (long)c->opt.timeout * 1000L, &msg);
		if (r < 0) {
			char why[512];

			log_msg(LOG_NOTICE, "%s: could not plug %s back into %s: %s", p->vm->name, a, e->holder,
				virt_why(r, msg, c->opt.uri, (long)c->opt.timeout * 1000L, why, sizeof(why)));
		} else
			log_msg(LOG_NOTICE, "%s: plugged %s back into %s", p->vm->name, a, e->holder);
	}
}

/* Sends the requests: one unplug per hostdev, or one shutdown per holder. */
static int request(const struct config *c, const struct plan *p, long deadline, const char *retry)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct virt_req q = { c->opt.uri, e->holder, VIRT_SHUTDOWN, NULL, 0 };
		_cleanup_free_ char *msg = NULL;
		char a[PCI_ADDR_LEN], why[512];
		bool seen = false;
		int r;

		for (size_t k = 0; k < i && !seen; k++)
			seen = streq(p->evictions[k].holder, e->holder);
		if (p->policy == EVICT_SHUTDOWN && seen)
			continue;
		if (p->policy == EVICT_DETACH) {
			q.op = e->hd->alias ? VIRT_DETACH_ALIAS : VIRT_DETACH;
			q.arg = e->hd->alias ? e->hd->alias : e->hd->xml;
			q.flags = VIR_DOMAIN_AFFECT_LIVE;
		}
		r = virt_call(&q, deadline - now_ms(), &msg);
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

static void fill_inherit(const struct plan *p, struct record *inherit)
{
	*inherit = (struct record){ 0 };
	snprintf(inherit->vm, sizeof(inherit->vm), "%s", p->vm->name);
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct rec_evict ev = { .addr = e->f->addr, .xml = xstrdup(e->hd->xml) };

		snprintf(ev.from, sizeof(ev.from), "%s", e->holder);
		*(struct rec_evict *)array_push(&inherit->evicted, &inherit->n_evicted, sizeof(ev)) = ev;
	}
}

int evict_run(const struct config *c, const struct plan *p, const char *retry, struct record *inherit)
{
	long deadline = now_ms() + (long)c->opt.timeout * 1000L;
	const struct eviction *e = &p->evictions[0];
	char a[PCI_ADDR_LEN];
	bool requested;
	int r;

	*inherit = (struct record){ 0 };
	if (p->n_evictions == 0)
		return 0;
	r = request(c, p, deadline, retry);
	requested = r == 0;
	while (r == 0 && !all_gone(p)) {
		if (now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		evict_nap();
	}
	if (r == 0 || (r == -ETIMEDOUT && all_gone(p))) {
		for (size_t i = 0; i < p->n_evictions; i++) {
			pci_addr_format(&p->evictions[i].f->addr, a, sizeof(a));
			log_info("%s: took %s from %s (evict = %s)", p->vm->name, a, p->evictions[i].holder,
				 evict_policy_name(p->policy));
		}
		fill_inherit(p, inherit);
		return 0;
	}
	if (requested) {
		/* The first one still held names the holder in the one line. */
		for (size_t i = 0; i < p->n_evictions; i++) {
			e = &p->evictions[i];
			if (p->policy == EVICT_SHUTDOWN ? running(e->holder) : still_has(e->holder, &e->f->addr))
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
				  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder,
				  e->holder, p->vm->name, c->path);
		else /* a swap by hand */
			log_error("%s: the running VM %s did not release %s (%s) within %u s of a hot-unplug request (a guest "
				  "without an OS or without PCI hotplug never does); %s keeps it: shut %s down first, or add "
				  "--force to have swap shut it down",
				  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder);
	}
	if (p->policy == EVICT_DETACH)
		plug_back(c, p);
	return r;
}

/* Hot-plugs one evicted function back into the VM it came from, as that VM had it. */
static int give_back_one(const char *uri, unsigned timeout_s, struct record *r, const struct rec_evict *ev)
{
	const struct virt_req q = { uri, ev->from, VIRT_ATTACH, ev->xml, VIR_DOMAIN_AFFECT_LIVE };
	bool managed = strstr(ev->xml, "managed=\"yes\"") != NULL;
	_cleanup_free_ char *msg = NULL;
	char a[PCI_ADDR_LEN], why[512];
	struct rec_func rf;
	bool ours = record_take(r, &ev->addr, &rf);
	int k;

	pci_addr_format(&ev->addr, a, sizeof(a));
	/* managed='yes': libvirt moves it to vfio-pci itself, from the host driver it expects. */
	k = managed ? (ours ? apply_to_host(&rf, timeout_s, why, sizeof(why)) : 0)
		    : apply_to_vfio(&ev->addr, timeout_s, why, sizeof(why));
	if (k == 0) {
		k = virt_call(&q, (long)timeout_s * 1000L, &msg);
		if (k < 0)
			virt_why(k, msg, uri, (long)timeout_s * 1000L, why, sizeof(why));
	}
	if (k < 0) {
		log_warning("%s: could not give %s back to %s: %s; it goes back to the host", r->vm, a, ev->from, why);
		if (ours)
			*(struct rec_func *)array_push(&r->funcs, &r->n, sizeof(rf)) = rf;
		return k;
	}
	log_info("%s: gave %s back to the running VM %s", r->vm, a, ev->from);
	if (ours && !managed) {
		/* Its host driver is now for that VM's release to restore. */
		struct record to = { 0 };

		if (record_load(ev->from, &to) < 0)
			to = (struct record){ 0 };
		snprintf(to.vm, sizeof(to.vm), "%s", ev->from);
		*(struct rec_func *)array_push(&to.funcs, &to.n, sizeof(rf)) = rf;
		record_save(&to);
		record_clear(&to);
	}
	return 0;
}

void evict_give_back(const char *uri, unsigned timeout_s, struct record *r)
{
	for (size_t i = 0; i < r->n_evicted; i++) {
		const struct rec_evict *ev = &r->evicted[i];

		if (streq(ev->from, r->vm))
			continue;
		if (!running(ev->from)) {
			char a[PCI_ADDR_LEN];

			pci_addr_format(&ev->addr, a, sizeof(a));
			log_info("%s: %s is not running any more: %s goes back to the host", r->vm, ev->from, a);
			continue;
		}
		give_back_one(uri, timeout_s, r, ev);
	}
	record_clear_evicted(r);
}

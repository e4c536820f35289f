/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook swap VM DEVICE: a PCI device (a [pci] name: the whole set; an id; an address) into
 * VM. Running: taken from its holder (evict policy, --force: shutdown), moved to vfio-pci,
 * hot-plugged. Shut off, with --config: moved between the persistent definitions.
 */
#define _GNU_SOURCE
#include "actions.h"

#include "apply.h"
#include "child.h"
#include "evict.h"
#include "log.h"
#include "resolve.h"
#include "state.h"
#include "util.h"
#include "virt.h"
#include "world.h"

#include <errno.h>
#include <string.h>

/* DEVICE as a map entry list: a [pci] section's, or one id/address of its own. */
struct selection {
	struct vm vm; /* named after the target VM, so the plan excludes it as a holder */
	struct vm_pci one;
	struct pci_entry entry;
	const struct vm *mapped; /* the target VM in the map, or NULL */
};

static int select_device(const struct config *c, const char *vm_name, const char *device, struct selection *s)
{
	const struct pci_set *set = config_find_pci_set(c, device);

	*s = (struct selection){ .vm = { .name = (char *)vm_name } };
	s->mapped = config_find_vm(c, vm_name);
	if (set) {
		for (size_t i = 0; i < set->n_entries; i++) {
			struct vm_pci *vp = array_push(&s->vm.pci, &s->vm.n_pci, sizeof(*vp));

			*vp = (struct vm_pci){ &set->entries[i], set, set->line };
		}
		return 0;
	}
	if (pci_sel_parse(device, &s->entry.sel) < 0) {
		log_error("unknown device \"%s\": not a [pci] name in %s, nor a vendor:device id or an address (see "
			  "'vfio-hook groups')",
			  device, c->path);
		return -EINVAL;
	}
	s->one = (struct vm_pci){ &s->entry, NULL, 0 };
	s->vm.pci = &s->one;
	s->vm.n_pci = 1;
	return 0;
}

static void selection_clear(struct selection *s)
{
	if (s->vm.pci != &s->one)
		free(s->vm.pci);
}

/*
 * Puts back what a failed live swap did: TAKEN to the VMs they came from, else with MOVED (what
 * VM did not own before) to the host.
 */
static void undo_live(struct world *w, const char *vm, const struct pci_addr *moved, size_t n_moved,
		      const struct pci_addr *taken, size_t n_taken)
{
	struct holders now = { 0 };

	if (n_taken)
		evict_give_back_only(w->cfg->opt.uri, w->cfg->opt.timeout, &w->l, vm, taken, n_taken);
	/* Whatever VM still has (an unplug it did not acknowledge) must not be unbound under it. */
	if (holders_load(&now) < 0) {
		log_error("%s: what the swap moved stays on vfio-pci: which VMs are running cannot be read (see above); fix that, then run 'vfio-hook restore %s'",
			  vm, vm);
		return;
	}
	if (n_moved)
		apply_restore(&w->l, vm, moved, n_moved, &now, w->cfg->opt.timeout, LOG_ERR);
	holders_clear(&now);
}

/* Unplugs from VM what a failed swap plugged in, waiting at most timeout for each to go. */
static void unplug_again(const struct world *w, const char *vm, const struct pci_addr *addrs, size_t n)
{
	long deadline = now_ms() + (long)w->cfg->opt.timeout * 1000L;

	for (size_t i = 0; i < n; i++) {
		struct domain d = { 0 };
		const struct hostdev *hd;
		_cleanup_free_ char *out = NULL;

		if (domain_load_running(vm, &d) == 0 && (hd = domain_hostdev(&d, &addrs[i])) && hd->alias) {
			const struct virt_req q = { w->cfg->opt.uri, vm, VIRT_DETACH_ALIAS, hd->alias, VIR_DOMAIN_AFFECT_LIVE };

			virt_call(&q, deadline - now_ms(), &out);
		}
		domain_clear(&d);
	}
	for (;;) {
		struct domain d = { 0 };
		bool left = false;

		if (domain_load_running(vm, &d) == 0)
			for (size_t i = 0; i < n; i++)
				left = left || domain_has(&d, &addrs[i]);
		domain_clear(&d);
		if (!left || now_ms() >= deadline)
			return;
		evict_nap();
	}
}

/* Hot-plugs the plan's functions VM does not have yet; on failure says why in LINE. */
static int attach_live(const struct world *w, const char *vm, const struct plan *p, const struct domain *live,
		       char *line, size_t n)
{
	struct pci_addr *plugged = NULL;
	size_t n_plugged = 0;

	for (size_t i = 0; i < p->n_funcs; i++) {
		const struct pci_func *f = p->funcs[i].f;
		_cleanup_free_ char *xml = pci_hostdev_xml(&f->addr, false), *out = NULL;
		const struct virt_req q = { w->cfg->opt.uri, vm, VIRT_ATTACH, xml, VIR_DOMAIN_AFFECT_LIVE };
		char a[PCI_ADDR_LEN];
		int r;

		if (domain_has(live, &f->addr))
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		r = virt_call(&q, (long)w->cfg->opt.timeout * 1000L, &out);
		if (r < 0) {
			char why[512];

			snprintf(line, n, "%s: cannot hot-plug %s (%s): %s; everything was put back", vm, a, pci_func_name(f),
				 virt_why(r, out, w->cfg->opt.uri, (long)w->cfg->opt.timeout * 1000L, why, sizeof(why)));
			unplug_again(w, vm, plugged, n_plugged);
			free(plugged);
			return r;
		}
		*(struct pci_addr *)array_push(&plugged, &n_plugged, sizeof(f->addr)) = f->addr;
	}
	free(plugged);
	return 0;
}

static int swap_live(struct world *w, const char *vm, const char *device, enum evict_policy policy,
		     const struct selection *s)
{
	struct plan p = { 0 };
	struct domain live = { 0 };
	_cleanup_free_ char *retry = xasprintf("run 'vfio-hook swap %s %s' again", vm, device);
	struct pci_addr *moved = NULL, *taken = NULL;
	size_t n_moved = 0, n_taken = 0;
	char **took = NULL;
	size_t n_took = 0;
	bool has_all = true;
	char line[1024] = "";
	int r;

	r = plan_or_refuse(w, &s->vm, policy, NULL, &p);
	if (r < 0)
		goto out;
	domain_load_running(vm, &live);
	for (size_t i = 0; i < p.n_funcs; i++)
		has_all = has_all && domain_has(&live, &p.funcs[i].f->addr);
	if (has_all) {
		printf("%s already has %s; nothing changed\n", vm, device);
		goto out;
	}
	state_lock_hold(w->lock, plan_hold_ms(&p, w->cfg->opt.timeout) + (long)p.n_funcs * w->cfg->opt.timeout * 2000L);
	/* What this swap changes, and only that, is what a failure undoes. */
	for (size_t i = 0; i < p.n_evictions; i++) {
		char a[PCI_ADDR_LEN];

		pci_addr_format(&p.evictions[i].f->addr, a, sizeof(a));
		*(struct pci_addr *)array_push(&taken, &n_taken, sizeof(struct pci_addr)) = p.evictions[i].f->addr;
		*(char **)array_push(&took, &n_took, sizeof(char *)) = xasprintf("took %s from %s", a, p.evictions[i].holder);
	}
	/* What VM owned before is its own start's: a failure here leaves that alone. */
	for (size_t i = 0; i < p.n_funcs; i++) {
		const char *owner = ledger_owner(&w->l, &p.funcs[i].f->addr);

		if (!owner || !streq(owner, vm))
			*(struct pci_addr *)array_push(&moved, &n_moved, sizeof(struct pci_addr)) = p.funcs[i].f->addr;
	}
	/* Running (it has a status file); libvirt's "started" may still be ahead: that stays as it was. */
	if (!ledger_vm(&w->l, vm))
		ledger_vm_add(&w->l, vm, live.uuid)->started = true;
	r = evict_and_apply(w, &s->vm, NULL, retry, &p);
	for (size_t i = 0; i < n_took && (r == 0 || p.n_evictions == 0); i++)
		printf("%s\n", took[i]);
	if (r == 0)
		r = attach_live(w, vm, &p, &live, line, sizeof(line));
	if (r < 0) {
		/* A failed eviction or move put itself back; a failed hot-plug is undone here. */
		if (*line) {
			undo_live(w, vm, moved, n_moved, taken, n_taken);
			log_error("%s", line);
		}
		goto out;
	}
	for (size_t i = 0; i < p.n_funcs; i++) {
		char a[PCI_ADDR_LEN];

		pci_addr_format(&p.funcs[i].f->addr, a, sizeof(a));
		printf("%s (%s) is in %s now\n", a, pci_func_name(p.funcs[i].f), vm);
	}
out:
	ledger_vm_tidy(&w->l, vm);
	ledger_save(&w->l);
	for (size_t i = 0; i < n_took; i++)
		free(took[i]);
	free(took);
	free(moved);
	free(taken);
	domain_clear(&live);
	plan_clear(&p);
	return r;
}

/* Moves the <hostdev> entries between persistent definitions: VM gets them, every other loses them. */
static int swap_config(const struct world *w, const char *vm, const char *device, const struct selection *s)
{
	const struct config *c = w->cfg;
	const long t = (long)c->opt.timeout * 1000L;
	const struct virt_req list = { c->opt.uri, NULL, VIRT_LIST_DEFINED, NULL, 0 };
	_cleanup_free_ char *names = NULL;
	char *save = NULL, why[512];
	size_t changed = 0;
	int r = virt_call(&list, t, &names);

	if (r < 0) {
		log_error("cannot list the defined VMs: %s", virt_why(r, names, c->opt.uri, t, why, sizeof(why)));
		return r;
	}
	for (char *name = strtok_r(names, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
		const struct virt_req get = { c->opt.uri, name, VIRT_XML, NULL, VIR_DOMAIN_XML_INACTIVE };
		_cleanup_free_ char *xml = NULL;
		struct domain d = { 0 };

		if (virt_call(&get, t, &xml) < 0 || domain_parse(xml, strlen(xml), &d) < 0)
			continue;
		for (size_t i = 0; i < w->m->n_funcs; i++) {
			const struct pci_func *f = &w->m->funcs[i];
			const struct hostdev *hd = domain_hostdev(&d, &f->addr);
			_cleanup_free_ char *add = NULL, *out = NULL;
			struct virt_req q = { c->opt.uri, name, VIRT_DETACH, NULL, VIR_DOMAIN_AFFECT_CONFIG };
			char a[PCI_ADDR_LEN];

			if (!vm_gets(&s->vm, f))
				continue;
			if (streq(name, vm)) {
				if (hd)
					continue;
				/* Our hook binds what the map gives VM; anything else libvirt must bind itself. */
				add = pci_hostdev_xml(&f->addr, !(s->mapped && vm_gets(s->mapped, f)));
				q.op = VIRT_ATTACH;
				q.arg = add;
			} else {
				if (!hd)
					continue;
				q.arg = hd->xml;
			}
			pci_addr_format(&f->addr, a, sizeof(a));
			r = virt_call(&q, t, &out);
			if (r < 0) {
				log_error("cannot %s %s %s %s's definition: %s (%zu change%s made before this one)",
					  q.op == VIRT_ATTACH ? "add" : "remove", a, q.op == VIRT_ATTACH ? "to" : "from", name,
					  virt_why(r, out, c->opt.uri, t, why, sizeof(why)), changed, changed == 1 ? "" : "s");
				domain_clear(&d);
				return r;
			}
			printf("%s %s (%s) %s %s's definition\n", q.op == VIRT_ATTACH ? "added" : "removed", a,
			       pci_func_name(f), q.op == VIRT_ATTACH ? "to" : "from", name);
			changed++;
		}
		domain_clear(&d);
	}
	if (!changed)
		printf("%s's definition already has %s, and no other VM's does; nothing changed\n", vm, device);
	return 0;
}

int action_swap(const char *cfg_path, const char *vm, const char *device, bool force, bool config)
{
	struct world w;
	struct selection s = { 0 };
	struct domain live = { 0 };
	bool found = false, running;
	int lock = -1, r;

	r = world_load(cfg_path, &w);
	if (r < 0)
		goto out;
	r = select_device(w.cfg, vm, device, &s);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < w.m->n_funcs && !found; i++)
		found = vm_gets(&s.vm, &w.m->funcs[i]) != NULL;
	if (!found) {
		log_error("%s matches no PCI function on this machine (see 'vfio-hook groups')", device);
		r = -ENODEV;
		goto out;
	}
	running = domain_load_running(vm, &live) == 0;
	if (!running && (r = virt_known(w.cfg->opt.uri, w.cfg->opt.timeout, vm)) < 0)
		goto out;
	if (!running && !config) {
		log_error("%s is not running: start it first, or add --config to move %s in the persistent definitions", vm,
			  device);
		r = -EINVAL;
		goto out;
	}
	lock = state_lock("swap", lock_timeout(w.cfg->opt.timeout));
	if (lock < 0) {
		r = lock;
		goto out;
	}
	w.lock = lock;
	r = ledger_load(&w.l);
	if (r < 0)
		goto out;
	if (running)
		r = swap_live(&w, vm, device,
			      force ? EVICT_SHUTDOWN : s.mapped ? vm_evict(w.cfg, s.mapped) : w.cfg->opt.evict, &s);
	if (r == 0 && config)
		r = swap_config(&w, vm, device, &s);
out:
	state_unlock(lock);
	domain_clear(&live);
	selection_clear(&s);
	world_clear(&w);
	return r;
}

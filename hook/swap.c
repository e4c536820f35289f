/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook swap VM DEVICE: a PCI device (a [pci] name: the whole set; an id; an address) into
 * VM. Running: taken from its holder (evict policy, --force: shutdown), moved to vfio-pci,
 * hot-plugged. Shut off, with --config: moved between the persistent definitions.
 */
#define _GNU_SOURCE
#include "actions.h"

#include "engine.h"
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

static int swap_live(struct world *w, const char *vm, const char *device, enum evict_policy policy,
		     const struct selection *s)
{
	_cleanup_free_ char *qvm = shell_quote_inner(vm), *qdev = shell_quote_inner(device);
	_cleanup_free_ char *retry = xasprintf("run 'vfio-hook swap %s %s' again", qvm, qdev);
	const struct take_req q = { .vm = vm, .sel = s, .policy = policy, .retry = retry, .plug = true, .say = true };
	struct plan p = { 0 };
	struct domain live = { 0 };
	bool has_all = true;
	int r;

	/* What it is about, as it stands: already there, nothing to do. */
	r = engine_plan(w, &q, &p);
	if (r < 0)
		goto out;
	domain_load_running(vm, &live);
	for (size_t i = 0; i < p.n_funcs; i++)
		has_all = has_all && domain_has(&live, &p.funcs[i].f->addr);
	if (has_all && !p.n_refusals) {
		printf("%s already has %s; nothing changed\n", vm, device);
		goto out;
	}
	r = engine_take(w, &q);
	if (r < 0)
		goto out;
	r = 0;
	/* A hot-plug libvirt did not answer may land later: the VM owns it meanwhile (step-plug.c). */
	domain_clear(&live);
	domain_load_running(vm, &live);
	for (size_t i = 0; i < p.n_funcs; i++) {
		const struct pci_func *f = p.funcs[i].f;
		char a[PCI_ADDR_LEN];

		pci_addr_format(&f->addr, a, sizeof(a));
		if (domain_has(&live, &f->addr)) {
			printf("%s (%s) is in %s now\n", a, pci_func_name(f), vm);
			continue;
		}
		log_error("%s: %s (%s) is %s's, on vfio-pci, but %s does not have it: libvirt did not answer its hot-plug in "
			  "time and may still plug it (check with 'virsh dumpxml %s'; if it never does, %s's stop gives it "
			  "back to the host)", vm, a, pci_func_name(f), vm, vm, vm, vm);
		r = -ETIMEDOUT;
	}
out:
	domain_clear(&live);
	plan_clear(&p);
	return r;
}

/*
 * What the engine would say of the VM's next start with DEVICE, on the machine as it is now: a
 * definition that its start will refuse is said at once, not at the next 'virsh start'.
 */
static void swap_config_check(const struct world *w, const char *vm, const struct selection *s)
{
	struct selection all;
	struct plan p = { 0 };

	/* Only a VM of the map has a start the hook plans; libvirt binds the others' devices itself. */
	if (!s->mapped)
		return;
	selection_vm(w->cfg, s->mapped, &all);
	const struct take_req q = { .vm = vm, .sel = &all, .policy = vm_evict(w->cfg, s->mapped) };

	if (engine_plan(w, &q, &p) == 0 && p.n_refusals) {
		char line[1024];

		plan_problem_line(&p, line, sizeof(line));
		log_warning("%s: its next start will be refused as things are now: %s", vm, line);
	}
	plan_clear(&p);
	selection_clear(&all);
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

			if (!vm_gets(s->vm, f))
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
	swap_config_check(w, vm, s);
	return 0;
}

int action_swap(const char *cfg_path, const char *vm, const char *device, bool force, bool config)
{
	struct world w;
	struct selection s = { 0 };
	struct domain live = { 0 };
	bool found = false, running;
	int r;

	r = world_load(cfg_path, &w);
	if (r < 0)
		goto out;
	r = selection_device(w.cfg, vm, device, &s);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < w.m->n_funcs && !found; i++)
		found = vm_gets(s.vm, &w.m->funcs[i]) != NULL;
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
	r = world_lock(&w, "swap", w.cfg->opt.timeout);
	if (r < 0)
		goto out;
	if (running)
		r = swap_live(&w, vm, device,
			      force ? EVICT_SHUTDOWN : s.mapped ? vm_evict(w.cfg, s.mapped) : w.cfg->opt.evict, &s);
	if (r == 0 && config)
		r = swap_config(&w, vm, device, &s);
out:
	world_unlock(&w);
	domain_clear(&live);
	selection_clear(&s);
	world_clear(&w);
	return r;
}

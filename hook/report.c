/* SPDX-License-Identifier: MIT */
/*
 * What the command line shows without changing anything: --check VM (the plan a start would
 * follow, through the engine's own planning) and status (who holds what).
 */
#define _GNU_SOURCE
#include "actions.h"

#include "claims.h"
#include "display.h"
#include "engine.h"
#include "log.h"
#include "resolve.h"
#include "state.h"
#include "util.h"
#include "virt.h"
#include "world.h"

#include <errno.h>
#include <string.h>

/* The domain XML for --check, from libvirt when no --xml is given, with the map's deadline. */
static char *xml_from_libvirt(const char *uri, unsigned timeout_s, const char *vm)
{
	const struct virt_req q = { uri, vm, VIRT_XML, NULL, VIR_DOMAIN_XML_INACTIVE };
	char *xml = NULL;

	if (virt_call(&q, (long)timeout_s * 1000L, &xml) < 0) {
		free(xml);
		return NULL;
	}
	return xml;
}

/*
 * The plan a start of VM would follow, as --check shows it: SEE(PLAN, DATA) is given it. The
 * domain XML from XML_FILE, else from libvirt (a warning when it cannot be had; for doctor,
 * QUIET, in the verdict instead; with ASK false, libvirt is not asked: it did not answer doctor
 * already). 0, or -errno (logged) when no plan could be made.
 */
static int dry_run(const char *cfg_path, const char *vm_name, const char *xml_file, bool quiet, bool ask,
		   void (*see)(const struct plan *p, bool no_xml, void *data), void *data)
{
	struct world w;
	struct domain dom = { 0 };
	struct selection s = { 0 };
	struct plan p = { 0 };
	const struct vm *vm;
	char *xml = NULL;
	bool closed;
	int r;

	r = world_load(cfg_path, &w);
	if (r < 0)
		goto out;
	vm = config_find_vm(w.cfg, vm_name);
	if (!vm) {
		log_error("%s is not in %s (add a [vm %s] section)", vm_name, w.cfg->path, vm_name);
		r = -EINVAL;
		goto out;
	}
	if (xml_file) {
		xml = read_file(xml_file);
		if (!xml) {
			log_error("cannot read %s: %m", xml_file);
			r = -EINVAL;
			goto out;
		}
	} else {
		xml = quiet && (!ask || !virt_may_ask(w.cfg->opt.uri)) ? NULL : xml_from_libvirt(w.cfg->opt.uri, w.cfg->opt.timeout, vm_name);
		if (!xml && !quiet)
			log_warning("cannot get %s's XML from %s: skipping the <hostdev> cross-check (or pass --xml FILE)",
				    vm_name, w.cfg->opt.uri);
	}
	if (xml && domain_parse(xml, strlen(xml), &dom) < 0) {
		log_error("%s: not a libvirt domain XML", xml_file ? xml_file : "libvirt's answer");
		r = -EINVAL;
		goto out;
	}
	r = ledger_load(&w.l);
	if (r < 0 && r != -EACCES) {
		r = -EIO;
		goto out;
	}
	closed = r == -EACCES;
	selection_vm(w.cfg, vm, &s);
	{
		const struct take_req q = { .vm = vm_name, .sel = &s, .policy = vm_evict(w.cfg, vm), .dom = dom.name ? &dom : NULL,
					    .claims = true };

		r = engine_plan(&w, &q, &p);
	}
	if (r < 0)
		goto out;
	if (closed)
		plan_unchecked(&p, UNCHECKED_ROOT_REFUSES, "%s cannot be read: what vfio-hook holds now (its moves, the host's display) is not checked",
			       ledger_path());
	see(&p, !dom.name, data);
	r = 0;
out:
	free(xml);
	selection_clear(&s);
	plan_clear(&p);
	domain_clear(&dom);
	world_clear(&w);
	return r;
}

static void describe(const struct plan *p, bool no_xml, void *data)
{
	int *refused = data;

	(void)no_xml;
	engine_describe(p, stdout);
	*refused = p->n_refusals > 0;
}

int action_check(const char *cfg_path, const char *vm_name, const char *xml_file)
{
	int refused = 0, r = dry_run(cfg_path, vm_name, xml_file, false, true, describe, &refused);

	return r < 0 ? r : refused ? -EPERM : 0;
}

static void keep_verdict(const struct plan *p, bool no_xml, void *data)
{
	struct check_verdict *v = data;

	v->n_funcs = p->n_funcs;
	v->unsure = p->unsure;
	v->no_xml = no_xml;
	for (size_t i = 0; i < p->n_refusals; i++)
		*(char **)array_push(&v->refusals, &v->n_refusals, sizeof(char *)) = xstrdup(p->refusals[i]);
	for (size_t i = 0; i < p->n_warnings; i++)
		*(char **)array_push(&v->warnings, &v->n_warnings, sizeof(char *)) = xstrdup(p->warnings[i]);
}

int check_verdict(const char *cfg_path, const char *vm_name, bool ask_libvirt, struct check_verdict *ret)
{
	*ret = (struct check_verdict){ 0 };
	return dry_run(cfg_path, vm_name, NULL, true, ask_libvirt, keep_verdict, ret);
}

void check_verdict_clear(struct check_verdict *v)
{
	for (size_t i = 0; i < v->n_warnings; i++)
		free(v->warnings[i]);
	for (size_t i = 0; i < v->n_refusals; i++)
		free(v->refusals[i]);
	free(v->warnings);
	free(v->refusals);
	*v = (struct check_verdict){ 0 };
}

int action_status(const char *cfg_path)
{
	struct world w;
	char **names = NULL;
	size_t n;
	bool damaged, closed;
	int r = world_load(cfg_path, &w);

	if (r < 0)
		goto out;
	/* Read without the lock: the ledger is replaced atomically, so this is one consistent look. */
	r = ledger_load(&w.l);
	if (r < 0 && r != -EACCES)
		goto out;
	closed = r == -EACCES;
	r = 0;
	if (closed)
		log_warning("%s cannot be read: what vfio-hook holds is not known (owner=?); run 'vfio-hook status' as root to "
			    "see it",
			    ledger_path());
	if (w.h.closed)
		log_warning("libvirt's status files of running VMs in %s cannot be read: which running VM uses what is not "
			    "known (in-use-by=?); %s",
			    holders_dir(), closed_fix());
	for (size_t i = 0; i < w.m->n_funcs; i++) {
		const struct pci_func *f = &w.m->funcs[i];
		const char *holder = holders_find(&w.h, &f->addr, NULL), *owner = ledger_owner(&w.l, &f->addr);
		char line[1024], vms[512] = "";
		size_t len = 0;

		for (size_t v = 0; v < w.cfg->n_vms; v++)
			if (vm_gets(&w.cfg->vms[v], f) && len < sizeof(vms))
				len += (size_t)snprintf(vms + len, sizeof(vms) - len, "%s%s", len ? "," : "",
							w.cfg->vms[v].name);
		if (!len && !owner)
			continue;
		pci_func_lspci(f, line, sizeof(line));
		printf("%s  driver=%s  vm=%s  in-use-by=%s  owner=%s%s\n", line, f->driver ? f->driver : "none",
		       len ? vms : "-", holder ? holder : w.h.closed ? "?" : "-",
		       closed ? "?" : !owner ? "-" : *owner ? owner : "(damaged entry)",
		       f->stuck ? "  stuck in the kernel (see dmesg)" : "");
	}
	n = ledger_names(&w.l, &names, &damaged);
	for (size_t i = 0; i < w.l.n_bad; i++)
		damaged |= w.l.bad[i].text != NULL;
	for (size_t i = 0; i < n; i++) {
		const struct ledger_vm *v = ledger_vm(&w.l, names[i]);

		printf("%s (%s):", names[i],
		       holders_get(&w.h, names[i]) ? "running"
		       : v && !v->started	   ? "starting"
		       : w.h.closed		   ? "running or not: unknown"
					   : "not running");
		for (size_t k = 0; k < w.l.n_funcs; k++) {
			const struct ledger_func *e = &w.l.funcs[k];
			char a[PCI_ADDR_LEN];

			if (!e->owner || !streq(e->owner, names[i]))
				continue;
			pci_addr_format(&e->addr, a, sizeof(a));
			printf(" %s(%s, was %s%s)", a, e->moved ? "moved" : "moving",
			       !e->known ? "unreadable" : *e->driver ? e->driver : "no driver",
			       e->plugging && holders_get(&w.h, names[i]) && !domain_has(holders_get(&w.h, names[i]), &e->addr)
				       ? ", hot-plug unanswered"
				       : "");
		}
		for (size_t k = 0; k < w.l.n_took; k++) {
			const struct ledger_took *t = &w.l.took[k];
			char a[PCI_ADDR_LEN];

			if (!streq(t->owner, names[i]))
				continue;
			pci_addr_format(&t->addr, a, sizeof(a));
			printf(" %s(taken from %s%s)", a, t->from, t->pending ? ", unplug pending" : "");
		}
		display_status(&w.l, names[i], stdout);
		claims_status(&w.l, names[i], stdout);
		putchar('\n');
		free(names[i]);
	}
	free(names);
	if (damaged)
		printf("damaged entries in %s: see the warnings above; 'vfio-hook restore --all' gives them back\n",
		       ledger_path());
	if (!n && !damaged && !closed)
		printf("no devices recorded\n");
out:
	world_clear(&w);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* The hook's and the command line's actions: load, plan, apply, all under the lock. */
#define _GNU_SOURCE
#include "actions.h"

#include "apply.h"
#include "config.h"
#include "discover.h"
#include "domxml.h"
#include "evict.h"
#include "log.h"
#include "plan.h"
#include "resolve.h"
#include "state.h"
#include "util.h"
#include "world.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned lock_timeout(unsigned step_timeout)
{
	/* Long enough for another VM's prepare to finish its few steps, short of hanging libvirt. */
	return 3 * step_timeout;
}

void log_plan_problems(const struct plan *p)
{
	for (size_t i = 0; i < p->n_warnings; i++)
		log_msg(LOG_NOTICE, "%s: warning: %s", p->vm->name, p->warnings[i]);
	if (p->n_refusals == 0)
		return;
	/* One line for virsh start; the rest goes to the log. */
	if (p->n_refusals > 1)
		log_error("%s: %s (and %zu more problems: run 'vfio-hook --check %s')", p->vm->name, p->refusals[0],
			  p->n_refusals - 1, p->vm->name);
	else
		log_error("%s: %s", p->vm->name, p->refusals[0]);
	for (size_t i = 1; i < p->n_refusals; i++)
		log_msg(LOG_NOTICE, "%s: also: %s", p->vm->name, p->refusals[i]);
}

int action_prepare(const char *cfg_path, const char *vm_name, const char *xml, size_t xml_len)
{
	const char *path = config_path(cfg_path);
	struct timespec t0, t1;
	struct world w = { 0 };
	struct domain dom = { 0 };
	struct plan p = { 0 };
	struct record inherit = { 0 };
	_cleanup_free_ char *retry = NULL;
	const struct vm *vm;
	int lock = -1, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* No map installed yet: nothing is ours to manage. */
	if (access(path, F_OK) < 0 && errno == ENOENT && !cfg_path && !getenv("VFIO_HOOK_CONFIG"))
		return 0;
	if (config_load(path, &w.cfg) < 0)
		return -EINVAL;
	vm = config_find_vm(w.cfg, vm_name);
	r = 0;
	if (!vm)
		goto out;
	/* Locked before looking: another run may be moving devices right now. */
	lock = state_lock(vm_name, lock_timeout(w.cfg->opt.timeout));
	if (lock < 0) {
		r = lock;
		goto out;
	}
	if (xml && domain_parse(xml, xml_len, &dom) < 0)
		log_warning("%s: cannot read the domain XML on stdin; skipping the <hostdev> cross-check", vm_name);
	r = plan_or_refuse(&w, vm, vm_evict(w.cfg, vm), dom.name ? &dom : NULL, &p);
	if (r < 0)
		goto out;
	retry = xasprintf("start %s again", vm_name);
	r = evict_and_apply(&w, vm, dom.name ? &dom : NULL, retry, &p, &inherit);
	if (r == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_info("%s: %zu PCI function%s on vfio-pci; prepare took %ld ms", vm_name, p.n_funcs,
			 p.n_funcs == 1 ? "" : "s", (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L);
	}
out:
	record_clear(&inherit);
	plan_clear(&p);
	domain_clear(&dom);
	state_unlock(lock);
	world_clear(&w);
	return r;
}

/* Gives back what VM's record holds: to the VMs they were taken from (give-back), else the host. */
static int restore_one(const char *vm, const struct options *giveback, unsigned timeout_s)
{
	struct holders h = { 0 };
	struct record rec = { 0 };
	int r = record_load(vm, &rec);

	if (r == -ENOENT)
		return 0; /* the path after a refused start: nothing was changed */
	if (r < 0) {
		errno = -r;
		log_error("%s: cannot read its record in %s: %m", vm, state_dir());
		return r;
	}
	if (giveback)
		evict_give_back(giveback->uri, timeout_s, &rec);
	record_clear_evicted(&rec);
	holders_load(&h);
	r = apply_restore(&rec, &h, timeout_s);
	holders_clear(&h);
	record_clear(&rec);
	return r;
}

/* Release and restore use the map only for its timeout and give-back: a broken map must not keep devices. */
static struct config *map_optional(const char *cfg_path)
{
	struct config *c = NULL;
	const char *path = config_path(cfg_path);

	if (access(path, R_OK) == 0 && config_load(path, &c) == 0)
		return c;
	return NULL;
}

int action_release(const char *cfg_path, const char *vm_name)
{
	struct config *c;
	const struct vm *vm;
	unsigned t;
	int lock, r;

	if (!record_exists(vm_name))
		return 0;
	c = map_optional(cfg_path);
	t = c ? c->opt.timeout : CONFIG_DEFAULT_TIMEOUT;
	vm = c ? config_find_vm(c, vm_name) : NULL;
	lock = state_lock(vm_name, lock_timeout(t));
	if (lock >= 0) {
		r = restore_one(vm_name, vm && vm_giveback(c, vm) ? &c->opt : NULL, t);
		state_unlock(lock);
	} else {
		r = lock;
	}
	config_free(c);
	return r;
}

int action_restore(const char *cfg_path, const char *vm)
{
	bool all = !vm;
	char **names = NULL;
	size_t n = 0;
	struct config *c = map_optional(cfg_path);
	unsigned t = c ? c->opt.timeout : CONFIG_DEFAULT_TIMEOUT;
	int lock, r = 0;

	config_free(c);

	lock = state_lock("restore", lock_timeout(t));
	if (lock < 0)
		return lock;
	if (all) {
		record_list(&names, &n);
	} else if (record_exists(vm)) {
		names = xcalloc(1, sizeof(char *));
		names[0] = xstrdup(vm);
		n = 1;
	} else {
		printf("%s: no record, nothing to restore\n", vm);
	}
	for (size_t i = 0; i < n; i++) {
		int k = restore_one(names[i], NULL, t);

		if (k < 0)
			r = k;
		else
			printf("%s: restored\n", names[i]);
		free(names[i]);
	}
	if (all && n == 0)
		printf("no records in %s: nothing to restore\n", state_dir());
	free(names);
	state_unlock(lock);
	return r;
}

/* The domain XML for --check, from libvirt when no --xml is given (not from inside the hook). */
static char *xml_from_libvirt(const char *uri, const char *vm)
{
	virConnectPtr conn = virConnectOpenReadOnly(uri);
	virDomainPtr dom;
	char *xml = NULL;

	if (!conn)
		return NULL;
	dom = virDomainLookupByName(conn, vm);
	if (dom) {
		xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		virDomainFree(dom);
	}
	virConnectClose(conn);
	return xml;
}

static void silence_libvirt(void *data, virErrorPtr err)
{
	(void)data;
	(void)err;
}

int action_check(const char *cfg_path, const char *vm_name, const char *xml_file)
{
	struct world w;
	struct domain dom = { 0 };
	struct plan p = { 0 };
	const struct vm *vm;
	char *xml = NULL;
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
		virSetErrorFunc(NULL, silence_libvirt);
		xml = xml_from_libvirt(w.cfg->opt.uri, vm_name);
		if (!xml)
			log_warning("cannot get %s's XML from %s: skipping the <hostdev> cross-check (or pass --xml FILE)",
				    vm_name, w.cfg->opt.uri);
	}
	if (xml && domain_parse(xml, strlen(xml), &dom) < 0) {
		log_error("%s: not a libvirt domain XML", xml_file ? xml_file : "libvirt's answer");
		r = -EINVAL;
		goto out;
	}
	r = plan_build(w.cfg, vm, vm_evict(w.cfg, vm), w.m, &w.h, dom.name ? &dom : NULL, &p);
	if (r < 0)
		goto out;
	plan_print(&p, stdout);
	r = p.n_refusals ? -EPERM : 0;
out:
	free(xml);
	plan_clear(&p);
	domain_clear(&dom);
	world_clear(&w);
	return r;
}

int action_status(const char *cfg_path)
{
	struct world w;
	char **names = NULL;
	size_t n = 0;
	int r = world_load(cfg_path, &w);

	if (r < 0)
		goto out;
	for (size_t i = 0; i < w.m->n_funcs; i++) {
		const struct pci_func *f = &w.m->funcs[i];
		const char *holder = holders_find(&w.h, &f->addr, NULL);
		char line[1024], vms[512] = "";
		size_t len = 0;

		for (size_t v = 0; v < w.cfg->n_vms; v++)
			if (vm_gets(&w.cfg->vms[v], f) && len < sizeof(vms))
				len += (size_t)snprintf(vms + len, sizeof(vms) - len, "%s%s", len ? "," : "",
							w.cfg->vms[v].name);
		if (!len)
			continue;
		pci_func_lspci(f, line, sizeof(line));
		printf("%s  driver=%s  vm=%s  in-use-by=%s%s\n", line, f->driver ? f->driver : "none", vms,
		       holder ? holder : "-", f->stuck ? "  stuck in the kernel (see dmesg)" : "");
	}
	record_list(&names, &n);
	for (size_t i = 0; i < n; i++) {
		struct record rec = { 0 };

		if (record_load(names[i], &rec) == 0) {
			printf("record %s:", names[i]);
			for (size_t k = 0; k < rec.n; k++) {
				char a[PCI_ADDR_LEN];

				pci_addr_format(&rec.funcs[k].addr, a, sizeof(a));
				printf(" %s(%s, was %s)", a, rec.funcs[k].moved ? "moved" : "moving",
				       *rec.funcs[k].driver ? rec.funcs[k].driver : "no driver");
			}
			for (size_t k = 0; k < rec.n_evicted; k++) {
				char a[PCI_ADDR_LEN];

				pci_addr_format(&rec.evicted[k].addr, a, sizeof(a));
				printf(" %s(taken from %s)", a, rec.evicted[k].from);
			}
			putchar('\n');
			record_clear(&rec);
		}
		free(names[i]);
	}
	free(names);
	if (!n)
		printf("no open records\n");
out:
	world_clear(&w);
	return r;
}

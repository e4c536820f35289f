/* SPDX-License-Identifier: MIT */
/*
 * A VM's start, as libvirt's hook calls report it: prepare (its functions to vfio-pci, through
 * the engine), started (libvirt says it runs: its start did not fail), reconnect (the daemon
 * restarted and found it running: its claims on the host are set again where they went missing).
 */
#define _GNU_SOURCE
#include "actions.h"

#include "child.h"
#include "claims.h"
#include "engine.h"
#include "log.h"
#include "state.h"
#include "sysfs.h"
#include "util.h"
#include "world.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int action_prepare(const char *cfg_path, const char *vm_name, const char *xml, size_t xml_len)
{
	const char *path = config_path(cfg_path);
	long t0 = now_ms();
	struct stat st;
	struct world w = { .lock = -1 };
	struct domain dom = { 0 };
	struct selection s = { 0 };
	_cleanup_free_ char *retry = NULL;
	const struct vm *vm;
	int r;

	/* No map installed yet: nothing is ours to manage (a dangling symlink is a map that is broken). */
	if (lstat(path, &st) < 0 && errno == ENOENT && !cfg_path && !getenv("VFIO_HOOK_CONFIG"))
		return 0;
	if (config_load(path, &w.cfg) < 0) {
		/* A map broken elsewhere must not keep VMs it does not name from starting (a router at boot). */
		if (config_names_vm(path, vm_name) != 0)
			return -EINVAL;
		log_warning("%s: starting without vfio-hook: it has no [vm %s] in %s, which vfio-hook cannot use (see above)",
			    vm_name, vm_name, path);
		return 0;
	}
	vm = config_find_vm(w.cfg, vm_name);
	r = 0;
	if (!vm)
		goto out;
	/* Locked before looking: another run may be moving devices right now. */
	r = world_lock(&w, vm_name, w.cfg->opt.timeout);
	if (r < 0)
		goto out;
	/* Unplugs that completed after a failed start gave up on them go back to their VMs first. */
	engine_return(&w, NULL, true, false, NULL, 0);
	if (xml && domain_parse(xml, xml_len, &dom) < 0)
		log_warning("%s: cannot read the domain XML on stdin; skipping the <hostdev> cross-check", vm_name);
	retry = xasprintf("start %s again", vm_name);
	selection_vm(w.cfg, vm, &s);
	{
		const struct take_req q = { .vm = vm_name, .sel = &s, .policy = vm_evict(w.cfg, vm),
					    .dom = dom.name ? &dom : NULL, .retry = retry, .starting = true, .claims = true };

		r = engine_take(&w, &q);
	}
	if (r >= 0)
		log_info("%s: %d PCI function%s on vfio-pci; prepare took %ld ms, %ld of them the kernel's bind and unbind",
			 vm_name, r, r == 1 ? "" : "s", now_ms() - t0, sysfs_kernel_ms());
	r = r < 0 ? r : 0;
out:
	selection_clear(&s);
	domain_clear(&dom);
	world_unlock(&w);
	world_clear(&w);
	return r;
}

int action_started(const char *vm_name, bool reconnect)
{
	struct world w = { .lock = -1 };
	struct ledger_vm *v;
	int r;

	/* A VM never prepared here has no line, and none can appear while it runs: no lock needed to say so. */
	if (ledger_peek(&w.l) < 0 || !ledger_vm(&w.l, vm_name)) {
		ledger_clear(&w.l);
		return 0;
	}
	ledger_clear(&w.l);
	r = world_lock(&w, vm_name, CONFIG_DEFAULT_TIMEOUT);
	if (r == 0 && (v = ledger_vm(&w.l, vm_name)) && !v->started) {
		v->started = true;
		r = ledger_save(&w.l);
	}
	/* The daemon restarted: what the VM claimed of the host is set again where it went missing. */
	if (r == 0 && reconnect) {
		w.cfg = world_map_or_defaults(NULL);
		/* Each unit set and read back, the inhibitor looked at and started. */
		state_lock_hold(w.lock, (2L * CLAIM_N_UNITS + 3L) * w.cfg->opt.timeout * 1000L);
		claims_reassert(&w.l, vm_name, w.cfg->opt.timeout);
		r = ledger_save(&w.l);
	}
	world_unlock(&w);
	world_clear(&w);
	return r;
}

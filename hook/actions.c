/* SPDX-License-Identifier: MIT */
/* The hook's and the command line's actions: load, plan, apply, all under the lock. */
#define _GNU_SOURCE
#include "actions.h"

#include "apply.h"
#include "config.h"
#include "discover.h"
#include "display.h"
#include "domxml.h"
#include "evict.h"
#include "log.h"
#include "plan.h"
#include "resolve.h"
#include "child.h"
#include "ledger.h"
#include "state.h"
#include "sysfs.h"
#include "util.h"
#include "virt.h"
#include "world.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * A failed start's release, which libvirt runs right after the failed prepare: a hand-over step
 * that start saw stuck in the kernel gets this long, not the map's timeout, to be undone. Still
 * stuck, it stays recorded for restore; let go since, it is undone now.
 */
#define STUCK_RETRY_S 1

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

/* The ledger, under the lock: an unreadable one stops everything (it is reported, never rewritten). */
static int lock_and_load(const char *what, unsigned timeout_s, struct ledger *l, int *ret_lock)
{
	int lock = state_lock(what, timeout_s), r;

	*ret_lock = lock;
	if (lock < 0)
		return lock;
	r = ledger_load(l);
	if (r < 0) {
		state_unlock(lock);
		*ret_lock = -1;
	}
	return r;
}

int action_prepare(const char *cfg_path, const char *vm_name, const char *xml, size_t xml_len)
{
	const char *path = config_path(cfg_path);
	long t0 = now_ms();
	struct stat st;
	struct world w = { .lock = -1 };
	struct domain dom = { 0 };
	struct plan p = { 0 };
	_cleanup_free_ char *retry = NULL;
	const struct vm *vm;
	struct ledger_vm *v;
	int lock = -1, r;

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
	r = lock_and_load(vm_name, lock_timeout(w.cfg->opt.timeout), &w.l, &lock);
	if (r < 0)
		goto out;
	w.lock = lock;
	/* Unplugs that completed after a failed start gave up on them go back to their VMs first. */
	evict_give_back(w.cfg->opt.uri, w.cfg->opt.timeout, &w.l, NULL, true, false);
	if (xml && domain_parse(xml, xml_len, &dom) < 0)
		log_warning("%s: cannot read the domain XML on stdin; skipping the <hostdev> cross-check", vm_name);
	r = plan_or_refuse(&w, vm, vm_evict(w.cfg, vm), dom.name ? &dom : NULL, &p);
	if (r < 0)
		goto out;
	state_lock_hold(lock, plan_hold_ms(&p, w.cfg->opt.timeout));
	/* The VM owns what it gets from here on, whether or not libvirt has written its status yet. */
	v = ledger_vm_add(&w.l, vm_name, dom.uuid);
	v->started = false;
	retry = xasprintf("start %s again", vm_name);
	r = evict_and_apply(&w, vm, dom.name ? &dom : NULL, retry, &p);
	ledger_vm_tidy(&w.l, vm_name);
	if (ledger_save(&w.l) < 0 && r == 0)
		r = -EIO;
	if (r == 0)
		log_info("%s: %zu PCI function%s on vfio-pci; prepare took %ld ms, %ld of them the kernel's bind and unbind",
			 vm_name, p.n_funcs, p.n_funcs == 1 ? "" : "s", now_ms() - t0, sysfs_kernel_ms());
out:
	plan_clear(&p);
	domain_clear(&dom);
	state_unlock(lock);
	world_clear(&w);
	return r;
}

int action_started(const char *vm_name)
{
	struct ledger l = { 0 };
	struct ledger_vm *v;
	int lock = -1, r;

	/* A VM never prepared here has no line, and none can appear while it runs: no lock needed to say so. */
	if (ledger_peek(&l) < 0 || !ledger_vm(&l, vm_name)) {
		ledger_clear(&l);
		return 0;
	}
	ledger_clear(&l);
	r = lock_and_load(vm_name, lock_timeout(CONFIG_DEFAULT_TIMEOUT), &l, &lock);
	if (r == 0 && (v = ledger_vm(&l, vm_name)) && !v->started) {
		v->started = true;
		r = ledger_save(&l);
	}
	ledger_clear(&l);
	state_unlock(lock);
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

/* How long giving back what NAME owns and took may take at most. */
static long release_hold_ms(const struct ledger *l, const char *name, unsigned timeout_s)
{
	long n = 2; /* waiting for late unplugs, and the rest */

	for (size_t i = 0; i < l->n_funcs; i++)
		n += l->funcs[i].owner && streq(l->funcs[i].owner, name) ? 3L : 0L;
	for (size_t i = 0; i < l->n_took; i++)
		n += streq(l->took[i].owner, name) ? 5L : 0L;
	/* Each step of the host's display to give back: one command or write. */
	for (size_t i = 0; i < l->n_display; i++)
		n += streq(l->display[i].owner, name) ? 1L : 0L;
	return n * (long)timeout_s * 1000L;
}

int action_release(const char *cfg_path, const char *vm_name, const char *reason)
{
	struct config *c = NULL;
	const struct vm *vm;
	unsigned t = CONFIG_DEFAULT_TIMEOUT;
	struct ledger l = { 0 };
	struct holders h = { 0 };
	const struct ledger_vm *v;
	bool failed;
	int lock = -1, r;

	/*
	 * A VM the ledger does not name now cannot come to be named while it is released: entries go
	 * to a VM only from its own prepare or, while it runs (its status file exists), from a
	 * give-back, a swap or a hand-over; libvirt removes the status file before this call. The
	 * file is replaced atomically, so this look needs no lock, and every other VM's stop (most
	 * are not in the map) does not wait on one.
	 */
	if (ledger_peek(&l) < 0 || (!ledger_vm(&l, vm_name) && !ledger_has_vm(&l, vm_name) && !ledger_took_from(&l, vm_name))) {
		ledger_clear(&l);
		return 0;
	}
	ledger_clear(&l);
	/* Then looked at again under the lock, waiting as long as its holder said it may need it. */
	r = lock_and_load(vm_name, lock_timeout(t), &l, &lock);
	if (r < 0)
		goto out;
	/* What others took from it cannot go back to it any more (a pending unplug included). */
	for (size_t i = 0; i < l.n_took;)
		if (streq(l.took[i].from, vm_name))
			ledger_took_drop(&l, i);
		else
			i++;
	if (!ledger_vm(&l, vm_name) && !ledger_has_vm(&l, vm_name)) {
		r = ledger_save(&l);
		goto out;
	}
	/* The map only for its timeout and give-back: a broken map must not keep devices. */
	c = map_optional(cfg_path);
	vm = c ? config_find_vm(c, vm_name) : NULL;
	t = c ? c->opt.timeout : t;
	state_lock_hold(lock, release_hold_ms(&l, vm_name, t));
	v = ledger_vm(&l, vm_name);
	/* Which VMs run decides what may be unbound: without it, nothing is (the ledger keeps it all). */
	r = holders_load(&h);
	if (r < 0) {
		log_error("%s: nothing given back: which VMs are running cannot be read (see above); fix that, then run 'vfio-hook restore %s'",
			  vm_name, vm_name);
		goto out;
	}
	/* libvirt never said "started": the start failed, and what it took goes back whatever giveback says. */
	failed = (v && !v->started) || (reason && streq(reason, "failed"));
	/* A few seconds for unplugs that complete just after the deadline; the next run sees later ones. */
	if (failed)
		evict_settle(&l, vm_name, t < 3 ? t : 3);
	evict_give_back(c ? c->opt.uri : CONFIG_DEFAULT_URI, t, &l, vm_name, failed || (vm && vm_giveback(c, vm)), false);
	r = apply_restore(&l, vm_name, NULL, 0, &h, t, LOG_ERR);
	/* The host's display, once the GPU is back on the host (the last VM using it stopped). */
	if (display_give_back(&l, vm_name, t, failed ? STUCK_RETRY_S : t, LOG_ERR) < 0 && r == 0)
		r = -EIO;
	/* What it still took (an unplug still pending) is given back by a later run. */
	ledger_vm_drop(&l, vm_name);
	if (ledger_save(&l) < 0 && r == 0)
		r = -EIO;
out:
	holders_clear(&h);
	ledger_clear(&l);
	state_unlock(lock);
	config_free(c);
	return r;
}

static void add_owner(char ***names, size_t *n, const char *o)
{
	for (size_t k = 0; k < *n; k++)
		if (streq((*names)[k], o))
			return;
	*(char **)array_push(names, n, sizeof(char *)) = xstrdup(o);
}

/* Every VM L names, each once; and whether a function's owner is unreadable. */
static size_t ledger_owners(const struct ledger *l, char ***ret, bool *ret_damaged)
{
	char **names = NULL;
	size_t n = 0;

	*ret_damaged = false;
	for (size_t i = 0; i < l->n_funcs; i++) {
		if (l->funcs[i].owner)
			add_owner(&names, &n, l->funcs[i].owner);
		else
			*ret_damaged = true;
	}
	for (size_t i = 0; i < l->n_took; i++)
		add_owner(&names, &n, l->took[i].owner);
	for (size_t i = 0; i < l->n_display; i++)
		add_owner(&names, &n, l->display[i].owner);
	for (size_t i = 0; i < l->n_vms; i++)
		add_owner(&names, &n, l->vms[i].name);
	*ret = names;
	return n;
}

/*
 * A VM whose start vfio-hook prepared and libvirt never reported started, with no status file:
 * starting right now (libvirt writes the status file late), or a start a crash cut short. Only
 * libvirt can tell; it is asked (with a deadline: a starting domain is locked).
 */
static bool maybe_starting(const char *uri, unsigned timeout_s, const char *name)
{
	const struct virt_req q = { uri, name, VIRT_ACTIVE, NULL, 0 };
	_cleanup_free_ char *out = NULL;
	int r = virt_call(&q, (long)timeout_s * 1000L, &out);

	if (r == -ENOENT || r == -ECONNREFUSED || (r == 0 && streq(out, "0")))
		return false;
	log_error("%s: %s (vfio-hook prepared its start and libvirt %s): its devices stay; run 'vfio-hook restore %s' "
		  "again once it is off",
		  name, r == 0 ? "is starting or running" : "may be starting",
		  r == 0 ? "says it is active" : "did not say whether it is active", name);
	return true;
}

/* By hand: gives back what NAME's starts moved; never what a running VM uses, NAME included. */
static int restore_one(struct ledger *l, const struct holders *h, const char *name, const char *uri, unsigned timeout_s)
{
	const struct domain *running = holders_get(h, name);
	const struct ledger_vm *v = ledger_vm(l, name);
	int r;

	if (!running && v && !v->started && maybe_starting(uri, timeout_s, name))
		return -EBUSY;

	/* What it took stays with the host (or, while it runs, for its own release to give back). */
	for (size_t i = 0; i < l->n_took && !running;)
		if (streq(l->took[i].owner, name))
			ledger_took_drop(l, i);
		else
			i++;
	r = apply_restore(l, name, NULL, 0, h, timeout_s, LOG_ERR);
	if (display_give_back(l, name, timeout_s, timeout_s, LOG_ERR) < 0 && r == 0)
		r = -EIO;
	if (!running)
		ledger_vm_tidy(l, name);
	return r;
}

/*
 * restore --all, damaged display lines: a step still readable is given back (--all is the word
 * that the line was checked); any other stays, with what to do by hand, and the command fails.
 */
static int restore_damaged_display(struct ledger *l, unsigned timeout_s)
{
	int r = 0;

	for (size_t i = l->n_bad; i-- > 0;) {
		struct ledger_bad *b = &l->bad[i];
		struct ledger_display d;
		char why[256] = "the step it names cannot be read";

		if (!ledger_bad_is_display(b))
			continue;
		if (ledger_display_salvage(b->text, &d) == 0) {
			if (ledger_func(l, &d.gpu))
				snprintf(why, sizeof(why), "its GPU is still on vfio-pci for a VM: run 'vfio-hook restore --all' again "
							  "once that VM stopped");
			else if (display_undo_step(&d, timeout_s, why, sizeof(why)) == 0) {
				printf("damaged display entry (%s line %d): %s %s given back\n", ledger_path(), b->line,
				       display_step_name(d.step), d.what);
				ledger_display_free(&d);
				free(b->text);
				b->text = NULL;
				continue;
			}
			ledger_display_free(&d);
		}
		log_error("%s:%d: a damaged display entry is kept (%s): give back by hand what it names ('systemctl start UNIT' "
			  "for a display manager or nvidia-persistenced, 'echo 1 > /sys/class/vtconsole/vtconN/bind' for fbcon, "
			  "'echo DEV > /sys/bus/platform/drivers/DRIVER/bind' for a framebuffer, 'modprobe MODULE'), then delete "
			  "the line: %.200s",
			  ledger_path(), b->line, why, b->text);
		r = -EIO;
	}
	return r;
}

int action_restore(const char *cfg_path, const char *vm)
{
	struct config *c = map_optional(cfg_path);
	unsigned t = c ? c->opt.timeout : CONFIG_DEFAULT_TIMEOUT;
	_cleanup_free_ char *uri = xstrdup(c ? c->opt.uri : CONFIG_DEFAULT_URI);
	struct ledger l = { 0 };
	struct holders h = { 0 };
	char **names = NULL;
	size_t n = 0;
	bool damaged = false;
	int lock = -1, r;

	config_free(c);
	r = lock_and_load("restore", lock_timeout(t), &l, &lock);
	if (r < 0)
		return r;
	r = holders_load(&h);
	if (r < 0) {
		log_error("restore: nothing given back: which VMs are running cannot be read (see above); fix that, then run it again");
		ledger_clear(&l);
		state_unlock(lock);
		return r;
	}
	if (!vm) {
		n = ledger_owners(&l, &names, &damaged);
	} else if (ledger_vm(&l, vm) || ledger_has_vm(&l, vm)) {
		names = xcalloc(1, sizeof(char *));
		names[0] = xstrdup(vm);
		n = 1;
	} else {
		printf("%s: nothing recorded, nothing to restore\n", vm);
	}
	for (size_t i = 0; i < n; i++) {
		int k = restore_one(&l, &h, names[i], uri, t);

		if (k < 0)
			r = k;
		else
			printf("%s: restored\n", names[i]);
		free(names[i]);
	}
	/* Entries whose owner cannot be read: --all gives back the functions they name, and only those. */
	if (damaged) {
		struct pci_addr *addrs = NULL;
		size_t n_addrs = 0;
		int k;

		for (size_t i = 0; i < l.n_funcs; i++)
			if (!l.funcs[i].owner)
				*(struct pci_addr *)array_push(&addrs, &n_addrs, sizeof(*addrs)) = l.funcs[i].addr;
		k = apply_restore(&l, NULL, addrs, n_addrs, &h, t, LOG_ERR);
		free(addrs);
		if (k < 0)
			r = k;
		else
			printf("damaged entries: restored\n");
	}
	if (!vm) {
		int k;

		for (size_t i = 0; i < l.n_bad; i++)
			damaged |= ledger_bad_is_display(&l.bad[i]);
		k = restore_damaged_display(&l, t);
		if (k < 0)
			r = k;
	}
	/* Damaged lines that name no device have nothing to give back: --all is the word to forget them. */
	if (!vm && ledger_drop_damaged(&l))
		damaged = true;
	if (!vm && n == 0 && !damaged)
		printf("nothing recorded in %s: nothing to restore\n", ledger_path());
	if (ledger_save(&l) < 0 && r == 0)
		r = -EIO;
	free(names);
	holders_clear(&h);
	ledger_clear(&l);
	state_unlock(lock);
	return r;
}

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

int action_check(const char *cfg_path, const char *vm_name, const char *xml_file)
{
	struct world w;
	struct domain dom = { 0 };
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
		xml = xml_from_libvirt(w.cfg->opt.uri, w.cfg->opt.timeout, vm_name);
		if (!xml)
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
	r = plan_build(w.cfg, vm, vm_evict(w.cfg, vm), w.m, &w.h, &w.l, dom.name ? &dom : NULL, &p);
	if (r < 0)
		goto out;
	if (closed)
		plan_unchecked(&p, UNCHECKED_ROOT_REFUSES, "%s cannot be read: what vfio-hook holds now (its moves, the host's display) is not checked",
			       ledger_path());
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
	n = ledger_owners(&w.l, &names, &damaged);
	for (size_t i = 0; i < n; i++) {
		const struct ledger_vm *v = ledger_vm(&w.l, names[i]);

		printf("%s (%s):", names[i], holders_get(&w.h, names[i]) ? "running" : v && !v->started ? "starting" : "not running");
		for (size_t k = 0; k < w.l.n_funcs; k++) {
			const struct ledger_func *e = &w.l.funcs[k];
			char a[PCI_ADDR_LEN];

			if (!e->owner || !streq(e->owner, names[i]))
				continue;
			pci_addr_format(&e->addr, a, sizeof(a));
			printf(" %s(%s, was %s)", a, e->moved ? "moved" : "moving",
			       !e->known ? "unreadable" : *e->driver ? e->driver : "no driver");
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

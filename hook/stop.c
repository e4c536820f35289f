/* SPDX-License-Identifier: MIT */
/*
 * Giving back: a VM's release, as libvirt's hook reports it, and 'vfio-hook restore' by hand
 * (a VM whose release never came, a crash). Both state what goes back and hand it to the
 * engine's give (engine.h); the map counts only for its timeout and give-back: a broken map
 * must not keep devices.
 */
#define _GNU_SOURCE
#include "actions.h"
#include "claims.h"

#include "display.h"
#include "engine.h"
#include "evict.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "virt.h"
#include "world.h"

#include <errno.h>
#include <string.h>

/*
 * A failed start's release, which libvirt runs right after the failed prepare: a hand-over step
 * that start saw stuck in the kernel gets this long, not the map's timeout, to be undone. Still
 * stuck, it stays recorded for restore; let go since, it is undone now.
 */
#define STUCK_RETRY_S 1

/* How long giving back what NAME owns and took (NAME NULL: everybody's) may take at most. */
static long release_hold_ms(const struct ledger *l, const char *name, unsigned timeout_s)
{
	long n = 2; /* waiting for late unplugs, and the rest */

	/* Each function: its writes, tried twice, and the way back to vfio-pci when its driver will not take it. */
	for (size_t i = 0; i < l->n_funcs; i++)
		n += !name || (l->funcs[i].owner && streq(l->funcs[i].owner, name)) ? 3L * 3L : 0L;
	for (size_t i = 0; i < l->n_took; i++)
		n += !name || streq(l->took[i].owner, name) ? 5L : 0L;
	/* Each step of the host's display to give back: one command or write. */
	for (size_t i = 0; i < l->n_display; i++)
		n += !name || streq(l->display[i].owner, name) ? 1L : 0L;
	/* And its claims: CPUs, hugepages, sleep. */
	return n * (long)timeout_s * 1000L + claims_give_hold_ms(l, name, timeout_s);
}

int action_release(const char *cfg_path, const char *vm_name, const char *reason)
{
	struct world w = { .lock = -1 };
	const struct vm *vm;
	const struct ledger_vm *v;
	unsigned t;
	bool failed;
	int r;

	/*
	 * A VM the ledger does not name now cannot come to be named while it is released: entries go
	 * to a VM only from its own prepare or, while it runs (its status file exists), from a
	 * give-back, a swap or a hand-over; libvirt removes the status file before this call. The
	 * file is replaced atomically, so this look needs no lock, and every other VM's stop (most
	 * are not in the map) does not wait on one.
	 */
	if (ledger_peek(&w.l) < 0 ||
	    (!ledger_vm(&w.l, vm_name) && !ledger_has_vm(&w.l, vm_name) && !ledger_took_from(&w.l, vm_name))) {
		ledger_clear(&w.l);
		return 0;
	}
	ledger_clear(&w.l);
	w.cfg = world_map_or_defaults(cfg_path);
	t = w.cfg->opt.timeout;
	/* Then looked at again under the lock, waiting as long as its holder said it may need it. */
	r = world_lock(&w, vm_name, CONFIG_DEFAULT_TIMEOUT);
	if (r < 0)
		goto out;
	/* What others took from it cannot go back to it any more (a pending unplug included). */
	for (size_t i = 0; i < w.l.n_took;)
		if (streq(w.l.took[i].from, vm_name))
			ledger_took_drop(&w.l, i);
		else
			i++;
	if (!ledger_vm(&w.l, vm_name) && !ledger_has_vm(&w.l, vm_name)) {
		r = ledger_save(&w.l);
		goto out;
	}
	vm = config_find_vm(w.cfg, vm_name);
	state_lock_hold(w.lock, release_hold_ms(&w.l, vm_name, t));
	v = ledger_vm(&w.l, vm_name);
	/* Which VMs run decides what may be unbound: without it, nothing is (the ledger keeps it all). */
	r = holders_load(&w.h);
	if (r < 0) {
		_cleanup_free_ char *q = shell_quote_inner(vm_name);

		log_error("%s: nothing given back: which VMs are running cannot be read (see above); fix that, then run 'vfio-hook restore %s'",
			  vm_name, q);
		goto out;
	}
	/* libvirt never said "started": the start failed, and what it took goes back whatever giveback says. */
	failed = (v && !v->started) || (reason && streq(reason, "failed"));
	/* A few seconds for unplugs that complete just after the deadline; the next run sees later ones. */
	if (failed)
		evict_settle(&w.l, vm_name, t < 3 ? t : 3);
	{
		const struct give_req q = { .owner = vm_name, .returns = true, .forced = failed || (vm && vm_giveback(w.cfg, vm)),
					    .stuck_s = failed ? STUCK_RETRY_S : t, .prio = LOG_ERR };

		r = engine_give(&w, &q);
	}
	/* What it still took (an unplug still pending) is given back by a later run. */
	ledger_vm_drop(&w.l, vm_name);
	if (ledger_save(&w.l) < 0 && r == 0)
		r = -EIO;
out:
	world_unlock(&w);
	world_clear(&w);
	return r;
}

/*
 * A VM whose start vfio-hook prepared and libvirt never reported started, with no status file:
 * starting right now (libvirt writes the status file late), or a start a crash cut short. Only
 * libvirt can tell; it is asked (with a deadline: a starting domain is locked).
 */
static bool maybe_starting(const char *uri, unsigned timeout_s, const char *name)
{
	const struct virt_req q = { uri, name, VIRT_ACTIVE, NULL, 0 };
	_cleanup_free_ char *out = NULL, *qn = NULL;
	int r = virt_call(&q, (long)timeout_s * 1000L, &out);

	if (r == -ENOENT || r == -ECONNREFUSED || (r == 0 && streq(out, "0")))
		return false;
	qn = shell_quote_inner(name);
	log_error("%s: %s (vfio-hook prepared its start and libvirt %s): its devices stay; run 'vfio-hook restore %s' "
		  "again once it is off",
		  name, r == 0 ? "is starting or running" : "may be starting",
		  r == 0 ? "says it is active" : "did not say whether it is active", qn);
	return true;
}

/* By hand: gives back what NAME's starts moved; never what a running VM uses, NAME included. */
static int restore_one(struct world *w, const char *name)
{
	const struct domain *running = holders_get(&w->h, name);
	const struct ledger_vm *v = ledger_vm(&w->l, name);
	/* What it took stays with the host (or, while it runs, for its own release to give back). */
	const struct give_req q = { .owner = name, .keep_taken = !running, .stuck_s = w->cfg->opt.timeout, .prio = LOG_ERR };
	int r;

	if (!running && v && !v->started && maybe_starting(w->cfg->opt.uri, w->cfg->opt.timeout, name))
		return -EBUSY;
	r = engine_give(w, &q);
	if (!running)
		ledger_vm_tidy(&w->l, name);
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

/* restore --all: the functions of entries whose owner cannot be read, and only those. */
static int restore_damaged(struct world *w)
{
	struct pci_addr *addrs = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < w->l.n_funcs; i++)
		if (!w->l.funcs[i].owner)
			*(struct pci_addr *)array_push(&addrs, &n, sizeof(*addrs)) = w->l.funcs[i].addr;
	{
		const struct give_req q = { .only = addrs, .n_only = n, .stuck_s = w->cfg->opt.timeout, .prio = LOG_ERR };

		r = engine_give(w, &q);
	}
	free(addrs);
	if (r == 0)
		printf("damaged entries: restored\n");
	return r;
}

int action_restore(const char *cfg_path, const char *vm)
{
	struct world w = { .lock = -1 };
	char **names = NULL;
	size_t n = 0;
	bool damaged = false;
	int r;

	w.cfg = world_map_or_defaults(cfg_path);
	r = world_lock(&w, "restore", w.cfg->opt.timeout);
	if (r < 0)
		goto out;
	/* Those who wait for the lock wait as long as the restore may take, and no longer. */
	state_lock_hold(w.lock, release_hold_ms(&w.l, vm, w.cfg->opt.timeout));
	r = holders_load(&w.h);
	if (r < 0) {
		log_error("restore: nothing given back: which VMs are running cannot be read (see above); fix that, then run it again");
		goto out;
	}
	if (!vm) {
		n = ledger_names(&w.l, &names, &damaged);
	} else if (ledger_vm(&w.l, vm) || ledger_has_vm(&w.l, vm)) {
		names = xcalloc(1, sizeof(char *));
		names[0] = xstrdup(vm);
		n = 1;
	} else {
		printf("%s: nothing recorded, nothing to restore\n", vm);
	}
	for (size_t i = 0; i < n; i++) {
		int k = restore_one(&w, names[i]);

		if (k < 0)
			r = k;
		else
			printf("%s: restored\n", names[i]);
		free(names[i]);
	}
	if (damaged) {
		int k = restore_damaged(&w);

		if (k < 0)
			r = k;
	}
	if (!vm) {
		int k;

		for (size_t i = 0; i < w.l.n_bad; i++) {
			damaged |= ledger_bad_is_display(&w.l.bad[i]);
			if (ledger_bad_is_host(&w.l.bad[i])) {
				log_error("%s:%d: a damaged record of a claim, or of what the host had before one, is kept: correct "
					  "it (cpus VM set=CPUS governor=yes|no state=done, pages VM size=KIB node=N|- pages=N "
					  "added=N state=done, sleep VM state=done, slice UNIT was=CPUS|-, governor CPU "
					  "was=GOVERNOR epp=EPP|-, pool SIZE_KIB NODE|- was=PAGES), then run 'vfio-hook restore "
					  "--all' again; or delete it once the host is as it should be. Until then no VM's CPUs, "
					  "hugepages or sleep are claimed or given back on a guess",
					  ledger_path(), w.l.bad[i].line);
				damaged = true;
				if (r == 0)
					r = -EBADMSG;
			}
		}
		k = restore_damaged_display(&w.l, w.cfg->opt.timeout);
		if (k < 0)
			r = k;
	}
	/* Damaged lines that name no device have nothing to give back: --all is the word to forget them. */
	if (!vm && ledger_drop_damaged(&w.l))
		damaged = true;
	if (!vm && n == 0 && !damaged)
		printf("nothing recorded in %s: nothing to restore\n", ledger_path());
	if (ledger_save(&w.l) < 0 && r == 0)
		r = -EIO;
	free(names);
out:
	world_unlock(&w);
	world_clear(&w);
	return r;
}

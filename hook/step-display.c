/* SPDX-License-Identifier: MIT */
/*
 * The engine's display step: handing the host's display over to a VM and back (display.h),
 * each part recorded in the ledger before it runs, each with a deadline, undone in reverse:
 * when a later step of the take fails, at the give of the VM that holds the GPU, and by
 * 'vfio-hook restore' after a crash. Only what a take did is undone.
 */
#define _GNU_SOURCE

#include "child.h"
#include "log.h"
#include "step.h"
#include "sysfs.h"
#include "util.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PERSISTENCED "nvidia-persistenced.service"
#define POLL_MS 100
/* systemctl is-active's exit status for a unit that is not running (LSB: "program is not running"). */
#define IS_ACTIVE_NOT_RUNNING 3

/* Unloaded in this order, loaded again in the reverse: each needs the ones after it. */
static const char *const nvidia_modules[] = { "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia" };

void display_plan_free(struct display_plan *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; i < dp->n_uses; i++)
		display_use_clear(&dp->uses[i]);
	free(dp->uses);
	free(dp->manager);
	free(dp);
}

static bool any_nvidia(const struct display_plan *dp)
{
	for (size_t i = 0; i < dp->n_uses; i++)
		if (dp->uses[i].nvidia)
			return true;
	return false;
}

static const char *errtext(int r)
{
	return r == -ETIMEDOUT ? "did not finish in time" : r > 0 ? "failed" : strerror(-r);
}

/* systemctl VERB UNIT, with the deadline: its exit status, or -errno. */
static int systemctl(const char *verb, const char *unit, unsigned timeout_s)
{
	char *const active[] = { (char *)"systemctl", (char *)"is-active", (char *)"--quiet", (char *)unit, NULL };
	char *const other[] = { (char *)"systemctl", (char *)verb, (char *)unit, NULL };

	return run_with_deadline(streq(verb, "is-active") ? active : other, timeout_s);
}

static int modprobe(bool remove, const char *module, unsigned timeout_s)
{
	char *const load[] = { (char *)"modprobe", (char *)module, NULL };
	char *const unload[] = { (char *)"modprobe", (char *)"-r", (char *)module, NULL };

	return run_with_deadline(remove ? unload : load, timeout_s);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* A signal to a process holding the GPU; under VFIO_HOOK_TEST the stand-in 'kill' gets it, never a real process. */
static int send_signal(long pid, int sig, unsigned timeout_s)
{
	char p[32];
	char *const argv[] = { (char *)"kill", (char *)"-s", (char *)(sig == SIGKILL ? "KILL" : "TERM"), p, NULL };

	if (pid <= 1 || pid == (long)getpid())
		return -EINVAL;
	snprintf(p, sizeof(p), "%ld", pid);
	if (getenv("VFIO_HOOK_TEST"))
		return run_with_deadline(argv, timeout_s);
	return kill((pid_t)pid, sig) < 0 ? -errno : 0;
}

/* ---- the ledger's side ---- */

/* Records a step before it runs. Returns its index, or -errno when it cannot be saved (nothing ran). */
static int record(struct ledger *l, const struct pci_addr *gpu, const char *vm, enum display_step s, const char *what,
		  const char *driver)
{
	ledger_display_add(l, gpu, vm, s, what, driver);
	if (ledger_save(l) < 0) {
		ledger_display_drop(l, l->n_display - 1);
		return -EIO;
	}
	return (int)l->n_display - 1;
}

static int mark_done(struct ledger *l, int i)
{
	l->display[i].done = true;
	return ledger_save(l);
}

/*
 * A step whose write did not finish in time (R): saved as stuck, so that undoing it, in this
 * run and in the failed start's release that follows at once, does not wait out another
 * deadline. Unsaved, it stays "doing": undone with the full deadline, as before.
 */
static void mark_stuck(struct ledger *l, int i, int r)
{
	if (r != -ETIMEDOUT)
		return;
	l->display[i].stuck = true;
	(void)ledger_save(l);
}

/* Undoes one recorded step; says what failed in why. */
int display_undo_step(const struct ledger_display *d, unsigned timeout_s, char *why, size_t n)
{
	_cleanup_free_ char *path = NULL, *drv = NULL;
	int r = 0;

	/* Whatever a record says, only a name fit for the step reaches sysfs or a command line. */
	if (!display_what_valid(d->step, d->what) || (d->step == DSTEP_FB && !driver_name_valid(d->driver))) {
		snprintf(why, n, "the record names \"%.64s\", which is not fit for this step", d->what);
		return -EINVAL;
	}
	switch (d->step) {
	case DSTEP_DM:
	case DSTEP_PERSISTENCED:
		r = systemctl("start", d->what, timeout_s);
		snprintf(why, n, "systemctl start %s %s", d->what, errtext(r));
		break;
	case DSTEP_WAIT:
		break;
	case DSTEP_VTCON:
		path = xasprintf("/sys/class/vtconsole/%s/bind", d->what);
		r = sysfs_write(path, "1", timeout_s);
		snprintf(why, n, "binding fbcon to %s %s", d->what, errtext(r));
		break;
	case DSTEP_FB:
		drv = xasprintf("/sys/bus/platform/devices/%s/driver", d->what);
		if (exists(drv))
			break;
		path = xasprintf("/sys/bus/platform/drivers/%s/bind", d->driver);
		r = sysfs_write(path, d->what, timeout_s);
		if (r == 0 && !exists(drv))
			r = -EIO;
		snprintf(why, n, "binding %s to %s %s", d->what, d->driver, errtext(r));
		break;
	case DSTEP_MODULE:
		r = modprobe(false, d->what, timeout_s);
		snprintf(why, n, "modprobe %s %s", d->what, errtext(r));
		break;
	case DSTEP_N:
		break;
	}
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}

int display_hand_back(struct ledger *l, const char *owner, const struct holders *h, unsigned timeout_s, unsigned stuck_s,
		      int prio)
{
	int ret = 0;

	/* In reverse: modules first, then framebuffers, consoles, nvidia-persistenced, the display manager. */
	for (size_t i = l->n_display; i-- > 0;) {
		struct ledger_display *d = &l->display[i];
		const char *user = h ? holders_find(h, &d->gpu, NULL) : NULL;
		char a[PCI_ADDR_LEN], why[256] = "";
		bool leave = d->stuck && !stuck_s;

		if ((owner && !streq(d->owner, owner)) || ledger_func(l, &d->gpu))
			continue;
		/*
		 * Not recorded, but a running VM has the GPU (libvirt moved it for a managed='yes'
		 * <hostdev>): the display stays handed over, that VM's, until it stops.
		 */
		if (user) {
			if (!streq(d->owner, user)) {
				free(d->owner);
				d->owner = xstrdup(user);
			}
			continue;
		}
		pci_addr_format(&d->gpu, a, sizeof(a));
		if (leave)
			snprintf(why, sizeof(why), "its own step is still stuck in the kernel");
		if (leave || display_undo_step(d, d->stuck ? stuck_s : timeout_s, why, sizeof(why)) < 0) {
			_cleanup_free_ char *arg = shell_quote_inner(d->owner);

			log_msg(prio, "%s: cannot give the host's display back (%s of %s): %s (it stays recorded: run "
				"'vfio-hook restore %s' once the cause is gone)",
				d->owner, display_step_name(d->step), a, why, arg);
			ret = -EIO;
			continue;
		}
		if (d->step == DSTEP_DM || d->step == DSTEP_PERSISTENCED)
			log_info("%s: started %s again", d->owner, d->what);
		else if (d->step == DSTEP_VTCON)
			log_info("%s: bound fbcon to %s again", d->owner, d->what);
		else if (d->step == DSTEP_FB)
			log_info("%s: bound %s to %s again", d->owner, d->what, d->driver);
		else if (d->step == DSTEP_MODULE)
			log_info("%s: loaded %s again", d->owner, d->what);
		ledger_display_drop(l, i);
		if (ledger_save(l) < 0)
			ret = -EIO;
	}
	return ret;
}

/* ---- the hand-over ---- */

struct handoff {
	struct display_plan *dp;
	const char *vm;
	struct ledger *l;
	unsigned timeout_s;
	const struct pci_addr *gpu; /* what the host-wide steps are recorded with */
	char why[512];
};

static int step_unit(struct handoff *h, enum display_step s, const char *unit)
{
	int i, r = systemctl("is-active", unit, h->timeout_s);

	/*
	 * Only a unit that runs is stopped, so only that one is started again. is-active answers 3
	 * for a unit that does not run; anything else (no answer, no systemd) tells nothing, and a
	 * unit taken for stopped would keep the GPU busy, or have its processes killed under it.
	 */
	if (r == IS_ACTIVE_NOT_RUNNING)
		return 0;
	if (r != 0) {
		snprintf(h->why, sizeof(h->why), "systemctl is-active %s %s (check that systemd answers: systemctl status %s)",
			 unit, r == -ETIMEDOUT ? "did not finish in time" : r > 0 ? "failed" : strerror(-r), unit);
		return r < 0 ? r : -EIO;
	}
	i = record(h->l, h->gpu, h->vm, s, unit, NULL);
	if (i < 0) {
		snprintf(h->why, sizeof(h->why), "cannot record it in %s", ledger_path());
		return i;
	}
	r = systemctl("stop", unit, h->timeout_s);
	if (r != 0) {
		snprintf(h->why, sizeof(h->why), "systemctl stop %s %s", unit, errtext(r));
		return r < 0 ? r : -EIO;
	}
	log_info("%s: stopped %s", h->vm, unit);
	return mark_done(h->l, i);
}

/* Another VM's record says it stopped UNIT, and this start did not stop it again. */
static bool stopped_by_another(const struct ledger *l, const char *vm, const char *unit)
{
	bool other = false;

	for (size_t i = 0; i < l->n_display; i++)
		if (l->display[i].step == DSTEP_DM && streq(l->display[i].what, unit)) {
			if (streq(l->display[i].owner, vm))
				return false;
			other = true;
		}
	return other;
}

/* Everyone still using the GPUs, after one rescan (a scan cut short counts as not done); NULL when nobody. */
static char *users_left(struct handoff *h)
{
	char *s = NULL;

	for (size_t k = 0; k < h->dp->n_uses; k++) {
		struct display_use *u = &h->dp->uses[k];

		/* Each pass has the deadline of one step; the wait has its own. */
		display_rescan(u, now_ms() + (long)h->timeout_s * 1000L);
		if ((u->n_procs || u->incomplete) && !s)
			s = u->n_procs ? display_procs_text(u) : xstrdup("a scan of /proc that did not finish in time");
	}
	return s;
}

/* Polls /proc until nobody holds the GPUs or END passes: the users, or NULL. */
static char *wait_gone(struct handoff *h, long end)
{
	for (;;) {
		char *left = users_left(h);

		if (!left || now_ms() >= end)
			return left;
		free(left);
		nap();
	}
}

/*
 * Never a running VM's QEMU (another VM is not this start's to destroy), nor a process whose
 * node may be another GPU's: those make the wait fail, naming them.
 */
static bool may_signal(const struct display_proc *p)
{
	return p->vm < 0 && !p->qemu && !p->unsure;
}

static void signal_all(struct handoff *h, int sig)
{
	for (size_t k = 0; k < h->dp->n_uses; k++)
		for (size_t i = 0; i < h->dp->uses[k].n_procs; i++)
			if (may_signal(&h->dp->uses[k].procs[i]))
				send_signal(h->dp->uses[k].procs[i].pid, sig, h->timeout_s);
}

/* A QEMU still on the GPU (a running VM's, or another's): "VM (its QEMU, pid N)...", or NULL. */
static char *vm_left(const struct handoff *h)
{
	for (size_t k = 0; k < h->dp->n_uses; k++) {
		const struct display_use *u = &h->dp->uses[k];
		const struct display_proc *q = display_qemu_user(u);

		if (q) {
			_cleanup_free_ char *who = display_qemu_text(u, q);

			return xasprintf("%s: shut it down first", who);
		}
	}
	return NULL;
}

static int step_wait(struct handoff *h)
{
	const struct display_cfg *c = &h->dp->cfg;
	long grace = (long)c->timeout * 1000L;
	_cleanup_free_ char *left = NULL;
	int i = record(h->l, h->gpu, h->vm, DSTEP_WAIT, "-", NULL);

	if (i < 0) {
		snprintf(h->why, sizeof(h->why), "cannot record it in %s", ledger_path());
		return i;
	}
	left = wait_gone(h, now_ms() + grace);
	if (left) {
		_cleanup_free_ char *vm = vm_left(h);

		if (vm) {
			snprintf(h->why, sizeof(h->why), "%s", vm);
			return -EBUSY;
		}
	}
	if (left && c->kill) {
		log_msg(LOG_NOTICE, "%s: %s after %u s: sending SIGTERM", h->vm, left, c->timeout);
		signal_all(h, SIGTERM);
		free(left);
		left = wait_gone(h, now_ms() + grace);
		if (left) {
			log_msg(LOG_NOTICE, "%s: %s after SIGTERM: sending SIGKILL", h->vm, left);
			signal_all(h, SIGKILL);
			free(left);
			left = wait_gone(h, now_ms() + grace);
		}
	}
	if (left) {
		snprintf(h->why, sizeof(h->why), "%s %u s after the display manager stopped%s", left, c->timeout,
			 c->kill ? ", even after SIGKILL" : "");
		return -EBUSY;
	}
	return mark_done(h->l, i);
}

static int step_vtcons(struct handoff *h)
{
	for (size_t k = 0; k < h->dp->n_uses; k++) {
		const struct display_use *u = &h->dp->uses[k];

		for (size_t v = 0; v < u->n_vtcons; v++) {
			_cleanup_free_ char *path = xasprintf("/sys/class/vtconsole/%s/bind", u->vtcons[v]);
			_cleanup_free_ char *now = NULL;
			int i = record(h->l, &u->f->addr, h->vm, DSTEP_VTCON, u->vtcons[v], NULL), r;

			if (i < 0) {
				snprintf(h->why, sizeof(h->why), "cannot record it in %s", ledger_path());
				return i;
			}
			r = sysfs_write(path, "0", h->timeout_s);
			/* Read back under the console lock too: with the deadline. */
			if (r == 0)
				r = sysfs_read(path, (long)h->timeout_s * 1000L, &now);
			if (r == 0 && now[0] != '0')
				r = -EIO;
			if (r < 0) {
				mark_stuck(h->l, i, r);
				snprintf(h->why, sizeof(h->why), "unbinding fbcon from %s %s", u->vtcons[v], errtext(r));
				return r;
			}
			if ((r = mark_done(h->l, i)) < 0)
				return r;
		}
	}
	return 0;
}

static int step_fbs(struct handoff *h)
{
	for (size_t k = 0; k < h->dp->n_uses; k++) {
		const struct display_use *u = &h->dp->uses[k];

		for (size_t v = 0; v < u->n_fw; v++) {
			const struct display_fw *fw = &u->fw[v];
			_cleanup_free_ char *path = xasprintf("/sys/bus/platform/devices/%s/driver/unbind", fw->dev);
			_cleanup_free_ char *drv = xasprintf("/sys/bus/platform/devices/%s/driver", fw->dev);
			int i, r;

			if (!*fw->driver || !driver_name_valid(fw->driver) || !display_what_valid(DSTEP_FB, fw->dev))
				continue;
			i = record(h->l, &u->f->addr, h->vm, DSTEP_FB, fw->dev, fw->driver);
			if (i < 0) {
				snprintf(h->why, sizeof(h->why), "cannot record it in %s", ledger_path());
				return i;
			}
			r = sysfs_write(path, fw->dev, h->timeout_s);
			mark_stuck(h->l, i, r);
			if (r == 0 && exists(drv))
				r = -EIO;
			if (r < 0) {
				snprintf(h->why, sizeof(h->why), "unbinding the firmware framebuffer %s from %s %s", fw->dev,
					 fw->driver, errtext(r));
				return r;
			}
			if ((r = mark_done(h->l, i)) < 0)
				return r;
		}
	}
	return 0;
}

/* Loaded as a module (not built in, where /sys/module/NAME has no initstate). */
static bool module_loaded(const char *m)
{
	_cleanup_free_ char *init = xasprintf("/sys/module/%s/initstate", m);

	return exists(init);
}

static int step_modules(struct handoff *h)
{
	if (!any_nvidia(h->dp))
		return 0;
	/* Another function than the GPUs handed over on NVIDIA's driver: the modules stay. */
	if (display_nvidia_elsewhere(h->dp->uses, h->dp->n_uses)) {
		log_info("%s: NVIDIA's modules stay loaded: another function uses them", h->vm);
		return 0;
	}
	for (size_t m = 0; m < ARRAY_SIZE(nvidia_modules); m++) {
		const char *name = nvidia_modules[m];
		_cleanup_free_ char *dir = xasprintf("/sys/module/%s", name);
		int i, r;

		if (!module_loaded(name))
			continue;
		i = record(h->l, h->gpu, h->vm, DSTEP_MODULE, name, NULL);
		if (i < 0) {
			snprintf(h->why, sizeof(h->why), "cannot record it in %s", ledger_path());
			return i;
		}
		r = modprobe(true, name, h->timeout_s);
		if (r == 0 && exists(dir))
			r = -EBUSY;
		if (r != 0) {
			snprintf(h->why, sizeof(h->why), "modprobe -r %s %s%s", name, errtext(r),
				 r == -EBUSY ? " (the module is still in use)" : "");
			return r < 0 ? r : -EIO;
		}
		if ((r = mark_done(h->l, i)) < 0)
			return r;
	}
	return 0;
}

static int run_steps(struct handoff *h)
{
	int r = 0;

	/*
	 * Stopped by another VM's start already: then it does not run, and is not recorded again;
	 * started by hand since, it runs, and this start stops it (and records it) as any other.
	 */
	r = step_unit(h, DSTEP_DM, h->dp->manager);
	if (r == 0 && stopped_by_another(h->l, h->vm, h->dp->manager))
		log_info("%s: %s was stopped by another VM's start already", h->vm, h->dp->manager);
	/*
	 * nvidia-persistenced holds /dev/nvidia* for as long as it runs (that is its job): stopped
	 * through systemd before the wait, it is neither waited for nor killed.
	 */
	if (r == 0 && any_nvidia(h->dp))
		r = step_unit(h, DSTEP_PERSISTENCED, PERSISTENCED);
	if (r == 0)
		r = step_wait(h);
	if (r == 0)
		r = step_vtcons(h);
	if (r == 0)
		r = step_fbs(h);
	if (r == 0)
		r = step_modules(h);
	return r;
}

int display_handoff(struct display_plan *dp, const char *vm, struct ledger *l, unsigned timeout_s, char *why, size_t n,
		    char *hint, size_t hint_n)
{
	struct handoff h = { .dp = dp, .vm = vm, .l = l, .timeout_s = timeout_s, .gpu = &dp->uses[0].f->addr };
	const struct pci_func *f = dp->uses[0].f;
	char a[PCI_ADDR_LEN];
	int r = run_steps(&h);

	if (r == 0)
		return 0;
	pci_addr_format(&f->addr, a, sizeof(a));
	snprintf(why, n, "cannot hand the host's display on %s (%s) over: %s", a, pci_func_name(f), h.why);
	snprintf(hint, hint_n, "%s", r == -EBUSY && !dp->cfg.kill ? " (stop them, or set host-display-kill = yes)" : "");
	return r;
}

static bool display_needed(const struct take *t)
{
	return t->p.display != NULL;
}

static int display_run(struct take *t)
{
	t->handed = true;
	return display_handoff(t->p.display, t->q->vm, &t->w->l, t->w->cfg->opt.timeout, t->what, sizeof(t->what),
			       t->hint, sizeof(t->hint));
}

/* The lock a stuck step's write waits for is still held: a second deadline would not help. */
static bool display_undo(struct take *t)
{
	struct holders h = { 0 };
	int r;

	/* Which VMs run cannot be read: the display stays handed over, recorded (it may be a VM's GPU). */
	if (holders_load(&h) < 0)
		return false;
	r = display_hand_back(&t->w->l, t->q->vm, &h, t->w->cfg->opt.timeout, 0, LOG_NOTICE);
	holders_clear(&h);
	return r == 0;
}

static void display_give(struct give *g)
{
	if (display_hand_back(&g->w->l, g->q->owner, &g->h, g->w->cfg->opt.timeout, g->q->stuck_s, g->q->prio) < 0)
		g->left = true;
}

static void display_step_describe(const struct plan *p, FILE *out)
{
	if (p->display)
		display_plan_print(p->display, out);
}

const struct step step_display = {
	.name = "display",
	.needed = display_needed,
	.run = display_run,
	.undo = display_undo,
	.give = display_give,
	.describe = display_step_describe,
	.undo_last = true,
	.undone = "; everything was put back as it was",
	.left = "; some steps could not be undone: run 'vfio-hook restore %s' when the cause is gone",
};

/* ---- what --check and status show ---- */

void display_plan_print(const struct display_plan *dp, FILE *out)
{
	bool nv = any_nvidia(dp);
	size_t n = 0;

	fprintf(out, "  hand over the host's display (host-display = handoff), in this order:\n");
	for (size_t k = 0; k < dp->n_uses; k++) {
		_cleanup_free_ char *desc = display_describe(&dp->uses[k]);
		char a[PCI_ADDR_LEN];

		pci_addr_format(&dp->uses[k].f->addr, a, sizeof(a));
		fprintf(out, "    %s (%s) drives it: %s\n", a, pci_func_name(dp->uses[k].f), desc);
	}
	fprintf(out, "    1. stop %s if it runs (the display manager)\n", dp->manager);
	if (nv)
		fprintf(out, "    2. stop " PERSISTENCED " if it runs\n");
	else
		fprintf(out, "    2. nvidia-persistenced: nothing to stop (not on NVIDIA's driver)\n");
	fprintf(out, "    3. wait up to %u s until no process uses", dp->cfg.timeout);
	for (size_t k = 0; k < dp->n_uses; k++) {
		const struct display_use *u = &dp->uses[k];

		for (size_t i = 0; i < u->n_nodes; i++)
			fprintf(out, "%s %s", n++ ? "," : "", u->nodes[i]);
		if (!u->nvidia)
			continue;
		if (u->nv_minor >= 0)
			fprintf(out, "%s /dev/nvidia%d", n++ ? "," : "", u->nv_minor);
		else
			fprintf(out, "%s /dev/nvidiaN (its minor is unknown: any)", n++ ? "," : "");
		if (u->nv_shared)
			fprintf(out, ", /dev/nvidiactl, /dev/nvidia-modeset, /dev/nvidia-uvm");
	}
	fprintf(out, "%s; then %s\n", n ? "" : " the GPU",
		dp->cfg.kill ? "SIGTERM, then SIGKILL, what is left (host-display-kill = yes; never a running VM's QEMU)"
			     : "fail naming what is left (host-display-kill = no)");
	n = 0;
	for (size_t k = 0; k < dp->n_uses; k++)
		for (size_t i = 0; i < dp->uses[k].n_vtcons; i++, n++)
			fprintf(out, "    4. unbind fbcon from %s\n", dp->uses[k].vtcons[i]);
	if (!n)
		fprintf(out, "    4. fbcon: nothing to unbind\n");
	n = 0;
	for (size_t k = 0; k < dp->n_uses; k++)
		for (size_t i = 0; i < dp->uses[k].n_fw; i++, n++)
			fprintf(out, "    5. unbind the firmware framebuffer %s from %s\n", dp->uses[k].fw[i].dev,
				*dp->uses[k].fw[i].driver ? dp->uses[k].fw[i].driver : "(no driver)");
	if (!n)
		fprintf(out, "    5. firmware framebuffer: nothing to unbind\n");
	if (nv)
		fprintf(out, "    6. unload nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia (those loaded as modules) unless "
			     "another function uses them\n");
	else
		fprintf(out, "    6. NVIDIA modules: nothing to unload\n");
	fprintf(out, "    7. move to vfio-pci (below); when the VM stops, all of it is undone in reverse\n");
}

long display_plan_hold_ms(const struct display_plan *dp, unsigned timeout_s)
{
	long steps = 8;

	if (!dp)
		return 0;
	for (size_t k = 0; k < dp->n_uses; k++)
		steps += 2L * (long)(dp->uses[k].n_vtcons + dp->uses[k].n_fw);
	/* Each step and its undoing; the wait three times over (grace, SIGTERM, SIGKILL). */
	return ((long)timeout_s * 2L * steps + 3L * (long)dp->cfg.timeout) * 1000L;
}

void display_status(const struct ledger *l, const char *owner, FILE *out)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_display; i++) {
		const struct ledger_display *d = &l->display[i];

		if (!streq(d->owner, owner) || d->step == DSTEP_WAIT)
			continue;
		fprintf(out, "%s%s %s%s", n++ ? ", " : " holds the host's display (", d->what,
			d->step == DSTEP_DM || d->step == DSTEP_PERSISTENCED ? "stopped"
			: d->step == DSTEP_MODULE			     ? "unloaded"
									     : "unbound",
			d->done ? "" : d->stuck ? " maybe [stuck in the kernel]" : " maybe");
	}
	if (n)
		fputc(')', out);
}

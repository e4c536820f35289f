/* SPDX-License-Identifier: MIT */
/*
 * The engine's sleep step (claims.h): while a VM with block-sleep runs, the host does not
 * suspend (a passed-through GPU does not survive it; the host locks up). The hook exits, so a
 * transient unit holds logind's block inhibitor; the first claim starts it, the last one's give
 * stops it.
 */
#define _GNU_SOURCE
#include "claims.h"
#include "log.h"
#include "step.h"
#include "util.h"

#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int systemctl(const char *verb, unsigned timeout_s)
{
	const char *active[] = { "systemctl", "is-active", "--quiet", SLEEP_UNIT, NULL };
	const char *other[] = { "systemctl", verb, SLEEP_UNIT, NULL };

	return host_run(timeout_s, streq(verb, "is-active") ? active : other);
}

/*
 * Does logind hold an inhibitor of ours? Its records are /run/systemd/inhibit/ID (a number),
 * one WHO= line each; beside each is the FIFO ID.ref, never read here: a read of it blocks for as
 * long as the inhibitor is held.
 */
static bool inhibitor_held(unsigned timeout_s)
{
	_cleanup_free_ char *dir = host_file("/run/systemd/inhibit");
	DIR *d = dir ? opendir(dir) : NULL;
	const struct dirent *de;
	bool held = false;

	while (d && !held && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *text = NULL;
		struct stat st;

		if (!de->d_name[0] || strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && host_read(path, timeout_s, &text) == 0) {
			const char *who = strstr(text, "WHO=vfio-hook");

			held = who && (who == text || who[-1] == '\n') && strchr("\n", who[strlen("WHO=vfio-hook")]) &&
			       strstr(text, "MODE=block");
		}
	}
	if (d)
		closedir(d);
	return held;
}

/* systemd-run's --unit= for it. */
static const char unit_opt[] = "--unit=" SLEEP_UNIT;

int sleep_hold(unsigned timeout_s, char *why, size_t n)
{
	const char *argv[] = { "systemd-run", unit_opt, "--collect", "--quiet",
			       "--description=vfio-hook: no sleep while VMs with passed-through devices run", "--",
			       "systemd-inhibit", "--what=sleep", "--who=vfio-hook", "--why=VMs with passed-through devices run",
			       "--mode=block", "sleep", "infinity", NULL };
	int r;

	/* Held already (another VM's claim): as good. */
	if (systemctl("is-active", timeout_s) == 0)
		return 0;
	r = host_run(timeout_s, argv);
	if (r != 0) {
		char e[64];

		snprintf(why, n, "systemd-run of %s %s", SLEEP_UNIT, host_error(r, e, sizeof(e)));
		return r < 0 ? r : -EIO;
	}
	/*
	 * Started is not held: systemd-inhibit asks logind over D-Bus, and fails after its unit
	 * started. A unit that still runs after a moment (two seconds, or the map's timeout if
	 * shorter) holds the lock: systemd-inhibit runs its command only with it taken. Logind's
	 * record of it, where found, ends the wait early.
	 */
	for (long end = now_ms() + (timeout_s < 2 ? (long)timeout_s : 2L) * 1000L;;) {
		if (inhibitor_held(timeout_s))
			return 0;
		if (systemctl("is-active", timeout_s) != 0) {
			snprintf(why, n, "%s did not stay active: systemd-inhibit could not take logind's inhibitor (see "
				 "'journalctl -u %s')", SLEEP_UNIT, SLEEP_UNIT);
			return -EIO;
		}
		if (now_ms() >= end)
			break;
		nanosleep(&(struct timespec){ 0, 100L * 1000L * 1000L }, NULL);
	}
	log_info("%s runs: its inhibitor is held (systemd-inhibit --list shows it)", SLEEP_UNIT);
	return 0;
}

bool sleep_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio)
{
	int r;

	if (!ledger_sleep_of(l, owner))
		return true;
	/* A damaged sleep line may be a running VM's claim: the inhibitor stays until it is put right. */
	if (l->n_sleep == 1 && ledger_bad_kind(l, "sleep")) {
		log_msg(prio, "%s: the host's sleep stays blocked: a damaged sleep line in %s (its FILE:LINE above) may be "
			      "another running VM's; correct or delete it, then run 'vfio-hook restore %s'",
			owner, ledger_path(), owner);
		return false;
	}
	/* The last claim stops it; stopped already (or gone) is as good. */
	if (l->n_sleep == 1 && (r = systemctl("stop", timeout_s)) != 0 && systemctl("is-active", timeout_s) == 0) {
		char e[64];

		log_msg(prio, "%s: the host's sleep stays blocked: 'systemctl stop %s' %s; run 'vfio-hook restore %s' when the "
			      "cause is gone",
			owner, SLEEP_UNIT, host_error(r, e, sizeof(e)), owner);
		return false;
	}
	ledger_sleep_drop(l, owner);
	return ledger_save(l) == 0;
}

/* ---- the step ---- */

static bool sleep_needed(const struct take *t)
{
	return t->p.claims && t->p.claims->sleep;
}

static int sleep_run(struct take *t)
{
	struct ledger *l = &t->w->l;
	char why[512] = "";
	int r;

	ledger_sleep_add(l, t->q->vm);
	if (ledger_save(l) < 0) {
		snprintf(t->what, sizeof(t->what), "cannot record in %s that the host must not sleep", ledger_path());
		return -EIO;
	}
	r = sleep_hold(t->w->cfg->opt.timeout, why, sizeof(why));
	if (r < 0) {
		snprintf(t->what, sizeof(t->what), "cannot keep the host from sleeping while it runs: %s", why);
		snprintf(t->hint, sizeof(t->hint), " (or set block-sleep = no in [vm %s])", t->q->vm);
		return r;
	}
	ledger_sleep_of(l, t->q->vm)->done = true;
	return ledger_save(l) < 0 ? -EIO : 0;
}

static bool sleep_undo(struct take *t)
{
	return sleep_give(&t->w->l, t->q->vm, t->w->cfg->opt.timeout, LOG_NOTICE);
}

static void sleep_give_step(struct give *g)
{
	if (give_wants_claims(g) && !sleep_give(&g->w->l, g->q->owner, g->w->cfg->opt.timeout, g->q->prio))
		g->left = true;
}

const struct step step_sleep = {
	.name = "sleep",
	.needed = sleep_needed,
	.run = sleep_run,
	.undo = sleep_undo,
	.give = sleep_give_step,
	.describe = claims_describe_sleep,
	.undone = STEP_UNDONE,
	.left = CLAIM_LEFT,
};

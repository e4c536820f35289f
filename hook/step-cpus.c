/* SPDX-License-Identifier: MIT */
/*
 * The engine's CPU step (claims.h): the CPUs a starting VM keeps are recorded, then the host's
 * own units are narrowed to the online CPUs no claim keeps, through systemd, and read back from
 * their cgroups; with cpu-governor = performance, its CPUs' governor and EPP follow, each CPU's
 * own recorded before its first change. Its undo and give recompute the host's CPUs from the
 * claims that remain: the last one puts back what the units and CPUs had.
 */
#define _GNU_SOURCE
#include "claims.h"
#include "log.h"
#include "sysfs.h"
#include "step.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* What every claim in L but WITHOUT's keeps; with GOVERNOR, only the claims at performance. */
static struct cpuset claimed(const struct ledger *l, const char *without, bool governor)
{
	struct cpuset all = { 0 };

	for (size_t i = 0; i < l->n_cpus; i++)
		if ((!without || !streq(l->cpus[i].owner, without)) && (!governor || l->cpus[i].governor))
			cpuset_or(&all, &l->cpus[i].set);
	return all;
}

static int set_unit(const char *unit, const char *cpus, unsigned timeout_s)
{
	_cleanup_free_ char *prop = xasprintf("AllowedCPUs=%s", cpus);
	const char *argv[] = { "systemctl", "set-property", "--runtime", "--", unit, prop, NULL };

	return host_run(timeout_s, argv);
}

static int save(struct ledger *l, char *why, size_t n)
{
	if (ledger_save(l) == 0)
		return 0;
	snprintf(why, n, "cannot record it in %s", ledger_path());
	return -EIO;
}

int unit_allowed(const struct ledger *l, const char *unit, unsigned timeout_s, char **ret, char *why, size_t n)
{
	const struct ledger_slice *s = ledger_slice(l, unit);
	_cleanup_free_ char *path = NULL;
	struct cpuset cs;
	char e[64];
	int r;

	if (s) {
		*ret = xstrdup(s->was);
		return 0;
	}
	path = host_file("/sys/fs/cgroup/%s/cpuset.cpus", unit);
	r = host_read(path, timeout_s, ret);
	/* No cpuset controller on it yet: nothing was set, it could run anywhere. */
	if (r == -ENOENT) {
		*ret = xstrdup("");
		return 0;
	}
	if (r == 0 && cpuset_parse(*ret, &cs) == 0) {
		_cleanup_free_ char *online_path = host_file("/sys/devices/system/cpu/online");
		_cleanup_free_ char *possible_path = host_file("/sys/devices/system/cpu/possible");
		struct cpuset all;

		/*
		 * Every CPU there can be, or every online one, is no restriction: what systemd leaves in
		 * the cgroup when the property was dropped (cpus_apply gives back that way).
		 */
		if ((possible_path && host_read_cpuset(possible_path, timeout_s, &all) == 0 && cpuset_eq(&cs, &all)) ||
		    (online_path && host_read_cpuset(online_path, timeout_s, &all) == 0 && cpuset_eq(&cs, &all)))
			(*ret)[0] = '\0';
		return 0;
	}
	if (r == 0) {
		free(*ret);
		*ret = NULL;
	}
	snprintf(why, n, "reading %s %s", path ? path : "-", r < 0 ? host_error(r, e, sizeof(e)) : "gave no CPU list");
	return r < 0 ? r : -EBADMSG;
}

/* What UNIT's cgroup had before the first claim, recorded before the first write: *RET. */
static int unit_before(struct ledger *l, const char *unit, unsigned timeout_s, struct ledger_slice **ret, char *why,
		       size_t n)
{
	_cleanup_free_ char *now = NULL;
	int r;

	*ret = ledger_slice(l, unit);
	if (*ret)
		return 0;
	r = unit_allowed(l, unit, timeout_s, &now, why, n);
	if (r < 0)
		return r;
	*ret = ledger_slice_add(l, unit, now);
	return save(l, why, n);
}

int cpus_apply(struct ledger *l, const char *without, unsigned timeout_s, char *why, size_t n)
{
	_cleanup_free_ char *online_path = host_file("/sys/devices/system/cpu/online");
	_cleanup_free_ char *possible_path = host_file("/sys/devices/system/cpu/possible");
	struct cpuset keep = claimed(l, without, false), online, possible;
	char e[64];
	int r;

	/* A damaged record: which CPUs VMs keep, or what a unit had, is unknown; nothing is widened on a guess. */
	if (ledger_bad_kind(l, "cpus") || ledger_bad_kind(l, "slice")) {
		snprintf(why, n, "a damaged cpus or slice line in %s (its FILE:LINE above) hides which CPUs VMs keep or what "
			 "the host's units had: correct or delete it", ledger_path());
		return -EBADMSG;
	}
	r = host_read_cpuset(online_path, timeout_s, &online);
	if (r < 0) {
		snprintf(why, n, "reading which CPUs are online (%s) %s", online_path ? online_path : "-", host_error(r, e, sizeof(e)));
		return r;
	}
	if (!possible_path || host_read_cpuset(possible_path, timeout_s, &possible) < 0)
		possible = online;
	for (size_t u = 0; u < CLAIM_N_UNITS; u++) {
		const char *unit = claim_units[u];
		_cleanup_free_ char *eff_path = host_file("/sys/fs/cgroup/%s/cpuset.cpus.effective", unit);
		struct ledger_slice *s = ledger_slice(l, unit);
		struct cpuset target = { 0 }, want, got;
		char t[CPUSET_TEXT_MAX], g[CPUSET_TEXT_MAX];

		if (cpuset_empty(&keep) && !s)
			continue; /* never narrowed (or put back already) */
		if (!cpuset_empty(&keep) && (r = unit_before(l, unit, timeout_s, &s, why, n)) < 0)
			return r;
		if (cpuset_parse(s->was, &target) < 0)
			return -EBADMSG; /* never: it was read as a CPU list */
		if (!cpuset_empty(&keep)) {
			/* What it may use, as it was (all online CPUs when nothing was set), minus what VMs keep. */
			if (cpuset_empty(&target))
				target = online;
			cpuset_minus(&target, &keep);
			if (cpuset_empty(&target)) {
				snprintf(why, n, "%s may only run on CPU %s (its AllowedCPUs), and VMs keep all of them", unit, s->was);
				return -ENOSPC;
			}
		}
		/*
		 * Back to no AllowedCPUs at all: systemd drops the property but leaves the cgroup's
		 * cpuset.cpus as the last value it wrote (the narrowed one). So every CPU there can be
		 * first (a CPU offline now gets it when it comes back), which it writes, then the
		 * property dropped.
		 */
		cpuset_format(cpuset_empty(&target) ? &possible : &target, t, sizeof(t));
		r = set_unit(unit, t, timeout_s);
		if (r != 0) {
			snprintf(why, n, "'systemctl set-property --runtime %s AllowedCPUs=%s' %s", unit, t, host_error(r, e, sizeof(e)));
			return r < 0 ? r : -EIO;
		}
		want = online;
		if (!cpuset_empty(&target))
			cpuset_and(&target, &online, &want);
		r = host_read_cpuset(eff_path, timeout_s, &got);
		if (r < 0 || !cpuset_eq(&got, &want)) {
			cpuset_format(&want, t, sizeof(t));
			if (r < 0)
				snprintf(why, n, "reading %s back %s", eff_path, host_error(r, e, sizeof(e)));
			else
				snprintf(why, n, "%s runs on CPU %s after systemctl set-property, not on %s (%s)", unit,
					 (cpuset_format(&got, g, sizeof(g)), *g ? g : "none"), t, eff_path);
			return r < 0 ? r : -EIO;
		}
		if (cpuset_empty(&target) && (r = set_unit(unit, "", timeout_s)) != 0)
			log_info("%s runs on every online CPU again, but 'systemctl set-property --runtime %s AllowedCPUs=' %s: "
				 "its AllowedCPUs stays %s until the next boot", unit, unit, host_error(r, e, sizeof(e)), t);
		if (cpuset_empty(&keep)) {
			ledger_slice_drop(l, unit);
			if ((r = save(l, why, n)) < 0)
				return r;
		}
	}
	return 0;
}

static char *cpufreq_file(unsigned cpu, const char *name)
{
	return host_file("/sys/devices/system/cpu/cpu%u/cpufreq/%s", cpu, name);
}

/* CPU at performance, what it had recorded first (a CPU without cpufreq is left alone). */
static int governor_set(struct ledger *l, unsigned cpu, unsigned timeout_s, char *why, size_t n)
{
	_cleanup_free_ char *gov = cpufreq_file(cpu, "scaling_governor"), *epp = cpufreq_file(cpu, "energy_performance_preference");
	_cleanup_free_ char *was = NULL, *was_epp = NULL;
	struct stat st;
	char e[64];
	int r;

	if (!gov || stat(gov, &st) < 0)
		return 0;
	if (!ledger_governor(l, cpu)) {
		r = host_read(gov, timeout_s, &was);
		if (r == 0 && stat(epp, &st) == 0)
			r = host_read(epp, timeout_s, &was_epp);
		if (r < 0) {
			snprintf(why, n, "reading CPU %u's governor %s", cpu, host_error(r, e, sizeof(e)));
			return r;
		}
		if (!*was || strlen(was) >= sizeof(l->governors->was) || strchr(was, ' ') ||
		    (was_epp && (strlen(was_epp) >= sizeof(l->governors->epp) || strchr(was_epp, ' ')))) {
			snprintf(why, n, "CPU %u's governor reads \"%.40s\", which vfio-hook cannot record", cpu, was);
			return -EBADMSG;
		}
		ledger_governor_add(l, cpu, was, was_epp ? was_epp : "");
		if ((r = save(l, why, n)) < 0)
			return r;
	}
	r = sysfs_write(gov, "performance", timeout_s);
	/* With the performance governor, intel_pstate holds EPP at performance itself (and refuses other values). */
	if (r == 0 && *ledger_governor(l, cpu)->epp)
		r = sysfs_write(epp, "performance", timeout_s);
	if (r < 0)
		snprintf(why, n, "setting CPU %u to the performance governor %s", cpu, host_error(r, e, sizeof(e)));
	return r;
}

/* CPU back to what it had. */
static int governor_put_back(struct ledger *l, unsigned cpu, unsigned timeout_s, char *why, size_t n)
{
	const struct ledger_governor *g = ledger_governor(l, cpu);
	_cleanup_free_ char *gov = cpufreq_file(cpu, "scaling_governor"), *epp = cpufreq_file(cpu, "energy_performance_preference");
	int r = sysfs_write(gov, g->was, timeout_s);

	/* The governor first: under performance, intel_pstate refuses any other EPP. */
	if (r == 0 && *g->epp)
		r = sysfs_write(epp, g->epp, timeout_s);
	if (r < 0) {
		char e[64];

		snprintf(why, n, "putting CPU %u back to the %s governor %s", cpu, g->was, host_error(r, e, sizeof(e)));
		return r;
	}
	ledger_governor_drop(l, cpu);
	return save(l, why, n);
}

/* Every recorded CPU that no claim (but WITHOUT's) holds at performance, back. */
static int governors_put_back(struct ledger *l, const char *without, unsigned timeout_s, char *why, size_t n)
{
	struct cpuset held = claimed(l, without, true);
	int r = 0;

	for (size_t i = l->n_governors; i-- > 0;)
		if (!cpuset_has(&held, l->governors[i].cpu)) {
			int k = governor_put_back(l, l->governors[i].cpu, timeout_s, why, n);

			r = r < 0 ? r : k;
		}
	return r;
}

bool cpus_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio)
{
	char why[512] = "";
	int r;

	if (!ledger_cpus_of(l, owner))
		return true;
	r = governors_put_back(l, owner, timeout_s, why, sizeof(why));
	if (r == 0)
		r = cpus_apply(l, owner, timeout_s, why, sizeof(why));
	if (r < 0) {
		log_msg(prio, "%s: its CPUs stay kept from the host: %s; run 'vfio-hook restore %s' when the cause is gone",
			owner, why, owner);
		return false;
	}
	ledger_cpus_drop(l, owner);
	return ledger_save(l) == 0;
}

/* ---- the step ---- */

static bool cpus_needed(const struct take *t)
{
	return t->p.claims && t->p.claims->cpus;
}

static int cpus_run(struct take *t)
{
	const struct claims_plan *cp = t->p.claims;
	struct ledger *l = &t->w->l;
	unsigned timeout = t->w->cfg->opt.timeout;
	char why[512] = "";
	int r;

	ledger_cpus_add(l, t->q->vm, &cp->set, cp->governor);
	r = save(l, why, sizeof(why));
	if (r == 0)
		r = cpus_apply(l, NULL, timeout, why, sizeof(why));
	for (unsigned c = 0; r == 0 && cp->governor && c < CPUSET_MAX; c++)
		if (cpuset_has(&cp->set, c))
			r = governor_set(l, c, timeout, why, sizeof(why));
	if (r == 0) {
		ledger_cpus_of(l, t->q->vm)->done = true;
		r = save(l, why, sizeof(why));
	}
	if (r < 0) {
		char a[CPUSET_TEXT_MAX];

		cpuset_format(&cp->set, a, sizeof(a));
		snprintf(t->what, sizeof(t->what), "cannot keep CPU %.200s for it: %s", a, why);
	}
	return r;
}

static bool cpus_undo(struct take *t)
{
	return cpus_give(&t->w->l, t->q->vm, t->w->cfg->opt.timeout, LOG_NOTICE);
}

static void cpus_give_step(struct give *g)
{
	if (give_wants_claims(g) && !cpus_give(&g->w->l, g->q->owner, g->w->cfg->opt.timeout, g->q->prio))
		g->left = true;
}

const struct step step_cpus = {
	.name = "cpus",
	.needed = cpus_needed,
	.run = cpus_run,
	.undo = cpus_undo,
	.give = cpus_give_step,
	.describe = claims_describe_cpus,
	.undone = STEP_UNDONE,
	.left = CLAIM_LEFT,
};

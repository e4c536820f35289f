/* SPDX-License-Identifier: MIT */
/*
 * A VM's claims on the host (claims.h): what its start would claim, planned against what other
 * VMs hold and the host has; how --check and status show them; the host's files, under the test
 * suite's root for a test.
 */
#define _GNU_SOURCE
#include "claims.h"

#include "display.h"
#include "log.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const claim_units[CLAIM_N_UNITS] = { "system.slice", "user.slice", "init.scope" };

/* ---- the host ---- */

bool host_reachable(void)
{
	return !getenv("VFIO_HOOK_TEST") || *display_root();
}

char *host_file(const char *fmt, ...)
{
	_cleanup_free_ char *rel = NULL;
	va_list ap;
	int r;

	if (!host_reachable())
		return NULL;
	va_start(ap, fmt);
	r = vasprintf(&rel, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return xasprintf("%s%s", display_root(), rel);
}

int host_read(const char *path, unsigned timeout_s, char **ret)
{
	char *s = NULL;
	int r;

	if (!path)
		return -EPERM;
	r = sysfs_read(path, (long)timeout_s * 1000L, &s);
	if (r < 0)
		return r;
	*ret = xstrdup(strip(s));
	free(s);
	return 0;
}

int host_read_cpuset(const char *path, unsigned timeout_s, struct cpuset *ret)
{
	_cleanup_free_ char *s = NULL;
	int r = host_read(path, timeout_s, &s);

	return r < 0 ? r : cpuset_parse(s, ret) < 0 ? -EBADMSG : 0;
}

int host_read_number(const char *path, unsigned timeout_s, unsigned long *ret)
{
	_cleanup_free_ char *s = NULL;
	char *end;
	int r = host_read(path, timeout_s, &s);

	if (r < 0)
		return r;
	errno = 0;
	*ret = strtoul(s, &end, 10);
	return errno || *end || end == s || *s == '-' ? -EBADMSG : 0;
}

int host_run(unsigned timeout_s, const char *const *argv)
{
	return run_with_deadline((char *const *)argv, timeout_s);
}

const char *host_error(int r, char *buf, size_t n)
{
	if (r == -ETIMEDOUT)
		snprintf(buf, n, "did not finish in time");
	else if (r > 0)
		snprintf(buf, n, "failed (exit status %d)", r);
	else
		snprintf(buf, n, "failed: %s", strerror(-r));
	return buf;
}

char *pool_file(unsigned long long size_kib, int node, const char *counter)
{
	return node < 0 ? host_file("/sys/kernel/mm/hugepages/hugepages-%llukB/%s", size_kib, counter)
			: host_file("/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/%s", node, size_kib, counter);
}

void pool_name(unsigned long long size_kib, int node, char *buf, size_t n)
{
	char size[32], where[32] = "";

	if (size_kib >= 1048576 && size_kib % 1048576 == 0)
		snprintf(size, sizeof(size), "%llu GiB", size_kib / 1048576);
	else if (size_kib >= 1024 && size_kib % 1024 == 0)
		snprintf(size, sizeof(size), "%llu MiB", size_kib / 1024);
	else
		snprintf(size, sizeof(size), "%llu KiB", size_kib);
	if (node >= 0)
		snprintf(where, sizeof(where), " on node %d", node);
	snprintf(buf, n, "%s hugepages%s", size, where);
}

/* ---- planning ---- */

#define refuse(p, ...) plan_note(&(p)->refusals, &(p)->n_refusals, __VA_ARGS__)
#define warn(p, ...) plan_note(&(p)->warnings, &(p)->n_warnings, __VA_ARGS__)

/* Where a VM's claim stands, for a line that names it. */
static const char *whereabouts(const struct ledger *l, const struct holders *h, const char *owner)
{
	const struct ledger_vm *v = ledger_vm(l, owner);

	if (h && holders_get(h, owner))
		return "running";
	return v && !v->started ? "starting" : "not running: 'vfio-hook restore' gives them back";
}

/*
 * What each of the host's own units would run on, as the start sets it (cpus_apply): its own
 * AllowedCPUs (all online CPUs when it has none) minus what the VMs keep. One the user keeps on
 * CPUs the VMs would all take is refused here, so that --check says what the start will do.
 */
static void plan_units(const char *vm, const struct ledger *l, const struct cpuset *others, const char *a, unsigned timeout,
		       struct plan *p, struct claims_plan *cp)
{
	struct cpuset keep = *others;

	cpuset_or(&keep, &cp->set);
	for (size_t u = 0; u < CLAIM_N_UNITS; u++) {
		_cleanup_free_ char *was = NULL;
		struct cpuset target = { 0 }, alone;
		char why[512];

		if (unit_allowed(l, claim_units[u], timeout, &was, why, sizeof(why)) < 0) {
			refuse(p, "cannot keep CPU %s (%s) from the host: %s; set cpus = none in [vm %s] to start it without", a,
			       cp->cpus_from, why, vm);
			return;
		}
		if (cpuset_parse(was, &target) < 0 || cpuset_empty(&target))
			target = cp->online;
		alone = target;
		cpuset_minus(&alone, &cp->set);
		cpuset_minus(&target, &keep);
		if (cpuset_empty(&target)) {
			refuse(p, "keeping CPU %s (%s) would leave %s no CPU: it may only run on CPU %s (its AllowedCPUs)%s; keep "
				  "other CPUs for %s (cpus = in [vm %s], or its <vcpupin>), or widen %s's AllowedCPUs",
			       a, cp->cpus_from, claim_units[u], was, cpuset_empty(&alone) ? "" : ", and the other VMs keep the rest",
			       vm, vm, claim_units[u]);
			continue;
		}
		cpuset_and(&target, &cp->online, &cp->units[u]);
	}
}

static void plan_cpus(const struct claims_cfg *k, const char *vm, const struct domain *dom, const struct ledger *l,
		      const struct holders *h, unsigned timeout, struct plan *p, struct claims_plan *cp)
{
	_cleanup_free_ char *online = host_file("/sys/devices/system/cpu/online");
	_cleanup_free_ char *ctl = host_file("/sys/fs/cgroup/cgroup.controllers"), *ctls = NULL;
	struct cpuset others = { 0 }, missing;
	char a[CPUSET_TEXT_MAX], b[CPUSET_TEXT_MAX];
	int r;

	if (k->cpus_from == CPUS_NONE)
		return;
	if (k->cpus_from == CPUS_LIST) {
		cp->set = k->cpus;
		snprintf(cp->cpus_from, sizeof(cp->cpus_from), "cpus = in [vm %s]", vm);
	} else if (!dom) {
		warn(p, "its domain XML cannot be read: the CPUs it pins are not kept from the host (set cpus = in [vm %s] "
			"to keep them whatever libvirt says)", vm);
		return;
	} else if (dom->pinned) {
		if (dom->resources_bad && strstr(dom->resources_bad, "cpuset=")) {
			refuse(p, "its domain XML pins CPUs vfio-hook cannot read: %s; fix it with 'virsh edit %s', or set cpus = "
				  "none in [vm %s]", dom->resources_bad, vm, vm);
			return;
		}
		cp->set = dom->pins;
		snprintf(cp->cpus_from, sizeof(cp->cpus_from), "its <cputune>");
	}
	if (cpuset_empty(&cp->set))
		return;
	if (!host_reachable()) {
		refuse(p, "refusing to keep CPUs from the host: VFIO_HOOK_TEST is set without VFIO_HOOK_TEST_ROOT");
		return;
	}
	cp->cpus = true;
	cp->governor = k->governor;
	cpuset_format(&cp->set, a, sizeof(a));
	r = host_read_cpuset(online, timeout, &cp->online);
	if (r < 0) {
		char e[64];

		refuse(p, "cannot keep CPU %s (%s) from the host: reading which CPUs are online (%s) %s; set cpus = none in "
			  "[vm %s] to start it without", a, cp->cpus_from, online, host_error(r, e, sizeof(e)), vm);
		return;
	}
	missing = cp->set;
	cpuset_minus(&missing, &cp->online);
	if (!cpuset_empty(&missing)) {
		char on[CPUSET_TEXT_MAX];

		cpuset_format(&missing, b, sizeof(b));
		cpuset_format(&cp->online, on, sizeof(on));
		refuse(p, "CPU %s (%s) is not online on this host (online: %s); fix %s", b, cp->cpus_from, on,
		       k->cpus_from == CPUS_LIST ? "cpus =" : "the pins with 'virsh edit'");
		return;
	}
	for (size_t i = 0; i < l->n_cpus; i++) {
		struct cpuset both;

		if (streq(l->cpus[i].owner, vm))
			continue;
		cpuset_or(&others, &l->cpus[i].set);
		if (cpuset_and(&cp->set, &l->cpus[i].set, &both)) {
			cpuset_format(&both, b, sizeof(b));
			refuse(p, "CPU %s (%s) is kept for %s already (%s); give each VM CPUs of its own (cpus = in [vm %s], "
				  "or its <vcpupin>), or stop %s first",
			       b, cp->cpus_from, l->cpus[i].owner, whereabouts(l, h, l->cpus[i].owner), vm, l->cpus[i].owner);
		}
	}
	cp->host = cp->online;
	cpuset_minus(&cp->host, &others);
	cpuset_minus(&cp->host, &cp->set);
	if (cpuset_empty(&cp->host)) {
		cpuset_format(&cp->online, b, sizeof(b));
		refuse(p, "keeping CPU %s (%s) would leave the host no CPU of the online %s%s; leave it at least one", a,
		       cp->cpus_from, b, cpuset_empty(&others) ? "" : " (the other VMs keep the rest)");
	} else
		plan_units(vm, l, &others, a, timeout, p, cp);
	if (host_read(ctl, timeout, &ctls) < 0 || !strstr(ctls, "cpuset"))
		refuse(p, "cannot keep CPU %s from the host: it has no cgroup v2 cpuset controller (%s); boot with "
			  "systemd.unified_cgroup_hierarchy=1, or set cpus = none in [vm %s]",
		       a, ctl, vm);
	if (cp->governor) {
		bool any = false;

		for (unsigned c = 0; c < CPUSET_MAX && !any; c++) {
			_cleanup_free_ char *f = NULL;
			struct stat st;

			if (!cpuset_has(&cp->set, c))
				continue;
			f = host_file("/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
			any = f && stat(f, &st) == 0;
		}
		if (!any)
			warn(p, "cpu-governor = performance: CPU %s has no frequency governor (no cpufreq driver): left as it is", a);
	}
}

/* The memory of the guest cells NODESET names, in KiB (every cell's when it has none). */
static unsigned long long cells_kib(const struct domain *dom, const char *nodeset)
{
	struct cpuset ids;
	unsigned long long kib = 0;

	if (!dom->n_cells || cpuset_parse(nodeset, &ids) < 0)
		return dom->memory_kib;
	for (size_t i = 0; i < dom->n_cells; i++)
		if (cpuset_has(&ids, dom->cells[i].id))
			kib += dom->cells[i].kib;
	return kib;
}

/* The host's default hugepage size (/proc/meminfo's Hugepagesize), in KiB; 0 unknown. */
static unsigned long long default_page_kib(unsigned timeout)
{
	_cleanup_free_ char *path = host_file("/proc/meminfo"), *s = NULL;
	const char *at;

	if (host_read(path, timeout, &s) < 0 || !(at = strstr(s, "Hugepagesize:")))
		return 0;
	return strtoull(at + strlen("Hugepagesize:"), NULL, 10);
}

static void add_pool(struct pool_want **pools, size_t *n, unsigned long long size_kib, int node, unsigned long long kib)
{
	unsigned long pages = (unsigned long)((kib + size_kib - 1) / size_kib);

	if (!pages)
		return;
	for (size_t i = 0; i < *n; i++)
		if ((*pools)[i].size_kib == size_kib && (*pools)[i].node == node) {
			(*pools)[i].pages += pages;
			return;
		}
	*(struct pool_want *)array_push(pools, n, sizeof(struct pool_want)) =
		(struct pool_want){ .size_kib = size_kib, .node = node, .pages = pages };
}

int claims_pools(const struct domain *dom, unsigned long long default_kib, struct pool_want **ret, size_t *ret_n)
{
	unsigned long long rest = dom->memory_kib;
	struct pool_want *pools = NULL;
	struct cpuset nodes;
	size_t n = 0;
	int node = -1;

	*ret = NULL;
	*ret_n = 0;
	if (!dom->hugepages)
		return 0;
	if (!dom->n_pages && !default_kib)
		return -ENOENT;
	/* One host node for its memory (<numatune>): that node's pool; else the pool of all nodes. */
	if (dom->numa_nodes && cpuset_parse(dom->numa_nodes, &nodes) == 0 && cpuset_count(&nodes) == 1)
		for (unsigned k = 0; k < CPUSET_MAX; k++)
			if (cpuset_has(&nodes, k))
				node = (int)k;
	/* <page nodeset=> backs those guest cells' memory; a <page> without, the rest of it. */
	for (size_t i = 0; i < dom->n_pages; i++)
		if (dom->pages[i].nodeset) {
			unsigned long long kib = cells_kib(dom, dom->pages[i].nodeset);

			add_pool(&pools, &n, dom->pages[i].size_kib, node, kib);
			rest = rest > kib ? rest - kib : 0;
		}
	for (size_t i = 0; i < dom->n_pages; i++)
		if (!dom->pages[i].nodeset) {
			add_pool(&pools, &n, dom->pages[i].size_kib, node, rest);
			rest = 0;
		}
	if (!dom->n_pages)
		add_pool(&pools, &n, default_kib, node, rest);
	*ret = pools;
	*ret_n = n;
	return 0;
}

/* Do two pools share pages (the same size; one node's pool is a part of all nodes')? */
static bool pools_meet(unsigned long long size_a, int node_a, unsigned long long size_b, int node_b)
{
	return size_a == size_b && (node_a == node_b || node_a < 0 || node_b < 0);
}

static void plan_pages(const char *vm, const struct domain *dom, const struct ledger *l, unsigned timeout, struct plan *p,
		       struct claims_plan *cp)
{
	char name[96];

	if (!dom || !dom->hugepages)
		return;
	if (dom->resources_bad && !strstr(dom->resources_bad, "cpuset=")) {
		refuse(p, "its hugepages cannot be claimed: %s; fix it with 'virsh edit %s'", dom->resources_bad, vm);
		return;
	}
	if (!host_reachable()) {
		refuse(p, "refusing to raise the host's hugepages: VFIO_HOOK_TEST is set without VFIO_HOOK_TEST_ROOT");
		return;
	}
	if (claims_pools(dom, default_page_kib(timeout), &cp->pools, &cp->n_pools) < 0) {
		refuse(p, "its memory is backed by hugepages of the default size, which the host does not say (no "
			  "Hugepagesize in /proc/meminfo): name the size in <page size=...> with 'virsh edit %s'", vm);
		return;
	}
	for (size_t i = 0; i < cp->n_pools; i++) {
		struct pool_want *w = &cp->pools[i];
		_cleanup_free_ char *nr = pool_file(w->size_kib, w->node, "nr_hugepages");
		_cleanup_free_ char *fr = pool_file(w->size_kib, w->node, "free_hugepages");
		unsigned long avail;
		int r;

		pool_name(w->size_kib, w->node, name, sizeof(name));
		r = host_read_number(nr, timeout, &w->nr);
		if (r == 0)
			r = host_read_number(fr, timeout, &w->free);
		if (r == -ENOENT) {
			refuse(p, "the host has no %s (no %s): name a size it has in <page size=...> ('virsh edit %s'; see "
				  "/sys/kernel/mm/hugepages)", name, nr, vm);
			continue;
		}
		if (r < 0) {
			refuse(p, "cannot read the pool of %s (%s: %s)", name, nr, strerror(-r));
			continue;
		}
		/* What a VM still starting claimed may not be taken yet: it is not free for this one. */
		for (size_t k = 0; k < l->n_pages; k++) {
			const struct ledger_pages *o = &l->pages[k];
			const struct ledger_vm *v = ledger_vm(l, o->owner);

			if (!streq(o->owner, vm) && pools_meet(o->size_kib, o->node, w->size_kib, w->node) && (!v || !v->started))
				w->pending += o->pages;
		}
		avail = w->free > w->pending ? w->free - w->pending : 0;
		w->need = w->pages > avail ? w->pages - avail : 0;
		if (w->need && w->size_kib >= 1048576)
			warn(p, "%lu more %s are wanted: pages this large can rarely be had once the host runs; reserve them at "
				"boot (hugepages = in [host], then 'vfio-hook setup')", w->need, name);
	}
}

void claims_plan_build(const struct config *c, const struct vm *v, const char *vm, const struct domain *dom,
		       const struct ledger *l, const struct holders *h, struct plan *p)
{
	struct claims_cfg k = v ? vm_claims(c, v) : c->opt.claims;
	struct claims_plan *cp = xcalloc(1, sizeof(*cp));
	_cleanup_free_ char *systemd = host_file("/run/systemd/system");
	struct stat st;

	/* Each read of the host with the map's timeout, as the steps: what the lock's hold was told (claims_plan_hold_ms). */
	plan_cpus(&k, vm, dom, l, h, c->opt.timeout, p, cp);
	plan_pages(vm, dom, l, c->opt.timeout, p, cp);
	/* A damaged record hides what other VMs keep, or what the host had: nothing is claimed on a guess. */
	if (cp->cpus && (ledger_bad_kind(l, "cpus") || ledger_bad_kind(l, "slice") || ledger_bad_kind(l, "governor")))
		refuse(p, "its CPUs cannot be kept: a damaged cpus, slice or governor line in %s (its FILE:LINE above) hides "
			  "which CPUs VMs keep or what the host's units had; correct or delete it, or set cpus = none in [vm %s]",
		       ledger_path(), vm);
	if (cp->n_pools && (ledger_bad_kind(l, "pages") || ledger_bad_kind(l, "pool")))
		refuse(p, "its hugepages cannot be claimed: a damaged pages or pool line in %s (its FILE:LINE above) hides "
			  "what VMs hold or what the pool had; correct or delete it",
		       ledger_path());
	/* Without systemd (or in a test without a root) there is no logind to hold the host awake. */
	cp->sleep = k.block_sleep && systemd && stat(systemd, &st) == 0 && S_ISDIR(st.st_mode);
	if (k.block_sleep && k.sleep_line && !cp->sleep)
		warn(p, "block-sleep = yes: the host does not run systemd, so its sleep is not blocked while %s runs", vm);
	/* Inhibitors are logind's: without it (no D-Bus, a minimal server) there is none to hold. */
	if (cp->sleep) {
		_cleanup_free_ char *seats = host_file("/run/systemd/seats");

		if (!seats || stat(seats, &st) < 0 || !S_ISDIR(st.st_mode)) {
			cp->sleep = false;
			if (k.sleep_line)
				warn(p, "block-sleep = yes: systemd-logind does not run here (no %s), so no sleep inhibitor can be "
					"held while %s runs", seats ? seats : "/run/systemd/seats", vm);
		}
	}
	if (!cp->cpus && !cp->n_pools && !cp->sleep) {
		claims_plan_free(cp);
		return;
	}
	p->claims = cp;
}

void claims_plan_free(struct claims_plan *cp)
{
	if (!cp)
		return;
	free(cp->pools);
	free(cp);
}

long claims_plan_hold_ms(const struct config *c, const struct vm *v, const struct domain *dom)
{
	struct claims_cfg k = v ? vm_claims(c, v) : c->opt.claims;
	long n = 0;

	/* The online CPUs, each unit's AllowedCPUs, cgroup.controllers (plan_cpus). */
	if (k.cpus_from != CPUS_NONE)
		n += 2L + CLAIM_N_UNITS;
	/* /proc/meminfo, then each pool's two counters: a pool a <page>, or one of the default size (plan_pages). */
	if (dom && dom->hugepages)
		n += 1L + 2L * (long)(dom->n_pages ? dom->n_pages : 1);
	return n * (long)c->opt.timeout * 1000L;
}

long claims_hold_ms(const struct claims_plan *cp, unsigned timeout_s)
{
	long n = 0;

	if (!cp)
		return 0;
	/* Each unit set and read back; each CPU's governor and EPP read and written. */
	if (cp->cpus)
		n += 2L * CLAIM_N_UNITS + (cp->governor ? 4L * (long)cpuset_count(&cp->set) : 0L);
	/* Each pool: three tries, each a write, a read, and the caches dropped and memory compacted. */
	n += (long)cp->n_pools * 14L;
	if (cp->sleep)
		n += 3;
	return n * (long)timeout_s * 1000L;
}

long claims_give_hold_ms(const struct ledger *l, const char *owner, unsigned timeout_s)
{
	long n = 0;

	/* The online CPUs read; each unit set (every CPU, then the property dropped) and read back; governors. */
	for (size_t i = 0; i < l->n_cpus; i++)
		if (!owner || streq(l->cpus[i].owner, owner))
			n += 1L + 3L * CLAIM_N_UNITS + (l->cpus[i].governor ? 4L * (long)cpuset_count(&l->cpus[i].set) : 0L);
	/* Each pool read (its count and what is free) and lowered, the lowering read back. */
	for (size_t i = 0; i < l->n_pages; i++)
		if (!owner || streq(l->pages[i].owner, owner))
			n += 4L;
	/* The inhibitor stopped, and asked whether it still runs. */
	for (size_t i = 0; i < l->n_sleep; i++)
		if (!owner || streq(l->sleep[i].owner, owner))
			n += 2L;
	return n * (long)timeout_s * 1000L;
}

/* ---- what is shown ---- */

void claims_describe_cpus(const struct plan *p, FILE *out)
{
	const struct claims_plan *cp = p->claims;
	char a[CPUSET_TEXT_MAX], b[CPUSET_TEXT_MAX];
	size_t n = 0;

	if (!cp || !cp->cpus)
		return;
	cpuset_format(&cp->set, a, sizeof(a));
	cpuset_format(&cp->host, b, sizeof(b));
	fprintf(out, "  keep CPU %s for it (%s): the host's own units on %s", a, cp->cpus_from, *b ? b : "none");
	/* A unit the user keeps on fewer CPUs (its AllowedCPUs) runs on fewer: said, as the start sets it. */
	for (size_t u = 0; u < CLAIM_N_UNITS; u++)
		if (!cpuset_empty(&cp->units[u]) && !cpuset_eq(&cp->units[u], &cp->host)) {
			cpuset_format(&cp->units[u], b, sizeof(b));
			fprintf(out, "%s%s on %s", n++ ? ", " : " (", claim_units[u], b);
		}
	fprintf(out, "%s%s\n", !n ? "" : n == 1 ? ": its AllowedCPUs)" : ": their AllowedCPUs)",
		cp->governor ? "; its CPUs at the performance governor" : "");
}

void claims_describe_pages(const struct plan *p, FILE *out)
{
	const struct claims_plan *cp = p->claims;
	char name[96];

	for (size_t i = 0; cp && i < cp->n_pools; i++) {
		const struct pool_want *w = &cp->pools[i];

		pool_name(w->size_kib, w->node, name, sizeof(name));
		if (w->need)
			fprintf(out, "  hugepages: %lu %s; %lu free%s: raise the pool from %lu to %lu\n", w->pages, name, w->free,
				w->pending ? " (some claimed by VMs starting)" : "", w->nr, w->nr + w->need);
		else
			fprintf(out, "  hugepages: %lu %s; %lu free: enough\n", w->pages, name, w->free);
	}
}

void claims_describe_sleep(const struct plan *p, FILE *out)
{
	if (p->claims && p->claims->sleep)
		fprintf(out, "  the host does not sleep while it runs (%s)\n", SLEEP_UNIT);
}

void claims_status(const struct ledger *l, const char *owner, FILE *out)
{
	const struct ledger_cpus *c = ledger_cpus_of(l, owner);

	if (c) {
		char a[CPUSET_TEXT_MAX];

		cpuset_format(&c->set, a, sizeof(a));
		fprintf(out, " cpus(%s%s%s)", a, c->governor ? ", performance" : "", c->done ? "" : ", claiming");
	}
	for (size_t i = 0; i < l->n_pages; i++) {
		const struct ledger_pages *p = &l->pages[i];
		char node[24] = "";

		if (!streq(p->owner, owner))
			continue;
		if (p->node >= 0)
			snprintf(node, sizeof(node), " node %d", p->node);
		fprintf(out, " hugepages(%lu x %llu KiB%s, %lu added%s)", p->pages, p->size_kib, node, p->added,
			p->done ? "" : ", claiming");
	}
	if (ledger_sleep_of(l, owner))
		fprintf(out, " sleep(blocked%s)", ledger_sleep_of(l, owner)->done ? "" : ", claiming");
}

/* ---- reconnect ---- */

void claims_reassert(struct ledger *l, const char *vm, unsigned timeout_s)
{
	char why[512];

	if (ledger_cpus_of(l, vm) && cpus_apply(l, NULL, timeout_s, why, sizeof(why)) < 0)
		log_warning("%s: the CPUs kept for it could not be kept again (%s): run 'vfio-hook restore %s' once it is off",
			    vm, why, vm);
	if (ledger_sleep_of(l, vm) && sleep_hold(timeout_s, why, sizeof(why)) < 0)
		log_warning("%s: the host's sleep could not be blocked again (%s)", vm, why);
}

/* SPDX-License-Identifier: MIT */
#ifndef VH_CLAIMS_H
#define VH_CLAIMS_H

#include "config.h"
#include "domxml.h"
#include "holders.h"
#include "ledger.h"
#include "plan.h"

#include <stdio.h>

/*
 * What a VM takes from the host besides its devices, claimed by its start and given back when
 * it stops, as steps of the engine (step-cpus.c, step-pages.c, step-sleep.c). Each claim is in
 * the ledger, per VM, before its write; what the host had before the first claim changed it is
 * there too, and comes back with the last one. So several VMs share the host whatever order they
 * start and stop in, and restore gives back what a crash left.
 *   CPUs:      what the VM's <cputune> pins (or cpus = in its [vm]); the host's own units
 *              (system.slice, user.slice, init.scope) run on the online CPUs minus every running
 *              VM's, set through systemd (AllowedCPUs, --runtime), read back from the cgroup;
 *              machine.slice, the VMs', is never touched. cpu-governor = performance: those
 *              CPUs' governor (and EPP) too, put back as they were with the last claim on them.
 *   hugepages: the pool of each page size (and host node) its memory backing needs is raised by
 *              what it needs beyond what is free, and lowered at its stop by exactly that.
 *   sleep:     while a VM with block-sleep runs, a transient unit holds logind's sleep inhibitor.
 */

/* The host's own units whose CPUs a claim narrows. */
#define CLAIM_N_UNITS 3
extern const char *const claim_units[CLAIM_N_UNITS];
/* The transient unit that holds the sleep inhibitor. */
#define SLEEP_UNIT "vfio-hook-sleep.service"

/* Hugepages of one size from one pool, as a start needs them. */
struct pool_want {
	unsigned long long size_kib;
	int node;               /* the host node whose pool it is; -1: the pool of all nodes */
	unsigned long pages;    /* what the VM uses */
	unsigned long nr, free; /* the pool when planned */
	unsigned long pending;  /* pages other VMs claimed that their QEMU may not have taken yet */
	unsigned long need;     /* what the pool is raised by */
};

/* What a start claims (plan.h: p->claims). */
struct claims_plan {
	bool cpus;               /* CPUs are kept for it: */
	struct cpuset set;
	char cpus_from[128];     /* where they come from ("its <cputune>", "cpus = in [vm win10]") */
	bool governor;           /* at the performance governor */
	struct cpuset online;    /* the host's online CPUs */
	struct cpuset host;      /* what its own units keep while this and every other claim holds */
	struct cpuset units[CLAIM_N_UNITS]; /* what each of claim_units runs on then, within its AllowedCPUs */
	struct pool_want *pools; /* hugepages */
	size_t n_pools;
	bool sleep;              /* the host does not sleep while it runs */
};

/*
 * VM's claims when it starts: what its settings (V, may be NULL: [options]') and its domain
 * XML (DOM, may be NULL) ask, against the claims of the other VMs in L (H: the running ones)
 * and the host. Refusals and warnings go into P, the plan in P->claims (NULL: nothing to claim).
 */
void claims_plan_build(const struct config *c, const struct vm *v, const char *vm, const struct domain *dom,
		       const struct ledger *l, const struct holders *h, struct plan *p);
void claims_plan_free(struct claims_plan *cp);
/*
 * The hugepages DOM's memory backing takes, pool by pool (size, node, pages; nothing read of the
 * host), its <page>s without a size in DEFAULT_KIB. 0, -ENOENT when a size is needed and unknown.
 */
int claims_pools(const struct domain *dom, unsigned long long default_kib, struct pool_want **ret, size_t *n);
/* For --check: what the start would claim, each kind. */
void claims_describe_cpus(const struct plan *p, FILE *out);
void claims_describe_pages(const struct plan *p, FILE *out);
void claims_describe_sleep(const struct plan *p, FILE *out);
/* For status: OWNER's claims, each " what(…)". */
void claims_status(const struct ledger *l, const char *owner, FILE *out);
/* How long claims_plan_build's reads of the host may take at most (V, DOM as it has them). */
long claims_plan_hold_ms(const struct config *c, const struct vm *v, const struct domain *dom);
/* How long claiming may take at most. */
long claims_hold_ms(const struct claims_plan *cp, unsigned timeout_s);
/* How long giving back OWNER's claims (NULL: everyone's) may take at most. */
long claims_give_hold_ms(const struct ledger *l, const char *owner, unsigned timeout_s);

/* ---- the host, for the steps ---- */

/*
 * The host's file at PATH (the printf format), or under VFIO_HOOK_TEST the fixture root's
 * ($VFIO_HOOK_TEST_ROOT); NULL when a test has no root: the host is never looked at.
 */
char *host_file(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether claims may look at and change the host (not a test without a root). */
bool host_reachable(void);
/* PATH's contents, trimmed, read with the deadline: 0 or -errno. */
int host_read(const char *path, unsigned timeout_s, char **ret);
int host_read_cpuset(const char *path, unsigned timeout_s, struct cpuset *ret);
int host_read_number(const char *path, unsigned timeout_s, unsigned long *ret);
/* A command (systemctl, systemd-run) with the deadline: its exit status, or -errno. */
int host_run(unsigned timeout_s, const char *const *argv);
/* How a read, a write or host_run's R failed, for a line: "did not finish in time", "failed (exit status 1)". */
const char *host_error(int r, char *buf, size_t n);

/* The paths of a hugepage pool's counters (caller frees). */
char *pool_file(unsigned long long size_kib, int node, const char *counter);
/* "2048 KiB hugepages on node 0", "1 GiB hugepages" */
void pool_name(unsigned long long size_kib, int node, char *buf, size_t n);

/* ---- given back (the steps' give and undo; also reconnect) ---- */

/*
 * OWNER's claims back to the host (each kind: CPUs, pages, sleep). True when all went back; what
 * did not stays recorded, logged at PRIO with what to do. The ledger is saved at each step.
 */
bool cpus_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio);
bool pages_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio);
bool sleep_give(struct ledger *l, const char *owner, unsigned timeout_s, int prio);
/*
 * The host's units on the CPUs the ledger says are free (every claim but WITHOUT's, NULL none),
 * read back; 0, or -errno with the reason in WHY. Used by a claim, its give, and reconnect.
 */
int cpus_apply(struct ledger *l, const char *without, unsigned timeout_s, char *why, size_t n);
/*
 * The CPUs UNIT may run on as the host has it set, before any claim (its AllowedCPUs: what the
 * ledger recorded, else its cgroup's cpuset.cpus now; "": any), into *RET: 0, or -errno with the
 * reason in WHY. A claim narrows what this says, and --check plans with it as the start does.
 */
int unit_allowed(const struct ledger *l, const char *unit, unsigned timeout_s, char **ret, char *why, size_t n);
/* The sleep inhibitor runs: 0, or -errno with the reason in WHY. */
int sleep_hold(unsigned timeout_s, char *why, size_t n);
/*
 * libvirt's reconnect (its daemon restarted, VM runs): what the ledger says VM claimed is set
 * again where it went missing. Never fails (libvirt would kill the VM): what cannot be, is logged.
 */
void claims_reassert(struct ledger *l, const char *vm, unsigned timeout_s);

#endif

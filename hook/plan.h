/* SPDX-License-Identifier: MIT */
#ifndef VH_PLAN_H
#define VH_PLAN_H

#include "config.h"
#include "display.h"
#include "discover.h"
#include "holders.h"
#include "ledger.h"

#include <stdio.h>

struct plan_func {
	const struct pci_func *f;
	const struct vm_pci *ref; /* the map entry that gives it */
	bool already;             /* on vfio-pci before we start */
};

/* A function of the needed groups that another running VM holds: taken from it first. */
struct eviction {
	const char *holder;         /* points into the holders */
	const struct domain *d;     /* the holder's status */
	const struct hostdev *hd;   /* the holder's hostdev (alias, XML) */
	const struct pci_func *f;
};

/*
 * What prepare would do for one VM, and why it must not: a pure function of the map, the
 * machine, the running domains and the domain XML. `--check` prints it; prepare applies it.
 */
struct plan {
	const struct vm *vm;
	struct plan_func *funcs;
	size_t n_funcs;
	char **refusals; /* each one line: what, where, the fix */
	size_t n_refusals;
	char **warnings;
	size_t n_warnings;
	bool unsure; /* something the hook checks could not be checked by this user (a warning says what) */
	enum evict_policy policy;
	struct eviction *evictions; /* empty with policy refuse: those are refusals */
	size_t n_evictions;
	struct display_plan *display; /* the host's display to hand over first (host-display = handoff); NULL: none */
	struct claims_plan *claims;   /* what a start claims of the host besides its devices (claims.h); NULL: none */
};

/* What a plan is made of. */
struct plan_in {
	const struct config *c;
	const struct vm *vm;         /* the map entries to plan for, named after the VM that gets them */
	enum evict_policy policy;    /* what to do with a needed function another running VM holds */
	const struct machine *m;
	const struct holders *h;     /* may be NULL: no running VM */
	const struct ledger *l;      /* may be NULL: who owns what vfio-hook moved is not known */
	const struct domain *dom;    /* may be NULL: the VM's domain XML */
	const char *giver;           /* a VM that lets go of what it owns (its release): free to take */
};

int plan_build(const struct plan_in *in, struct plan *ret);
/* The one line a refusal gives (its first problem, and how many more), without the VM's name. */
void plan_problem_line(const struct plan *p, char *buf, size_t n);
/*
 * Root reads everything unless a security module or a cgroup confines it. What a confined root
 * could not read decides: the host's data or a running VM's devices (a disk's exclusive open,
 * libvirt's status files) are refused rather than guessed; the display's signs (/proc/iomem,
 * other processes' open files: libvirtd's AppArmor profile denies reading those of processes
 * under other profiles, snaps for one) are a warning, or every GPU start there would fail,
 * and a GPU still in use costs its unbind's deadline and is rolled back.
 */
enum unchecked {
	UNCHECKED_ROOT_REFUSES,
	UNCHECKED_ROOT_WARNS,
};
/*
 * A check that could not be made, "WHAT cannot be read: WHICH is not checked": for a user (a
 * --check run by hand) a warning, and P promises no start; for root, as HOW says.
 */
void plan_unchecked(struct plan *p, enum unchecked how, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds a line to P's refusals or warnings (ARR, N): plan_note(&p->refusals, &p->n_refusals, ...). */
void plan_note(char ***arr, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* How long applying P may take at most: what a lock holder tells waiters (state_lock_hold). */
long plan_hold_ms(const struct plan *p, unsigned timeout_s);
void plan_clear(struct plan *p);

#endif

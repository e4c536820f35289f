/* SPDX-License-Identifier: MIT */
#ifndef VH_LEDGER_H
#define VH_LEDGER_H

#include "cpuset.h"
#include "handoff.h"
#include "pciaddr.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The ledger: for every PCI function vfio-hook moved, which VM owns it, what it was on before;
 * for every function a start took from another running VM, from whom. One file, changed only
 * under the lock (state.h), written atomically; the only authority for release, restore, swap,
 * give-back and status. A function has at most one entry, so it has exactly one owner.
 */

#define LEDGER_UUID_LEN 37

/* A VM with entries: its UUID (so a VM of the same name is not mistaken for it) and phase. */
struct ledger_vm {
	char *name;
	char uuid[LEDGER_UUID_LEN]; /* "" when unknown */
	bool started;               /* libvirt said "started": its start did not fail */
};

/* A function vfio-hook put on vfio-pci, and who owns it. */
struct ledger_func {
	struct pci_addr addr;
	char *owner;       /* NULL: unreadable (a damaged line) */
	char driver[64];   /* what it was on before: restored at release; "" none */
	char override[64]; /* its driver_override before; "" none */
	bool moved;        /* false: the move may have begun (a crash in between is undone too) */
	bool plugging;     /* moved, and OWNER's hot-plug of it went unanswered: a running OWNER may get it any time */
	bool known;        /* false: driver/override unreadable; give back by clearing the override and reprobing */
	int bad;           /* index+1 into bad[] of the damaged line it came from, 0 for none */
};

/* A function OWNER's start took from the running VM FROM, for give-back. */
struct ledger_took {
	struct pci_addr addr;
	char *owner;
	char *from;
	char from_uuid[LEDGER_UUID_LEN];
	int from_id;  /* FROM's domain id when it was taken (changes at every start); -1 unknown */
	bool pending; /* asked for, not seen gone yet: FROM may still have it */
	char *xml;    /* its <hostdev> (or <interface>) element in FROM, on one line */
};

/* One step of handing the host's display over to OWNER (handoff.h), recorded before it runs. */
struct ledger_display {
	struct pci_addr gpu;
	char *owner;
	enum display_step step;
	char *what;
	char driver[64]; /* DSTEP_FB: the platform driver; "" otherwise */
	bool done;       /* false: it may have begun (a crash in between is undone too) */
	bool stuck;      /* state=stuck: its write did not finish in time, and undoing it may block as long */
};

/*
 * What a VM takes from the host besides its devices (claims.h), each recorded before its write;
 * DONE false: the write may have begun (undone as if it had).
 */
struct ledger_cpus {
	char *owner;
	struct cpuset set; /* the CPUs kept for it: the host's own units do not run there */
	bool governor;     /* they run at the performance governor for it */
	bool done;
};

struct ledger_pages {
	char *owner;
	unsigned long long size_kib;
	int node;            /* the host node whose pool it is; -1: the pool of all nodes */
	unsigned long pages; /* how many it uses */
	unsigned long added; /* how many the pool was raised by for it: what its give lowers it by */
	bool done;
};

struct ledger_sleep {
	char *owner; /* the host does not sleep while it runs */
	bool done;
};

/* The host's own, recorded at the first claim that changes it, given back with the last one: */
struct ledger_slice {
	char *unit; /* system.slice, user.slice, init.scope */
	char *was;  /* its cgroup's cpuset.cpus before ("": none set, every CPU) */
};

/*
 * A hugepage pool before the first claim raised it: no give lowers it below that, and the last
 * claim lowers it back to it if nothing but vfio-hook changed the pool since (SET).
 */
struct ledger_pool {
	unsigned long long size_kib;
	int node;          /* -1: the pool of all nodes */
	unsigned long was; /* its nr_hugepages then */
	unsigned long set; /* its nr_hugepages as vfio-hook last left it */
};

struct ledger_governor {
	unsigned cpu;
	char was[32]; /* its scaling_governor before */
	char epp[64]; /* its energy_performance_preference before; "" when it has none */
};

/* A line that could not be read: kept as it is, reported, never silently rewritten. */
struct ledger_bad {
	int line;
	char *text;
};

struct ledger {
	struct ledger_vm *vms;
	size_t n_vms;
	struct ledger_func *funcs;
	size_t n_funcs;
	struct ledger_took *took;
	size_t n_took;
	struct ledger_display *display;
	size_t n_display;
	struct ledger_cpus *cpus;
	size_t n_cpus;
	struct ledger_pages *pages;
	size_t n_pages;
	struct ledger_sleep *sleep;
	size_t n_sleep;
	struct ledger_slice *slices;
	size_t n_slices;
	struct ledger_governor *governors;
	size_t n_governors;
	struct ledger_pool *pools;
	size_t n_pools;
	struct ledger_bad *bad;
	size_t n_bad;
};

/* $VFIO_HOOK_STATE_DIR/ledger. */
const char *ledger_path(void);

/* Text to ledger. PATH names the file in the FILE:LINE warning for each unreadable line. */
int ledger_parse(const char *text, size_t len, const char *path, struct ledger *ret);
/* Ledger to text (what ledger_save writes). */
char *ledger_format(const struct ledger *l);
void ledger_clear(struct ledger *l);

/*
 * Under the lock. Load: an absent file is an empty ledger; a file that cannot be read (or is not
 * safe to trust) is -errno, logged, and the caller must change nothing; -EACCES, not logged,
 * for a user other than root whom root's records are closed to. Save: atomically; an empty
 * ledger removes the file.
 */
int ledger_load(struct ledger *ret);
int ledger_save(const struct ledger *l);
/* ledger_load without reporting damaged lines: a quick look before locking and loading. */
int ledger_peek(struct ledger *ret);

struct ledger_func *ledger_func(const struct ledger *l, const struct pci_addr *a);
/* The owner of A, NULL when vfio-hook did not move A; "" when its line is damaged. */
const char *ledger_owner(const struct ledger *l, const struct pci_addr *a);
/* Adds (or, when A has one, hands over) the entry for A, owned by OWNER. Returns it. */
struct ledger_func *ledger_claim(struct ledger *l, const struct pci_addr *a, const char *owner);
/* Forgets A (given back), and the damaged line it came from. */
void ledger_drop(struct ledger *l, const struct pci_addr *a);

struct ledger_vm *ledger_vm(const struct ledger *l, const char *name);
struct ledger_vm *ledger_vm_add(struct ledger *l, const char *name, const char *uuid);
/* Forgets NAME's VM line once it owns and took nothing. */
void ledger_vm_tidy(struct ledger *l, const char *name);
/* Forgets NAME's VM line (its release): what it still owns is then for 'vfio-hook restore'. */
void ledger_vm_drop(struct ledger *l, const char *name);

struct ledger_took *ledger_took_add(struct ledger *l, const struct pci_addr *a, const char *owner, const char *from,
				    const char *from_uuid, int from_id, const char *xml);
void ledger_took_drop(struct ledger *l, size_t i);

/* Records a display step for OWNER before it runs (not done yet); returns it. */
struct ledger_display *ledger_display_add(struct ledger *l, const struct pci_addr *gpu, const char *owner,
					  enum display_step step, const char *what, const char *driver);
void ledger_display_drop(struct ledger *l, size_t i);

/* OWNER's claims, NULL when none; each add replaces OWNER's claim of the same kind (and pool). */
struct ledger_cpus *ledger_cpus_of(const struct ledger *l, const char *owner);
struct ledger_cpus *ledger_cpus_add(struct ledger *l, const char *owner, const struct cpuset *set, bool governor);
void ledger_cpus_drop(struct ledger *l, const char *owner);
struct ledger_pages *ledger_pages_of(const struct ledger *l, const char *owner, unsigned long long size_kib, int node);
struct ledger_pages *ledger_pages_add(struct ledger *l, const char *owner, unsigned long long size_kib, int node,
				      unsigned long pages, unsigned long added);
void ledger_pages_drop(struct ledger *l, const struct ledger_pages *p);
struct ledger_sleep *ledger_sleep_of(const struct ledger *l, const char *owner);
struct ledger_sleep *ledger_sleep_add(struct ledger *l, const char *owner);
void ledger_sleep_drop(struct ledger *l, const char *owner);
struct ledger_slice *ledger_slice(const struct ledger *l, const char *unit);
struct ledger_slice *ledger_slice_add(struct ledger *l, const char *unit, const char *was);
void ledger_slice_drop(struct ledger *l, const char *unit);
struct ledger_governor *ledger_governor(const struct ledger *l, unsigned cpu);
struct ledger_governor *ledger_governor_add(struct ledger *l, unsigned cpu, const char *was, const char *epp);
void ledger_governor_drop(struct ledger *l, unsigned cpu);
struct ledger_pool *ledger_pool(const struct ledger *l, unsigned long long size_kib, int node);
struct ledger_pool *ledger_pool_add(struct ledger *l, unsigned long long size_kib, int node, unsigned long was,
				    unsigned long set);
void ledger_pool_drop(struct ledger *l, unsigned long long size_kib, int node);
/* A damaged line of KIND ("cpus", "slice", ...) is in L: what it recorded is unknown. */
bool ledger_bad_kind(const struct ledger *l, const char *kind);

/* Did a start take anything from NAME? */
bool ledger_took_from(const struct ledger *l, const char *name);
/* Every VM L names, each once (caller frees each and the array); whether a function's owner is unreadable. */
size_t ledger_names(const struct ledger *l, char ***ret, bool *ret_damaged);
/* Does anything in L belong to NAME? */
bool ledger_has_vm(const struct ledger *l, const char *name);

/*
 * restore --all: forgets damaged lines that name no function (reported, then dropped). A damaged
 * display line, or one of what the host had before a claim, is never dropped here: it may be the
 * only record of a display manager stopped, or of a unit's CPUs, a governor or a pool.
 */
size_t ledger_drop_damaged(struct ledger *l);
/* Is the damaged line B a display step? */
bool ledger_bad_is_display(const struct ledger_bad *b);
/*
 * Is it a record of a claim (cpus, pages, sleep) or of what the host had before a claim changed
 * it (slice, governor, pool)? Never dropped by restore --all: it may be the only record of CPUs
 * kept, pages added or sleep blocked, or of what to put back.
 */
bool ledger_bad_is_host(const struct ledger_bad *b);
/*
 * What a damaged display line still says: its GPU, step, what (and driver) readable and fit for
 * the step; the owner may be lost (NULL), the state is taken as "doing". 0 (clear *ret with
 * ledger_display_free) or -EINVAL.
 */
int ledger_display_salvage(const char *text, struct ledger_display *ret);
void ledger_display_free(struct ledger_display *d);


#endif

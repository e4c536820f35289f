/* SPDX-License-Identifier: MIT */
#ifndef VH_STATE_H
#define VH_STATE_H

#include "pciid.h"

#include <stdbool.h>
#include <stddef.h>

/* What one VM's prepare changed, so that release (or restore) undoes exactly that. */
struct rec_func {
	struct pci_addr addr;
	char driver[64];   /* original driver, "" for none */
	char override[64]; /* original driver_override, "" for none */
	bool moved;        /* false: the move may have begun (a crash in between is undone too) */
};

/* A function this VM's start took from another running VM, for give-back. */
struct rec_evict {
	struct pci_addr addr;
	char from[256]; /* the VM it was taken from */
	char *xml;      /* its <hostdev> element there, on one line */
};

struct record {
	char vm[256];
	struct rec_func *funcs;
	size_t n;
	struct rec_evict *evicted;
	size_t n_evicted;
};

/* $VFIO_HOOK_STATE_DIR or /run/vfio-hook. */
const char *state_dir(void);
/* Written atomically (temporary file, fsync, rename, fsync of the directory). */
int record_save(const struct record *r);
/* -ENOENT when VM has no record. */
int record_load(const char *vm, struct record *ret);
bool record_exists(const char *vm);
int record_remove(const char *vm);
void record_clear(struct record *r);
/* Forgets whom R's functions were taken from (given back, or going to the host). */
void record_clear_evicted(struct record *r);
/* Takes the entry for A out of R (returned in *ret); false when R has none. */
bool record_take(struct record *r, const struct pci_addr *a, struct rec_func *ret);
/*
 * A function is recorded by one VM only, the one that uses it: takes R's functions out of every
 * other VM's record (else that VM's release would unbind what R's VM uses now).
 */
void record_hand_over(const struct record *r);
/* Another VM's record entry for A (what A's host driver was), if any. */
bool record_find_other(const char *self, const struct pci_addr *a, struct rec_func *ret);
/* Saves R, or removes its file when R holds nothing any more. */
int record_store(const struct record *r);
/* Names of the VMs with a record, sorted; caller frees each and the array. */
int record_list(char ***ret, size_t *ret_n);

/*
 * Serializes vfio-hook runs. Waits at most timeout_s; then fails naming the holder (pid and
 * what it does, as it wrote into the lock file). Returns the lock fd, or -errno (logged).
 */
int state_lock(const char *what, unsigned timeout_s);
void state_unlock(int fd);

#endif

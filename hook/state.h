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

struct record {
	char vm[256];
	struct rec_func *funcs;
	size_t n;
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
/* Names of the VMs with a record, sorted; caller frees each and the array. */
int record_list(char ***ret, size_t *ret_n);

/*
 * Serializes vfio-hook runs. Waits at most timeout_s; then fails naming the holder (pid and
 * what it does, as it wrote into the lock file). Returns the lock fd, or -errno (logged).
 */
int state_lock(const char *what, unsigned timeout_s);
void state_unlock(int fd);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_STATE_H
#define VH_STATE_H

#include <stdbool.h>
#include <stddef.h>

/* $VFIO_HOOK_STATE_DIR or /run/vfio-hook. */
const char *state_dir(void);

/*
 * Files in the state directory. The directory is created 0700 and must be a real directory
 * owned by us and writable by nobody else, else it is refused (-EPERM, logged): what it holds
 * decides what a root process writes to sysfs. Files are opened O_NOFOLLOW.
 * state_read: -ENOENT when absent (the directory is not created for a read); for a user other
 * than root, root's directory and files will do, and -EACCES (not logged) when they are
 * closed to this user. state_write: atomically (temporary file, fsync, rename, fsync of the
 * directory).
 */
int state_read(const char *path, char **ret, size_t *ret_len);
int state_write(const char *path, const char *text);
int state_remove(const char *path);

/*
 * Serializes vfio-hook runs. Waits at least timeout_s, and as long as the holder said it may
 * legitimately keep the lock (state_lock_hold), then fails naming the holder (pid and what it
 * does). Returns the lock fd, or -errno (logged).
 */
int state_lock(const char *what, unsigned timeout_s);
/* How long a run waits for the lock at least: another VM's prepare of a few steps, short of hanging libvirt. */
unsigned state_lock_timeout(unsigned step_timeout_s);
/* Tells waiters this run may hold the lock for up to MS milliseconds from now. */
void state_lock_hold(int fd, long ms);
void state_unlock(int fd);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_SETUP_RUN_H
#define VH_SETUP_RUN_H

#include "config.h"
#include "hostconf.h"
#include "sha256.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/*
 * One run of vfio-hook setup, shared by its parts: setup.c (the steps, applying them, what is
 * printed, the command), setup-root.c (files under --root, no symlink followed, written
 * atomically; the lock), setup-manifest.c (the record of what setup wrote and made).
 */

#define F_MANIFEST "/var/lib/vfio-hook/setup.manifest"
#define KVM "kvm"
#define CMD_TIMEOUT_MS 30000
/* Another run's whole setup takes well under a second; a holder past this is stuck. */
#define LOCK_TIMEOUT_MS 30000

struct recorded {
	char *path;
	char sha[SHA256_HEX_LEN];
};

enum step_kind { STEP_WRITE, STEP_REMOVE, STEP_ADD_MEMBER, STEP_DEL_MEMBER };

struct step {
	enum step_kind kind;
	char *path; /* under the root; the user for member steps */
	char *old;  /* what was there, NULL: nothing */
	char *text; /* what to write */
	bool done;
};

enum manifest_change { MANIFEST_SAME, MANIFEST_WRITTEN, MANIFEST_REMOVED };

struct setup {
	const struct config *c;
	const char *root; /* "" for this system */
	int rootfd;       /* the root's directory: every path is resolved from it */
	bool nofollow;    /* under --root: no symlink is followed */
	char *map;        /* the map's path, escaped, for headers */
	bool undo, dry_run;
	struct hostconf want; /* what the map asks for */
	struct recorded *old; /* the manifest so far */
	size_t n_old;
	char **old_members;
	size_t n_old_members;
	char *old_manifest;
	struct step *steps;
	size_t n_steps;
	char **kept; /* files left alone because they were edited */
	size_t n_kept;
	char **dirs; /* directories setup created (recorded, and this run's): removed with the last file */
	size_t n_dirs;
	enum manifest_change manifest;
};


/* ---- setup-root.c ---- */
char *setup_at_root(const struct setup *s, const char *path);
/* PATH's first LEN bytes under the root, for a message. */
char *setup_at_root_n(const struct setup *s, const char *path, size_t len);
/* -ELOOP, logged: NAME (LEN bytes of PATH) is a symlink inside --root. */
int setup_symlink_refused(const struct setup *s, const char *path, size_t len, bool dir);
/*
 * The directory holding PATH (absolute), opened from the root one component at a time; with
 * CREATE, the missing ones made (0755). *RET_BASE: PATH's last component. The fd, or -errno:
 * -ENOENT/-ENOTDIR unlogged (nothing there), -ELOOP logged (a symlink under --root).
 */
int setup_open_parent(const struct setup *s, const char *path, bool create, const char **ret_base);
/*
 * What is at PATH under the root: its text (*ret), NULL when there is none, its status in
 * *RET_ST when not NULL; -errno when unreadable (logged). Only a regular file is read.
 */
int setup_read_at(const struct setup *s, const char *path, char **ret, struct stat *ret_st);
/* TEXT into PATH under the root, atomically (a new file renamed over it), MODE and OWNER's ids. */
int setup_write_atomic(const struct setup *s, const char *path, const char *text, mode_t mode, const struct stat *owner);
int setup_write_file(const struct setup *s, const char *path, const char *text);
int setup_remove_file(const struct setup *s, const char *path);
/* A member edit of ROOT/etc/group (and gshadow, where there is one), mode and owner kept. */
int setup_edit_group_file(const struct setup *s, const char *file, const char *user, bool add);
/* USER into (ADD) or out of group kvm: the files under --root, usermod/gpasswd on this system. */
int setup_set_member(const struct setup *s, const char *user, bool add);
/* Once nothing of setup is left: the directories it made, the deepest first, if empty. */
void setup_remove_dirs(const struct setup *s);
/* One run at a time, waited for with a deadline: the lock's fd, or -errno (logged; -ENOENT quiet for --undo). */
int setup_lock(struct setup *s);
/* Is ROOT this machine's "/" ("/", "//", "/.", a link to it)? */
bool setup_is_slash(const char *root);
int setup_check_root(const char *root, bool dry_run);

/* ---- setup-manifest.c ---- */
/* Only these are ever removed: a manifest naming another file is not one setup wrote. */
bool setup_ours(const char *path);
void setup_add_dir(struct setup *s, const char *dir);
/* The directories on the way to PATH under the root that are not there yet: this run makes them. */
void setup_note_missing_dirs(struct setup *s, const char *path);
/* The manifest, every line one setup writes, or refused whole (-EBADMSG, logged). */
int setup_manifest_read(struct setup *s);
/* Is PATH in the manifest (with any checksum)? */
bool setup_recorded(const struct setup *s, const char *path);
/* Is TEXT at PATH what setup recorded there: written, or about to be when a run stopped? */
bool setup_recorded_text(const struct setup *s, const char *path, const char *text);
bool setup_recorded_member(const struct setup *s, const char *user);
/* Is the I-th entry the first for its path (a manifest of a stopped run lists a path twice)? */
bool setup_first_of_path(const struct setup *s, size_t i);
/*
 * The manifest after this run: NULL when nothing is left to record. With PENDING, the one
 * written before any change: this run's records and every earlier one.
 */
char *setup_manifest_text(const struct setup *s, bool pending);

#endif

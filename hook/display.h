/* SPDX-License-Identifier: MIT */
#ifndef VH_DISPLAY_H
#define VH_DISPLAY_H

#include "config.h"
#include "discover.h"
#include "holders.h"
#include "ledger.h"

#include <stdio.h>

/*
 * The host's own display on a function to move: found from the kernel (fbcon on a vtconsole
 * with one of the function's framebuffers, a firmware framebuffer in one of its BARs, processes
 * with its DRM or NVIDIA nodes open), refused by default, or handed over step by step — each
 * step recorded in the ledger before it runs, with a deadline, undone in reverse.
 *
 * /proc, /etc/systemd and the processes' fd links are read under display_root(): "" on a real
 * host; under VFIO_HOOK_TEST, $VFIO_HOOK_TEST_ROOT (a directory the suite builds). Programs
 * (systemctl, modprobe, kill) run through run_with_deadline, so under VFIO_HOOK_TEST only the
 * suite's stand-ins run, and no signal reaches a process of the machine running the tests.
 */

struct display_proc {
	long pid;
	char comm[64]; /* percent-encoded: one line, whatever name the process gave itself */
	char node[64]; /* the node it has open */
	int vm;        /* index into the use's vms: a running VM's QEMU, never signalled; -1: none */
	bool qemu;     /* a QEMU that is no VM of libvirt's system instance (qemu:///session, by hand): never signalled */
	bool unsure;   /* a /dev/nvidiaN that may be another GPU's (this one's minor unknown): never signalled */
};

/* A firmware framebuffer (a platform device) whose memory lies in one of the function's BARs. */
struct display_fw {
	char dev[64];    /* efi-framebuffer.0, simple-framebuffer.0, vesa-framebuffer.0 */
	char driver[64]; /* bound to; "" when none */
	int bar;
};

/* A running domain's QEMU (libvirt's status file): never ours to signal. */
struct display_vm {
	long pid;
	char *name;
};

struct display_use {
	const struct pci_func *f;
	char **vtcons; /* vtconN bound to fbcon while fbcon draws on F (a mapped fbM of F, or a firmware fb in its BARs) */
	size_t n_vtcons;
	char *tty; /* the tty the console shows (tty0's active), read with the vtconsoles; NULL unknown */
	char **fbs; /* F's fbM */
	size_t n_fbs;
	bool fb_console; /* one of F's fbM is a framebuffer fbcon's consoles map to */
	struct display_fw *fw;
	size_t n_fw;
	char **nodes; /* F's /dev/dri/cardN, renderDN */
	size_t n_nodes;
	struct display_proc *procs;
	size_t n_procs;
	bool nvidia;
	int nv_minor;   /* nvidia: F's /dev/nvidiaN, from /proc/driver/nvidia/gpus/ADDR/information; -1 unknown */
	bool nv_shared; /* nvidia: no other function is on nvidia, so nvidiactl, nvidia-modeset, nvidia-uvm* are F's */
	struct display_vm *vms;
	size_t n_vms;
	char *stuck;     /* a console attribute that did not answer in time: nothing could be told */
	bool incomplete; /* the /proc scan ran out of time: the process list may be short */
	size_t n_closed; /* processes whose fds this user may not read: whether they use F is unknown */
};

/*
 * 1 when F drives the host's display (*ret filled, clear it), 0 when not as far as this user
 * can see (ret->n_closed: the processes it could not look at), -ETIMEDOUT when a
 * console attribute (under the kernel's console lock) did not answer: ret->stuck names it (clear
 * *ret). H (may be NULL): the running domains, whose QEMU is told apart. The reads end at DEADLINE_MS.
 */
int display_detect(const struct pci_func *f, const struct holders *h, long deadline_ms, struct display_use *ret);
/* /proc/iomem shows every address as 0 (a reader without root), or cannot be read at all: no
 * firmware framebuffer can be seen. */
bool display_iomem_blind(void);
void display_use_clear(struct display_use *u);
/* Looks again only at the processes (the hand-over's wait). */
void display_rescan(struct display_use *u, long deadline_ms);
/* For a listing: /proc is read once, and every later detection uses what it showed. */
void display_snapshot(void);
/* A running VM's QEMU, or another QEMU, among U's users (never signalled), or NULL. */
const struct display_proc *display_qemu_user(const struct display_use *u);
/* "the running VM win10 (its QEMU, pid 812, uses /dev/dri/card0)", or the same for another QEMU. */
char *display_qemu_text(const struct display_use *u, const struct display_proc *q);
/* "Xorg pid 812 and gnome-shell pid 1403 use /dev/dri/card0". */
char *display_procs_text(const struct display_use *u);
/* "fbcon on tty1; Xorg pid 812 and gnome-shell pid 1403 use /dev/dri/card0". */
char *display_describe(const struct display_use *u);
/* The display manager to stop: display-manager = UNIT, else what display-manager.service points to. */
char *display_manager_unit(const struct display_cfg *d);

/* A function on NVIDIA's driver other than the GPUs of USES (N of them). */
bool display_nvidia_elsewhere(const struct display_use *uses, size_t n);

/* A hand-over a start will do: the functions that drive the display, and the VM's settings. */
struct display_plan {
	struct display_use *uses;
	size_t n_uses;
	struct display_cfg cfg;
	char *manager;
};

void display_plan_free(struct display_plan *dp);
/* The sequence, in order, as --check prints it. */
void display_plan_print(const struct display_plan *dp, FILE *out);
/* How long the hand-over and its undoing may take at most. */
long display_plan_hold_ms(const struct display_plan *dp, unsigned timeout_s);

/*
 * Steps 1–6 of the hand-over for VM (the engine's bind step is the 7th), each in L (saved)
 * before it runs. On failure -errno, with the line in WHY (and what to add after what its
 * undo achieved in HINT); the engine undoes what was done (display_hand_back).
 */
int display_handoff(struct display_plan *dp, const char *vm, struct ledger *l, unsigned timeout_s, char *why, size_t n,
		    char *hint, size_t hint_n);

/*
 * Gives the host back what OWNER's hand-overs took (OWNER NULL: anybody's), in reverse, for
 * every GPU no longer in L and that no running VM of H has (H NULL: not known; those steps
 * become that VM's), back on the host (one a running VM still uses is that VM's now). A
 * step that fails stays in L for 'vfio-hook restore', logged at PRIO. A step whose own write
 * was stuck in the kernel gets STUCK_S seconds (0: it is left as it is): undoing it waits for
 * the lock the stuck write holds. L is saved. 0 or -EIO.
 */
int display_hand_back(struct ledger *l, const char *owner, const struct holders *h, unsigned timeout_s, unsigned stuck_s,
		      int prio);

/* Undoes one recorded step (restore --all of a damaged line): 0, or -errno with what failed in WHY. */
int display_undo_step(const struct ledger_display *d, unsigned timeout_s, char *why, size_t n);

/* " holds the host's display (…)" for status, or nothing. */
void display_status(const struct ledger *l, const char *owner, FILE *out);

/* "" on a real host, $VFIO_HOOK_TEST_ROOT under VFIO_HOOK_TEST. */
const char *display_root(void);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef VH_CONFIG_H
#define VH_CONFIG_H

#include "cpuset.h"
#include "pciaddr.h"

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PATH "/etc/vfio-hook.ini"
#define CONFIG_DEFAULT_TIMEOUT 10 /* seconds, [options] timeout */
#define CONFIG_DEFAULT_URI "qemu:///system"
/* The example map make install puts beside the documentation (scripts/install.sh). */
#ifndef EXAMPLE_MAP
#define EXAMPLE_MAP "/usr/local/share/doc/vfio-hook/examples/vfio-hook.ini"
#endif

enum evict_policy { EVICT_DETACH, EVICT_SHUTDOWN, EVICT_REFUSE };

/*
 * What to do when a function to move drives the host's display (display.h): refuse (default),
 * or hand it over. Each *_line is where the key was set, 0 when it was not.
 */
struct display_cfg {
	bool handoff;      /* host-display = handoff */
	char *manager;     /* display-manager = UNIT; NULL: what display-manager.service points to */
	bool kill;         /* host-display-kill = yes: SIGTERM, then SIGKILL, what still holds the GPU */
	unsigned timeout;  /* host-display-timeout: seconds to wait for the GPU's users; 0: timeout */
	int handoff_line, manager_line, kill_line, timeout_line;
};

/*
 * What a VM takes from the host besides its devices (claims.h): the CPUs kept for it (cpus =
 * pinned, the default: what its domain XML pins; none; or a list), their frequency governor
 * (cpu-governor = performance), and the host kept from sleeping while it runs (block-sleep).
 * Each *_line: where it was set, 0 not.
 */
enum cpus_from {
	CPUS_PINNED,
	CPUS_NONE,
	CPUS_LIST,
};

struct claims_cfg {
	enum cpus_from cpus_from;
	struct cpuset cpus; /* CPUS_LIST */
	bool governor;    /* cpu-governor = performance: its CPUs at performance while it has them */
	bool block_sleep; /* block-sleep = yes (the default): no suspend while it runs */
	int cpus_line, governor_line, sleep_line;
};

struct options {
	char *uri;
	unsigned timeout; /* seconds */
	enum evict_policy evict;
	bool giveback;
	struct display_cfg display;
	struct claims_cfg claims; /* cpu-governor, block-sleep for every VM that does not set its own */
};

/* One `device =` line of a [pci] section, or one bare id/address in a [vm] line. */
struct pci_entry {
	struct pci_sel sel;
	char *desc; /* NULL when the line has none */
	int line;
};

struct usb_entry {
	struct usb_sel sel;
	char *desc;
	int line;
};

struct pci_set {
	char *name;
	int line;
	struct pci_entry *entries;
	size_t n_entries;
};

struct usb_set {
	char *name;
	int line;
	struct usb_entry *entries;
	size_t n_entries;
};

/* What a VM gets, flattened: each entry with the [pci]/[usb] section it came from (NULL: bare). */
struct vm_pci {
	const struct pci_entry *entry;
	const struct pci_set *set;
	int line; /* the [vm] line that names it */
};

struct vm_usb {
	const struct usb_entry *entry;
	const struct usb_set *set;
	int line;
};

/* Names as written in a [vm] line, resolved once the whole file is read. */
struct vm_token {
	char *text;
	int line;
};

struct vm {
	char *name;
	int line;
	struct vm_token *pci_tokens, *usb_tokens;
	size_t n_pci_tokens, n_usb_tokens;
	struct pci_entry *bare_pci; /* bare ids in pci =, owned here */
	struct usb_entry *bare_usb;
	size_t n_bare_pci, n_bare_usb;
	struct vm_pci *pci;
	struct vm_usb *usb;
	size_t n_pci, n_usb;
	enum evict_policy evict; /* with evict_line 0: [options] decides */
	bool giveback;
	int evict_line, giveback_line;
	struct display_cfg display; /* keys it does not set come from [options] */
	struct claims_cfg claims;   /* likewise */
};

/* iommu = in [host]: which kernel parameters setup adds. */
enum iommu_mode { IOMMU_AUTO, IOMMU_INTEL, IOMMU_AMD, IOMMU_OFF };

/* [host]: what `vfio-hook setup` makes of this machine. */
struct host {
	int line;     /* where [host] begins; 0: no such section */
	char **users; /* may use VFIO devices and the mapped USB devices from qemu:///session */
	size_t n_users;
	bool memlock_set, memlock_unlimited;
	unsigned long long memlock_kib;
	enum iommu_mode iommu;
	bool early; /* bind the map's [pci] ids to vfio-pci at boot */
	struct boot_pages *pages; /* hugepages = 1G:8: reserved at boot (kernel parameters) */
	size_t n_pages;
	int lines[5]; /* where users, memlock, iommu, early, hugepages were set, to catch repeats */
};

/* Hugepages of one size the kernel reserves at boot (hugepagesz= hugepages=). */
struct boot_pages {
	unsigned long long size_kib;
	unsigned long count;
};

struct config {
	char *path;
	struct options opt;
	struct host host;
	struct pci_set *pci_sets;
	struct usb_set *usb_sets;
	struct vm *vms;
	size_t n_pci_sets, n_usb_sets, n_vms;
};

/*
 * Loads the map. On any mistake logs one "FILE:LINE: what (fix)" line and returns -EINVAL
 * (or the open/read errno); *ret is set only on success.
 */
int config_load(const char *path, struct config **ret);
/* The same, keeping the one line in *RET_MSG (the caller frees it) instead of logging it. */
int config_load_msg(const char *path, struct config **ret, char **ret_msg);
void config_free(struct config *c);
/* A map with nothing in it but the default options, for PATH. */
struct config *config_defaults(const char *path);

/*
 * Whether the map at PATH has a [vm VM] header, read tolerantly (broken lines, any owner):
 * 1 or 0, or -errno when it cannot be read. For a map config_load refused: a VM it does not
 * name may still start.
 */
int config_names_vm(const char *path, const char *vm);

/*
 * Where HEADER (the text between a header's brackets) has " ;" or " #": a comment as the map
 * reads it, so no name there can be read back whole; NULL when it has neither.
 */
const char *config_header_comment(const char *header);

const struct vm *config_find_vm(const struct config *c, const char *name);
const struct pci_set *config_find_pci_set(const struct config *c, const char *name);
const char *evict_policy_name(enum evict_policy p);
const char *iommu_mode_name(enum iommu_mode m);
/* The VM's own evict/giveback if its section sets them, else [options]. */
enum evict_policy vm_evict(const struct config *c, const struct vm *v);
bool vm_giveback(const struct config *c, const struct vm *v);
/* The VM's host-display settings, key by key its own or [options]' (timeout resolved). */
struct display_cfg vm_display(const struct config *c, const struct vm *v);

/* The VM's claims settings, key by key its own or [options]'. */
struct claims_cfg vm_claims(const struct config *c, const struct vm *v);

/* The path to use: -c, then $VFIO_HOOK_CONFIG, then the default. */
const char *config_path(const char *from_cli);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook setup: the host configuration the map's [host] section asks for. One path for
 * every mode: what the files should hold is computed first (want_*), compared with what is
 * there into a list of steps (plan_*), and the steps are printed as a diff (--dry-run) or
 * applied in order, each one undone again if a later one fails. --undo is the same with
 * nothing wanted. The manifest records each file written with its SHA-256, so a file the
 * user edited since is never removed or overwritten.
 */
#define _GNU_SOURCE
#include "setup.h"

#include "accounts.h"
#include "child.h"
#include "config.h"
#include "discover.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libudev.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define F_MODULES "/etc/modules-load.d/vfio-hook.conf"
#define F_MODPROBE "/etc/modprobe.d/vfio-hook.conf"
#define F_UDEV "/etc/udev/rules.d/70-vfio-hook.rules"
#define F_LIMITS "/etc/security/limits.d/vfio-hook.conf"
#define F_GRUB "/etc/default/grub.d/vfio-hook.cfg"
#define F_MANIFEST "/var/lib/vfio-hook/setup.manifest"
#define KVM "kvm"
#define CMD_TIMEOUT_MS 30000

struct want {
	const char *path; /* under the root */
	char *text;
};

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

struct setup {
	const struct config *c;
	const char *root; /* "" for this system */
	char *map;        /* the map's path, for headers */
	bool undo, dry_run;
	struct want *want;
	size_t n_want;
	char **members; /* users setup puts in group kvm */
	size_t n_members;
	struct recorded *old; /* the manifest so far */
	size_t n_old;
	char **old_members;
	size_t n_old_members;
	char *old_manifest;
	struct step *steps;
	size_t n_steps;
	char **kept; /* files left alone because they were edited */
	size_t n_kept;
	char *boot_cmd; /* with systemd-boot or kernelstub: the command that adds the parameters */
	const char *params; /* the IOMMU kernel parameters, "" for none */
};

static char *at_root(const struct setup *s, const char *path)
{
	return xasprintf("%s%s", s->root, path);
}

/* What is at PATH under the root: its text (*ret), NULL when there is none; -errno when unreadable. */
static int read_at(const struct setup *s, const char *path, char **ret)
{
	_cleanup_free_ char *full = at_root(s, path);

	*ret = read_file(full);
	if (*ret || errno == ENOENT || errno == ENOTDIR)
		return 0;
	log_error("%s: cannot read: %m (check its permissions, or run as root)", full);
	return -errno;
}

static char *header(const struct setup *s)
{
	return xasprintf("# Written by vfio-hook setup from %s.\n"
			 "# Change the map and run \"vfio-hook setup\" again rather than editing this file;\n"
			 "# \"vfio-hook setup --undo\" removes it.\n",
			 s->map);
}

static void want_add(struct setup *s, const char *path, char *body)
{
	struct want *w = array_push(&s->want, &s->n_want, sizeof(*w));
	_cleanup_free_ char *h = header(s);

	w->path = path;
	w->text = xasprintf("%s%s", h, body);
	free(body);
}

/* ---- What the map asks for ---- */

/* The parameters for the CPU of the root (its /proc/cpuinfo, when an image builder gives one), else of this machine. */
static const char *cpu_vendor_params(const struct setup *s)
{
	_cleanup_free_ char *at = at_root(s, "/proc/cpuinfo");
	_cleanup_free_ char *info = read_file(at);
	char *line, *save = NULL;

	if (!info)
		info = read_file("/proc/cpuinfo");
	for (line = info ? strtok_r(info, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ':');

		if (!startswith(line, "vendor_id") || !v)
			continue;
		v = strip(v + 1);
		if (streq(v, "GenuineIntel"))
			return "intel_iommu=on iommu=pt";
		/* AMD's IOMMU is on by default: only passthrough mode for the host's own devices. */
		if (streq(v, "AuthenticAMD") || streq(v, "HygonGenuine"))
			return "iommu=pt";
		return NULL;
	}
	return NULL;
}

static int want_params(struct setup *s)
{
	switch (s->c->host.iommu) {
	case IOMMU_INTEL:
		s->params = "intel_iommu=on iommu=pt";
		break;
	case IOMMU_AMD:
		s->params = "iommu=pt";
		break;
	case IOMMU_OFF:
		s->params = "";
		break;
	case IOMMU_AUTO:
		s->params = cpu_vendor_params(s);
		if (!s->params) {
			log_at(LOG_ERR, s->c->path, s->c->host.lines[2],
			       "iommu = auto: /proc/cpuinfo names no Intel or AMD CPU (set iommu = intel, amd or off in [host])");
			return -EINVAL;
		}
		break;
	}
	return 0;
}

/* Are all of PARAMS words of TEXT? */
static bool has_params(const char *text, const char *params)
{
	_cleanup_free_ char *copy = xstrdup(params);
	char *save = NULL;

	for (char *p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		bool found = false;
		size_t n = strlen(p);

		for (const char *q = text ? strstr(text, p) : NULL; q && !found; q = strstr(q + 1, p))
			found = (q == text || strchr(" \t\"'=\n", q[-1])) && (!q[n] || strchr(" \t\"'\n", q[n]));
		if (!found)
			return false;
	}
	return true;
}

/* systemd-boot's entries: the loader.conf of an ESP under the root, and the entries beside it. */
static char *find_esp(const struct setup *s)
{
	static const char *const esps[] = { "/boot", "/efi", "/boot/efi" };

	for (size_t i = 0; i < ARRAY_SIZE(esps); i++) {
		_cleanup_free_ char *p = xasprintf("%s%s/loader/loader.conf", s->root, esps[i]);

		if (access(p, F_OK) == 0)
			return xstrdup(esps[i]);
	}
	return NULL;
}

/* Does every loader entry's options line have the parameters already? */
static bool entries_have(const struct setup *s, const char *esp)
{
	_cleanup_free_ char *dir = xasprintf("%s%s/loader/entries", s->root, esp);
	DIR *d = opendir(dir);
	const struct dirent *e;
	bool all = true, any = false;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *p = NULL, *text = NULL;
		size_t n = strlen(e->d_name);

		if (n < 6 || !streq(e->d_name + n - 5, ".conf"))
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		text = read_file(p);
		any = true;
		all &= text && strstr(text, "\noptions") && has_params(strstr(text, "\noptions"), s->params);
	}
	if (d)
		closedir(d);
	return any && all;
}

/*
 * GRUB takes a file in /etc/default/grub.d; kernelstub (Pop!_OS) and systemd-boot keep the
 * command line elsewhere, in files setup would have to rewrite: it prints the command instead.
 */
static void want_grub(struct setup *s)
{
	_cleanup_free_ char *stub = at_root(s, "/etc/kernelstub/configuration");
	_cleanup_free_ char *esp = NULL;

	if (!*s->params)
		return;
	if (access(stub, F_OK) == 0) {
		_cleanup_free_ char *conf = read_file(stub);

		if (!has_params(conf, s->params))
			s->boot_cmd = xasprintf("kernelstub -a \"%s\"", s->params);
		return;
	}
	esp = find_esp(s);
	if (esp) {
		if (!entries_have(s, esp))
			s->boot_cmd = xasprintf("sed -i '/^options / s/$/ %s/' %s/loader/entries/*.conf", s->params, esp);
		return;
	}
	want_add(s, F_GRUB,
		 xasprintf("GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT %s\"\n", s->params));
}

/* The ids of the map's PCI entries, addresses turned into the ids of what is there. */
static int early_ids(struct setup *s, const struct machine *m, struct pci_sel **ret, size_t *ret_n)
{
	const struct config *c = s->c;

	for (size_t i = 0; i < c->n_pci_sets + c->n_vms; i++) {
		const struct pci_entry *es = i < c->n_pci_sets ? c->pci_sets[i].entries : c->vms[i - c->n_pci_sets].bare_pci;
		size_t n = i < c->n_pci_sets ? c->pci_sets[i].n_entries : c->vms[i - c->n_pci_sets].n_bare_pci;

		for (size_t k = 0; k < n; k++) {
			struct pci_sel id = es[k].sel;
			bool dup = false;

			if (id.is_addr) {
				const struct pci_func *f = machine_find(m, &id.addr);

				if (!f) {
					char a[PCI_ADDR_LEN];

					pci_addr_format(&id.addr, a, sizeof(a));
					log_at(LOG_ERR, c->path, es[k].line,
					       "early = yes needs the vendor:device of %s, which is not on this machine (write its id instead)",
					       a);
					return -EINVAL;
				}
				id = (struct pci_sel){ .vendor = f->vendor, .device = f->device };
			}
			for (size_t j = 0; j < *ret_n; j++)
				dup |= (*ret)[j].vendor == id.vendor && (*ret)[j].device == id.device;
			if (!dup)
				*(struct pci_sel *)array_push(ret, ret_n, sizeof(id)) = id;
		}
	}
	return 0;
}

static void add_module(char ***mods, size_t *n, const char *name)
{
	char buf[64];
	size_t i;

	for (i = 0; i + 1 < sizeof(buf) && name[i]; i++)
		buf[i] = (char)(name[i] == '-' ? '_' : name[i]);
	buf[i] = '\0';
	if (streq(buf, "vfio_pci") || streq(buf, "vfio_pci_core") || streq(buf, "pci_stub"))
		return;
	for (i = 0; i < *n; i++)
		if (streq((*mods)[i], buf))
			return;
	*(char **)array_push(mods, n, sizeof(char *)) = xstrdup(buf);
}

/* The module of F's current driver (its driver/module link: built-in drivers have none). */
static void driver_module(const struct pci_func *f, char ***mods, size_t *n)
{
	_cleanup_free_ char *link = xasprintf("%s/driver/module", f->syspath);
	char target[PATH_MAX];
	ssize_t len = readlink(link, target, sizeof(target) - 1);

	if (len <= 0)
		return;
	target[len] = '\0';
	add_module(mods, n, strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
}

/* Every module whose alias matches F's modalias: the drivers that would claim it at boot. */
static void alias_modules(const char *aliases, struct udev *udev, const struct pci_func *f,
			  char ***mods, size_t *n)
{
	struct udev_device *dev = udev ? udev_device_new_from_syspath(udev, f->syspath) : NULL;
	const char *modalias = dev ? udev_device_get_property_value(dev, "MODALIAS") : NULL;
	_cleanup_free_ char *copy = xstrdup(aliases ? aliases : "");
	char *line, *save = NULL;

	if (!modalias && dev)
		modalias = udev_device_get_sysattr_value(dev, "modalias");
	for (line = modalias ? strtok_r(copy, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char pattern[512], module[64];

		if (sscanf(line, "alias %511s %63s", pattern, module) == 2 && startswith(pattern, "pci:") &&
		    fnmatch(pattern, modalias, 0) == 0)
			add_module(mods, n, module);
	}
	if (dev)
		udev_device_unref(dev);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int want_modprobe(struct setup *s)
{
	struct machine *m = NULL;
	struct pci_sel *ids = NULL;
	size_t n_ids = 0, n_mods = 0;
	char **mods = NULL;
	struct utsname u;
	_cleanup_free_ char *aliases = NULL, *apath = NULL;
	char *body, *next;
	struct udev *udev;
	int r;

	if (!s->c->host.early)
		return 0;
	if (machine_discover(&m) < 0)
		return -EIO;
	r = early_ids(s, m, &ids, &n_ids);
	if (r < 0 || !n_ids) {
		if (!r)
			log_at(LOG_ERR, s->c->path, s->c->host.lines[3],
			       "early = yes but the map lists no PCI device (add [pci] sections, or set early = no)");
		machine_free(m);
		free(ids);
		return -EINVAL;
	}
	apath = xasprintf("%s/lib/modules/%s/modules.alias", s->root, uname(&u) == 0 ? u.release : "");
	aliases = read_file(apath);
	udev = udev_new();
	for (size_t i = 0; i < m->n_funcs; i++)
		for (size_t k = 0; k < n_ids; k++)
			if (m->funcs[i].vendor == ids[k].vendor && m->funcs[i].device == ids[k].device) {
				driver_module(&m->funcs[i], &mods, &n_mods);
				alias_modules(aliases, udev, &m->funcs[i], &mods, &n_mods);
			}
	if (udev)
		udev_unref(udev);
	machine_free(m);
	if (n_mods)
		qsort(mods, n_mods, sizeof(*mods), cmp_str);

	body = xstrdup("# Bind these ids to vfio-pci at boot, before any host driver can take them.\noptions vfio-pci ids=");
	for (size_t k = 0; k < n_ids; k++) {
		next = xasprintf("%s%s%04x:%04x", body, k ? "," : "", ids[k].vendor, ids[k].device);
		free(body);
		body = next;
	}
	next = xasprintf("%s\n", body);
	free(body);
	body = next;
	for (size_t k = 0; k < n_mods; k++) {
		next = xasprintf("%ssoftdep %s pre: vfio-pci\n", body, mods[k]);
		free(body);
		body = next;
		free(mods[k]);
	}
	free(mods);
	free(ids);
	want_add(s, F_MODPROBE, body);
	return 0;
}

/* One rule per mapped USB device: by vendor and product where the map gives both. */
static char *usb_rules(const struct setup *s)
{
	const struct config *c = s->c;
	struct usb_sel *seen = NULL;
	size_t n_seen = 0;
	char *rules = xstrdup("");

	for (size_t i = 0; i < c->n_usb_sets + c->n_vms; i++) {
		bool set = i < c->n_usb_sets;
		const struct usb_entry *es = set ? c->usb_sets[i].entries : c->vms[i - c->n_usb_sets].bare_usb;
		size_t n = set ? c->usb_sets[i].n_entries : c->vms[i - c->n_usb_sets].n_bare_usb;

		for (size_t k = 0; k < n; k++) {
			const struct usb_sel *u = &es[k].sel;
			char id[16], product[48] = "";
			bool dup = false;
			char *next;

			for (size_t j = 0; j < n_seen; j++)
				dup |= usb_sel_eq(&seen[j], u);
			if (dup)
				continue;
			*(struct usb_sel *)array_push(&seen, &n_seen, sizeof(*u)) = *u;
			usb_sel_format(u, id, sizeof(id));
			if (!u->any_product)
				snprintf(product, sizeof(product), "ATTR{idProduct}==\"%04x\", ", u->product);
			next = xasprintf("%s# [%s %s] %s%s%s\n"
					 "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ATTR{idVendor}==\"%04x\", %s"
					 "GROUP=\"" KVM "\", MODE=\"0660\"\n",
					 rules, set ? "usb" : "vm", set ? c->usb_sets[i].name : c->vms[i - c->n_usb_sets].name,
					 id, es[k].desc ? " " : "", es[k].desc ? es[k].desc : "", u->vendor, product);
			free(rules);
			rules = next;
		}
	}
	free(seen);
	return rules;
}

static char *users_list(const struct setup *s)
{
	char *list = xstrdup("");

	for (size_t i = 0; i < s->c->host.n_users; i++) {
		char *next = xasprintf("%s%s%s", list, i ? " " : "", s->c->host.users[i]);

		free(list);
		list = next;
	}
	return list;
}

static void want_users(struct setup *s)
{
	const struct host *h = &s->c->host;
	_cleanup_free_ char *usb = NULL, *users = NULL;
	char *limits;

	if (!h->n_users)
		return;
	users = users_list(s);
	usb = usb_rules(s);
	want_add(s, F_UDEV,
		 xasprintf("# For %s (group " KVM "), from qemu:///session: the IOMMU groups (/dev/vfio/N),\n"
			   "# iommufd's device nodes (/dev/vfio/devices/*), and the map's USB devices.\n"
			   "SUBSYSTEM==\"vfio\", GROUP=\"" KVM "\", MODE=\"0660\"\n"
			   "SUBSYSTEM==\"vfio-dev\", GROUP=\"" KVM "\", MODE=\"0660\"\n%s",
			   users, usb));
	for (size_t i = 0; i < h->n_users; i++)
		*(char **)array_push(&s->members, &s->n_members, sizeof(char *)) = xstrdup(h->users[i]);
	if (!h->memlock_set)
		return;
	limits = xstrdup("# A VM with a passed-through device locks all its memory.\n");
	for (size_t i = 0; i < h->n_users; i++) {
		char value[32];
		char *next;

		if (h->memlock_unlimited)
			snprintf(value, sizeof(value), "unlimited");
		else
			snprintf(value, sizeof(value), "%llu", h->memlock_kib);
		next = xasprintf("%s%s soft memlock %s\n%s hard memlock %s\n", limits, h->users[i], value, h->users[i],
				 value);
		free(limits);
		limits = next;
	}
	want_add(s, F_LIMITS, limits);
}

static int want_all(struct setup *s)
{
	int r;

	if (s->undo)
		return 0;
	want_add(s, F_MODULES, xstrdup("vfio_pci\nvfio_iommu_type1\n"));
	r = want_modprobe(s);
	if (r < 0)
		return r;
	want_users(s);
	r = want_params(s);
	if (r < 0)
		return r;
	want_grub(s);
	return 0;
}

/* ---- The manifest ---- */

static int manifest_read(struct setup *s)
{
	_cleanup_free_ char *full = at_root(s, F_MANIFEST);
	char *line, *save = NULL;
	_cleanup_free_ char *copy = NULL;
	int r = read_at(s, F_MANIFEST, &s->old_manifest), n = 0;

	if (r < 0 || !s->old_manifest)
		return r;
	copy = xstrdup(s->old_manifest);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char sha[SHA256_HEX_LEN], path[PATH_MAX], user[64];

		n++;
		if (*line == '#')
			continue;
		if (sscanf(line, "file %64[0-9a-f] %4095s", sha, path) == 2 && strlen(sha) == 64 && *path == '/') {
			struct recorded *e = array_push(&s->old, &s->n_old, sizeof(*e));

			e->path = xstrdup(path);
			memcpy(e->sha, sha, sizeof(sha));
		} else if (sscanf(line, "member " KVM " %63s", user) == 1) {
			*(char **)array_push(&s->old_members, &s->n_old_members, sizeof(char *)) = xstrdup(user);
		} else {
			log_at(LOG_ERR, full, n,
			       "not a line vfio-hook setup writes (restore the file, or remove it and the files it lists by hand)");
			return -EINVAL;
		}
	}
	return 0;
}

static const struct recorded *recorded(const struct setup *s, const char *path)
{
	for (size_t i = 0; i < s->n_old; i++)
		if (streq(s->old[i].path, path))
			return &s->old[i];
	return NULL;
}

static bool recorded_member(const struct setup *s, const char *user)
{
	for (size_t i = 0; i < s->n_old_members; i++)
		if (streq(s->old_members[i], user))
			return true;
	return false;
}

/* ---- The steps ---- */

static void step_add(struct setup *s, enum step_kind kind, const char *path, char *old, const char *text)
{
	struct step *st = array_push(&s->steps, &s->n_steps, sizeof(*st));

	st->kind = kind;
	st->path = xstrdup(path);
	st->old = old;
	st->text = text ? xstrdup(text) : NULL;
}

static bool sha_is(const char *text, const char *sha)
{
	char now[SHA256_HEX_LEN];

	sha256_hex(text, strlen(text), now);
	return streq(now, sha);
}

static int plan_files(struct setup *s)
{
	for (size_t i = 0; i < s->n_want; i++) {
		const struct want *w = &s->want[i];
		const struct recorded *rec = recorded(s, w->path);
		char *cur;
		int r = read_at(s, w->path, &cur);

		if (r < 0)
			return r;
		if (cur && streq(cur, w->text)) {
			free(cur);
			continue;
		}
		if (cur && (!rec || !sha_is(cur, rec->sha))) {
			_cleanup_free_ char *full = at_root(s, w->path);

			log_error("%s: %s: move it away (or merge what it adds into the map), then run vfio-hook setup again",
				  full, rec ? "edited since vfio-hook setup wrote it" : "exists and vfio-hook setup did not write it");
			free(cur);
			return -EEXIST;
		}
		step_add(s, STEP_WRITE, w->path, cur, w->text);
	}
	/* What an earlier run wrote that the map no longer asks for. */
	for (size_t i = 0; i < s->n_old; i++) {
		bool wanted = false;
		char *cur;
		int r;

		for (size_t k = 0; k < s->n_want; k++)
			wanted |= streq(s->want[k].path, s->old[i].path);
		if (wanted)
			continue;
		r = read_at(s, s->old[i].path, &cur);
		if (r < 0)
			return r;
		if (!cur)
			continue;
		if (sha_is(cur, s->old[i].sha)) {
			step_add(s, STEP_REMOVE, s->old[i].path, cur, NULL);
			continue;
		}
		free(cur);
		*(char **)array_push(&s->kept, &s->n_kept, sizeof(char *)) = at_root(s, s->old[i].path);
	}
	return 0;
}

static int plan_members(struct setup *s)
{
	for (size_t i = 0; i < s->n_members; i++) {
		const char *u = s->members[i];
		uid_t uid;
		gid_t gid;
		int r = accounts_user(s->root, u, &uid, &gid);

		if (r < 0) {
			log_at(LOG_ERR, s->c->path, s->c->host.lines[0],
			       "user %s is not in %s/etc/passwd (create the account first, or remove it from users)", u, s->root);
			return -EINVAL;
		}
		r = accounts_member(s->root, KVM, u);
		if (r < 0) {
			log_error("%s/etc/group: no group " KVM " (create it: groupadd -r " KVM "), then run vfio-hook setup again",
				  s->root);
			return -ENOENT;
		}
		if (!r)
			step_add(s, STEP_ADD_MEMBER, u, NULL, NULL);
	}
	for (size_t i = 0; i < s->n_old_members; i++) {
		bool wanted = false;

		for (size_t k = 0; k < s->n_members; k++)
			wanted |= streq(s->members[k], s->old_members[i]);
		if (!wanted && accounts_member(s->root, KVM, s->old_members[i]) == 1)
			step_add(s, STEP_DEL_MEMBER, s->old_members[i], NULL, NULL);
	}
	return 0;
}

/* The manifest after this run: NULL when nothing is left to record. */
static char *manifest_text(const struct setup *s)
{
	char *text = xasprintf("# vfio-hook setup: what it wrote from %s, with SHA-256 checksums.\n"
			       "# \"vfio-hook setup --undo\" removes each file that is unchanged, then this one.\n",
			       s->map);
	bool any = false;

	for (size_t i = 0; i < s->n_want; i++) {
		char sha[SHA256_HEX_LEN];
		char *next;

		sha256_hex(s->want[i].text, strlen(s->want[i].text), sha);
		next = xasprintf("%sfile %s %s\n", text, sha, s->want[i].path);
		free(text);
		text = next;
		any = true;
	}
	for (size_t i = 0; i < s->n_members; i++) {
		bool added = recorded_member(s, s->members[i]);
		char *next;

		for (size_t k = 0; k < s->n_steps; k++)
			added |= s->steps[k].kind == STEP_ADD_MEMBER && streq(s->steps[k].path, s->members[i]);
		if (!added)
			continue;
		next = xasprintf("%smember " KVM " %s\n", text, s->members[i]);
		free(text);
		text = next;
		any = true;
	}
	if (!any) {
		free(text);
		return NULL;
	}
	return text;
}

static void plan_manifest(struct setup *s)
{
	_cleanup_free_ char *text = manifest_text(s);

	if ((!text && !s->old_manifest) || streq(text, s->old_manifest))
		return;
	if (text)
		step_add(s, STEP_WRITE, F_MANIFEST, s->old_manifest ? xstrdup(s->old_manifest) : NULL, text);
	else if (s->old_manifest)
		step_add(s, STEP_REMOVE, F_MANIFEST, xstrdup(s->old_manifest), NULL);
}

/* ---- Applying them ---- */

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	return 0;
}

/* TEXT into FULL by a new file renamed over it: readers see the old or the new file, never half. */
static int write_atomic(const char *full, const char *text, mode_t mode, const struct stat *owner)
{
	_cleanup_free_ char *tmp = xasprintf("%s.vfio-hook-tmp", full);
	size_t len = strlen(text);
	int fd, r = mkdir_parents(full);

	if (r < 0)
		return r;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = 0;
	if ((size_t)write(fd, text, len) != len || fchmod(fd, mode) < 0 ||
	    (owner && fchown(fd, owner->st_uid, owner->st_gid) < 0) || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, full) < 0)
		r = -errno;
	if (r)
		(void)unlink(tmp);
	return r;
}

static int write_file(const struct setup *s, const char *path, const char *text)
{
	_cleanup_free_ char *full = at_root(s, path);

	return write_atomic(full, text, 0644, NULL);
}

static int remove_file(const struct setup *s, const char *path)
{
	_cleanup_free_ char *full = at_root(s, path);

	return unlink(full) < 0 && errno != ENOENT ? -errno : 0;
}

/* A member edit of ROOT/etc/group (and gshadow, where there is one), mode and owner kept. */
static int edit_group_file(const struct setup *s, const char *file, const char *user, bool add)
{
	_cleanup_free_ char *full = at_root(s, file);
	_cleanup_free_ char *text = read_file(full), *edited = NULL;
	struct stat st;

	if (!text)
		return errno == ENOENT && streq(file, "/etc/gshadow") ? 0 : -errno;
	if (stat(full, &st) < 0)
		return -errno;
	edited = accounts_edit_members(text, KVM, user, add);
	if (!edited)
		return streq(file, "/etc/gshadow") ? 0 : -ENOENT;
	return write_atomic(full, edited, st.st_mode & 07777, &st);
}

static int run_tool(const void *arg, FILE *out)
{
	char *const *argv = arg;

	(void)out;
	execvp(argv[0], argv);
	return -errno;
}

static int set_member(const struct setup *s, const char *user, bool add)
{
	int r;

	/* On this system usermod and gpasswd know its locking and the nscd cache; in a root, the files are all. */
	if (!*s->root) {
		const char *argv_add[] = { "usermod", "-a", "-G", KVM, user, NULL };
		const char *argv_del[] = { "gpasswd", "-d", user, KVM, NULL };

		return child_run(run_tool, add ? argv_add : argv_del, CMD_TIMEOUT_MS, NULL);
	}
	r = edit_group_file(s, "/etc/group", user, add);
	if (r < 0)
		return r;
	r = edit_group_file(s, "/etc/gshadow", user, add);
	if (r < 0)
		(void)edit_group_file(s, "/etc/group", user, !add);
	return r;
}

static int step_do(const struct setup *s, const struct step *st)
{
	switch (st->kind) {
	case STEP_WRITE:
		return write_file(s, st->path, st->text);
	case STEP_REMOVE:
		return remove_file(s, st->path);
	case STEP_ADD_MEMBER:
		return set_member(s, st->path, true);
	case STEP_DEL_MEMBER:
		return set_member(s, st->path, false);
	}
	return -EINVAL;
}

static int step_undo(const struct setup *s, const struct step *st)
{
	switch (st->kind) {
	case STEP_WRITE:
	case STEP_REMOVE:
		return st->old ? write_file(s, st->path, st->old) : remove_file(s, st->path);
	case STEP_ADD_MEMBER:
		return set_member(s, st->path, false);
	case STEP_DEL_MEMBER:
		return set_member(s, st->path, true);
	}
	return -EINVAL;
}

static void step_failed(const struct setup *s, const struct step *st, int r)
{
	_cleanup_free_ char *full = at_root(s, st->kind <= STEP_REMOVE ? st->path : "/etc/group");

	errno = -r;
	if (st->kind == STEP_WRITE)
		log_error("%s: cannot write: %m (check that %s is writable and has room)", full, s->root[0] ? s->root : "/etc");
	else if (st->kind == STEP_REMOVE)
		log_error("%s: cannot remove: %m (check the directory's permissions)", full);
	else if (*s->root)
		log_error("%s: cannot %s %s: %m (check the file)", full, st->kind == STEP_ADD_MEMBER ? "add to group " KVM : "remove from group " KVM, st->path);
	else
		log_error("%s %s failed (exit status %d): run it by hand to see why", st->kind == STEP_ADD_MEMBER ? "usermod -a -G " KVM : "gpasswd -d", st->path, -r);
}

static int apply(struct setup *s)
{
	for (size_t i = 0; i < s->n_steps; i++) {
		int r = step_do(s, &s->steps[i]);

		if (r == 0) {
			s->steps[i].done = true;
			continue;
		}
		step_failed(s, &s->steps[i], r);
		/* Back to what was there, newest first: a half-done setup is no setup. */
		for (size_t k = i; k-- > 0;)
			if (step_undo(s, &s->steps[k]) < 0) {
				_cleanup_free_ char *full = at_root(s, s->steps[k].path);

				log_error("%s: could not undo this run's change to it either: check it by hand", full);
			}
		if (i)
			log_error("setup: undid the %zu change%s made before that", i, i == 1 ? "" : "s");
		return r;
	}
	return 0;
}

/* ---- Output ---- */

static char **split_lines(const char *text, size_t *ret_n)
{
	char **lines = NULL;

	*ret_n = 0;
	for (const char *p = text ? text : ""; *p;) {
		size_t len = strcspn(p, "\n");

		*(char **)array_push(&lines, ret_n, sizeof(char *)) = xasprintf("%.*s", (int)len, p);
		p += len + (p[len] == '\n');
	}
	return lines;
}

/* A unified diff of OLD to NEW as one hunk over the whole file (they are a few lines long). */
static void print_diff(const char *name, const char *old, const char *new)
{
	size_t na, nb;
	char **a = split_lines(old, &na), **b = split_lines(new, &nb);
	size_t *lcs = xcalloc((na + 1) * (nb + 1), sizeof(*lcs));
	size_t i = 0, j = 0;

	for (size_t x = na; x-- > 0;)
		for (size_t y = nb; y-- > 0;)
			lcs[x * (nb + 1) + y] = streq(a[x], b[y]) ? lcs[(x + 1) * (nb + 1) + y + 1] + 1
				: lcs[(x + 1) * (nb + 1) + y] > lcs[x * (nb + 1) + y + 1] ? lcs[(x + 1) * (nb + 1) + y]
											  : lcs[x * (nb + 1) + y + 1];
	printf("--- %s\n+++ %s\n@@ -%d,%zu +%d,%zu @@\n", old ? name : "/dev/null", new ? name : "/dev/null", na ? 1 : 0, na,
	       nb ? 1 : 0, nb);
	while (i < na || j < nb) {
		if (i < na && j < nb && streq(a[i], b[j])) {
			printf(" %s\n", a[i++]);
			j++;
		} else if (j < nb && (i == na || lcs[i * (nb + 1) + j + 1] >= lcs[(i + 1) * (nb + 1) + j])) {
			printf("+%s\n", b[j++]);
		} else {
			printf("-%s\n", a[i++]);
		}
	}
	for (size_t k = 0; k < na; k++)
		free(a[k]);
	for (size_t k = 0; k < nb; k++)
		free(b[k]);
	free(a);
	free(b);
	free(lcs);
}

static void print_step(const struct setup *s, const struct step *st)
{
	_cleanup_free_ char *full = at_root(s, st->path);

	if (s->dry_run && st->kind <= STEP_REMOVE && !streq(st->path, F_MANIFEST)) {
		print_diff(full, st->old, st->kind == STEP_WRITE ? st->text : NULL);
		return;
	}
	switch (st->kind) {
	case STEP_WRITE:
		printf("%s %s\n", s->dry_run ? "would write" : "wrote", full);
		break;
	case STEP_REMOVE:
		printf("%s %s\n", s->dry_run ? "would remove" : "removed", full);
		break;
	case STEP_ADD_MEMBER:
		printf("%s %s to group " KVM "\n", s->dry_run ? "would add" : "added", st->path);
		break;
	case STEP_DEL_MEMBER:
		printf("%s %s from group " KVM "\n", s->dry_run ? "would remove" : "removed", st->path);
		break;
	}
}

static bool changed(const struct setup *s, const char *path)
{
	for (size_t i = 0; i < s->n_steps; i++)
		if (s->steps[i].kind <= STEP_REMOVE && streq(s->steps[i].path, path))
			return true;
	return false;
}

static bool root_has(const struct setup *s, const char *path)
{
	_cleanup_free_ char *full = at_root(s, path);

	return access(full, F_OK) == 0;
}

static const char *initramfs_cmd(const struct setup *s)
{
	if (root_has(s, "/etc/dracut.conf.d") && !root_has(s, "/etc/initramfs-tools"))
		return "dracut -f --regenerate-all";
	if (root_has(s, "/etc/mkinitcpio.conf"))
		return "mkinitcpio -P";
	return "update-initramfs -u";
}

static void add_name(char **list, const char *name, size_t len)
{
	_cleanup_free_ char *word = xasprintf("%.*s", (int)len, name);
	_cleanup_free_ char *padded = xasprintf(" %s ", *list);
	_cleanup_free_ char *needle = xasprintf(" %s ", word);
	char *next;

	if (strstr(padded, needle))
		return;
	next = xasprintf("%s%s%s", *list, **list ? " " : "", word);
	free(*list);
	*list = next;
}

/* The users a limits file names (the first word of each rule). */
static void add_limit_users(char **list, const char *text)
{
	for (const char *p = text ? text : ""; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
		if (*p != '#' && *p != '\n')
			add_name(list, p, strcspn(p, " \t\n"));
}

/* Who must log in again: the users whose group changed, and those of a limit set or taken away. */
static char *relogin_users(const struct setup *s)
{
	char *list = xstrdup("");

	for (size_t i = 0; i < s->n_steps; i++) {
		const struct step *st = &s->steps[i];

		if (st->kind >= STEP_ADD_MEMBER) {
			add_name(&list, st->path, strlen(st->path));
		} else if (streq(st->path, F_LIMITS)) {
			add_limit_users(&list, st->old);
			add_limit_users(&list, st->text);
		}
	}
	return list;
}

/* Only what this run's changes need, in the order to do it. */
static void print_left(const struct setup *s)
{
	const char *todo[8];
	size_t n = 0;
	bool reboot = false;
	_cleanup_free_ char *users = relogin_users(s), *relogin = NULL;

	if (s->boot_cmd) {
		todo[n++] = s->boot_cmd;
		reboot = true;
	}
	if (changed(s, F_GRUB)) {
		todo[n++] = root_has(s, "/boot/grub2") ? "grub2-mkconfig -o /boot/grub2/grub.cfg" : "update-grub";
		reboot = true;
	}
	if (changed(s, F_MODPROBE)) {
		todo[n++] = initramfs_cmd(s);
		reboot = true;
	}
	if (changed(s, F_UDEV) && !reboot)
		todo[n++] = "udevadm control --reload && udevadm trigger --subsystem-match=vfio --subsystem-match=vfio-dev --subsystem-match=usb";
	if (*users) {
		relogin = xasprintf("%s: log out and in again (group " KVM " and the memlock limit apply to new sessions and "
				    "the qemu:///session daemon started in them)", users);
		todo[n++] = relogin;
	}
	if (reboot)
		todo[n++] = "reboot";
	if (!n)
		return;
	printf("%s:\n", s->dry_run ? "Left to do after that" : "Left to do");
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", todo[i]);
}

static void print_result(const struct setup *s)
{
	for (size_t i = 0; i < s->n_steps; i++)
		print_step(s, &s->steps[i]);
	for (size_t i = 0; i < s->n_kept; i++)
		printf("%s %s: edited since vfio-hook setup wrote it (remove it yourself if it is no longer wanted)\n",
		       s->dry_run ? "would keep" : "kept", s->kept[i]);
	if (!s->n_steps && s->undo)
		printf("nothing to undo%s\n", s->n_kept ? "" : ": no file of vfio-hook setup is left");
	else if (!s->n_steps)
		printf("nothing to do: this host already has what %s asks for\n", s->map);
	print_left(s);
	if (s->dry_run && s->n_steps)
		printf("dry run: nothing was changed\n");
}

/* ---- The command ---- */

static void setup_free(struct setup *s)
{
	for (size_t i = 0; i < s->n_want; i++)
		free(s->want[i].text);
	for (size_t i = 0; i < s->n_members; i++)
		free(s->members[i]);
	for (size_t i = 0; i < s->n_old; i++)
		free(s->old[i].path);
	for (size_t i = 0; i < s->n_old_members; i++)
		free(s->old_members[i]);
	for (size_t i = 0; i < s->n_steps; i++) {
		free(s->steps[i].path);
		free(s->steps[i].old);
		free(s->steps[i].text);
	}
	for (size_t i = 0; i < s->n_kept; i++)
		free(s->kept[i]);
	free(s->want);
	free(s->members);
	free(s->old);
	free(s->old_members);
	free(s->old_manifest);
	free(s->steps);
	free(s->kept);
	free(s->boot_cmd);
	free(s->map);
}

static int check_root(const char *root, bool dry_run)
{
	struct stat st;

	if (root) {
		if (*root != '/' || stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_error("setup: --root %s: not an existing directory given as an absolute path (create it, or fix the path)",
				  root);
			return -EINVAL;
		}
		return 0;
	}
	/* The suite proves it cannot touch this machine: without --root there is nothing to write to. */
	if (getenv("VFIO_HOOK_TEST")) {
		log_error("setup: refused: VFIO_HOOK_TEST is set and no --root DIR was given (pass --root DIR: a test never writes this machine's /etc)");
		return -EPERM;
	}
	if (geteuid() != 0 && !dry_run) {
		log_error("setup: writes /etc and /var/lib/vfio-hook: run it as root (sudo vfio-hook setup), or try --dry-run");
		return -EPERM;
	}
	return 0;
}

int setup_run(const char *cfg_path, const char *root, bool dry_run, bool undo)
{
	struct setup s = { .root = "", .undo = undo, .dry_run = dry_run };
	const char *path = config_path(cfg_path);
	_cleanup_free_ char *root_dir = NULL;
	struct config *c = NULL;
	int r = check_root(root, dry_run);

	if (r < 0)
		return r == -EINVAL ? 2 : 1;
	/* Paths under the root keep their leading slash: "DIR/" and "/" lose their last one. */
	if (root) {
		root_dir = xstrdup(root);
		while (*root_dir && root_dir[strlen(root_dir) - 1] == '/')
			root_dir[strlen(root_dir) - 1] = '\0';
		s.root = root_dir;
	}
	/* Undo needs only the manifest: the map may be gone or changed since. */
	if (!undo) {
		char real[PATH_MAX];

		if (config_load(path, &c) < 0)
			return 2;
		s.c = c;
		s.map = xstrdup(realpath(path, real) ? real : path);
	}

	r = manifest_read(&s);
	if (r >= 0)
		r = want_all(&s);
	if (r >= 0)
		r = plan_files(&s);
	if (r >= 0)
		r = plan_members(&s);
	if (r >= 0) {
		plan_manifest(&s);
		if (!dry_run)
			r = apply(&s);
		if (r >= 0)
			print_result(&s);
	}
	setup_free(&s);
	config_free(c);
	return r == 0 ? 0 : r == -EINVAL ? 2 : 1;
}

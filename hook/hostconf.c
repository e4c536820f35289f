/* SPDX-License-Identifier: MIT */
/*
 * What the map's [host] section asks of this host, as file contents: the vfio modules, the
 * boot-time binding of the map's PCI ids and the host drivers to hold back for it, udev
 * rules and memlock limits for the session users, the IOMMU kernel parameters. Computed
 * only: setup compares it with what is there and writes the difference.
 */
#define _GNU_SOURCE
#include "hostconf.h"

#include "discover.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libudev.h>
#include <limits.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define KVM "kvm"

static char *at_root(const struct hostconf *s, const char *path)
{
	return xasprintf("%s%s", s->root, path);
}

/* The map's path is escaped where it is written (escape_text): a newline in it would end the comment. */
static char *header(const struct hostconf *s)
{
	return xasprintf("# Written by vfio-hook setup from %s.\n"
			 "# Change the map and run \"vfio-hook setup\" again rather than editing this file;\n"
			 "# \"vfio-hook setup --undo\" removes it.\n",
			 s->map);
}

static void want_add(struct hostconf *s, const char *path, char *body)
{
	struct hostconf_file *w = array_push(&s->files, &s->n_files, sizeof(*w));
	_cleanup_free_ char *h = header(s);

	w->path = path;
	w->text = xasprintf("%s%s", h, body);
	free(body);
}

/* ---- What the map asks for ---- */

/*
 * The parameters for the CPU of the root (its /proc/cpuinfo, when an image builder gives one),
 * else of this machine: in *RET, NULL for a CPU of neither vendor. -errno when the root's
 * cpuinfo is there but cannot be read (logged): this machine's CPU may not be the image's.
 */
static int cpu_vendor_params(const struct hostconf *s, const char **ret)
{
	_cleanup_free_ char *at = at_root(s, "/proc/cpuinfo");
	_cleanup_free_ char *info = read_regular(AT_FDCWD, at, 0);
	char *line, *save = NULL;

	*ret = NULL;
	if (!info && *s->root && errno != ENOENT) {
		int r = -errno;

		log_error("%s: cannot read: %s (replace it with the image's CPU description, or set iommu = intel, amd or off in [host])",
			  at, file_error(r));
		return r;
	}
	if (!info)
		info = read_regular(AT_FDCWD, "/proc/cpuinfo", 0);
	for (line = info ? strtok_r(info, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ':');

		if (!startswith(line, "vendor_id") || !v)
			continue;
		v = strip(v + 1);
		if (streq(v, "GenuineIntel"))
			*ret = "intel_iommu=on iommu=pt";
		/* AMD's IOMMU is on by default: only passthrough mode for the host's own devices. */
		else if (streq(v, "AuthenticAMD") || streq(v, "HygonGenuine"))
			*ret = "iommu=pt";
		return 0;
	}
	return 0;
}

static int want_params(struct hostconf *s)
{
	const char *iommu = "";
	char *params;

	switch (s->c->host.iommu) {
	case IOMMU_INTEL:
		iommu = "intel_iommu=on iommu=pt";
		break;
	case IOMMU_AMD:
		iommu = "iommu=pt";
		break;
	case IOMMU_OFF:
		break;
	case IOMMU_AUTO:
		if (cpu_vendor_params(s, &iommu) < 0)
			return -EIO;
		if (!iommu) {
			log_at(LOG_ERR, s->c->path, s->c->host.lines[2],
			       "iommu = auto: /proc/cpuinfo names no Intel or AMD CPU (set iommu = intel, amd or off in [host])");
			return -EINVAL;
		}
		break;
	}
	/* Hugepages at boot, before memory fragments: 1 GiB pages can rarely be had later. */
	params = xstrdup(iommu);
	for (size_t i = 0; i < s->c->host.n_pages; i++) {
		const struct boot_pages *b = &s->c->host.pages[i];
		unsigned long long k = b->size_kib;
		char *more = xasprintf("%s%shugepagesz=%llu%s hugepages=%lu", params, *params ? " " : "",
				       k % 1048576 == 0 ? k / 1048576 : k % 1024 == 0 ? k / 1024 : k,
				       k % 1048576 == 0 ? "G" : k % 1024 == 0 ? "M" : "K", b->count);

		free(params);
		params = more;
	}
	s->params = params;
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
static char *find_esp(const struct hostconf *s)
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
static bool entries_have(const struct hostconf *s, const char *esp)
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
		text = read_regular(AT_FDCWD, p, 0);
		any = true;
		all &= text && strstr(text, "\noptions") && has_params(strstr(text, "\noptions"), s->params);
	}
	if (d)
		closedir(d);
	return any && all;
}

static bool root_has(const struct hostconf *s, const char *path)
{
	_cleanup_free_ char *p = at_root(s, path);

	return access(p, F_OK) == 0;
}

/* The GRUB_CMDLINE_LINUX* lines of /etc/default/grub (NULL: no such file), and is BLS on? */
static char *default_grub_cmdline(const struct hostconf *s, bool *ret_bls)
{
	_cleanup_free_ char *p = at_root(s, "/etc/default/grub");
	_cleanup_free_ char *text = read_regular(AT_FDCWD, p, 0);
	char *lines, *line, *save = NULL;

	*ret_bls = false;
	if (!text)
		return NULL;
	lines = xstrdup("");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *next;

		line = strip(line);
		*ret_bls |= startswith(line, "GRUB_ENABLE_BLSCFG=true") || startswith(line, "GRUB_ENABLE_BLSCFG=\"true\"");
		if (!startswith(line, "GRUB_CMDLINE_LINUX"))
			continue;
		next = xasprintf("%s%s\n", lines, line);
		free(lines);
		lines = next;
	}
	return lines;
}

/*
 * Where the kernel command line is kept decides what setup does. A file of its own only where
 * the generator reads it: the .cfg files of /etc/default/grub.d are a Debian/Ubuntu patch of
 * grub-mkconfig (Fedora's and Arch's read /etc/default/grub alone). kernelstub (Pop!_OS),
 * systemd-boot, BLS entries (grubby) and /etc/default/grub itself are files setup would have
 * to rewrite: it prints the command instead. Parameters already there: nothing to do.
 */
static void want_grub(struct hostconf *s)
{
	_cleanup_free_ char *stub = at_root(s, "/etc/kernelstub/configuration");
	_cleanup_free_ char *esp = NULL, *cmdline = NULL;
	bool bls = false;
	const char *mkconfig;

	if (!*s->params)
		return;
	if (access(stub, F_OK) == 0) {
		_cleanup_free_ char *conf = read_regular(AT_FDCWD, stub, 0);

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
	cmdline = default_grub_cmdline(s, &bls);
	if (has_params(cmdline, s->params) && !bls)
		return;
	if (root_has(s, "/etc/debian_version") || root_has(s, "/etc/default/grub.d")) {
		want_add(s, HOSTCONF_GRUB,
			 xasprintf("GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT %s\"\n", s->params));
		return;
	}
	if (bls || (root_has(s, "/boot/loader/entries") &&
		    (root_has(s, "/usr/sbin/grubby") || root_has(s, "/usr/bin/grubby") || root_has(s, "/sbin/grubby")))) {
		if (!entries_have(s, "/boot"))
			s->boot_cmd = xasprintf("grubby --update-kernel=ALL --args=\"%s\"", s->params);
		return;
	}
	if (!cmdline) {
		s->boot_unknown = true;
		s->boot_cmd = xasprintf("add \"%s\" to the kernel command line of the boot loader (%s/etc/default/grub, "
					"loader entries or kernelstub: none found)",
					s->params, s->root);
		return;
	}
	mkconfig = root_has(s, "/boot/grub2") ? "grub2-mkconfig -o /boot/grub2/grub.cfg" : "grub-mkconfig -o /boot/grub/grub.cfg";
	s->boot_cmd = xasprintf("echo 'GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX %s\"' >>/etc/default/grub && %s", s->params,
				mkconfig);
}

/*
 * What early binding binds: the ids the map names (every function with them), and the
 * functions it pins by address (that one only: an identical card the host keeps has the same
 * ids). A pinned function must be on this machine.
 */
struct pinned {
	const struct pci_func *f;
	char *mods; /* " MOD MOD ": the modules of its host drivers */
};

static int early_entries(struct hostconf *s, const struct machine *m, struct pci_sel **ret_ids, size_t *ret_n_ids,
			 struct pinned **ret_pinned, size_t *ret_n_pinned)
{
	const struct config *c = s->c;

	for (size_t i = 0; i < c->n_pci_sets + c->n_vms; i++) {
		const struct pci_entry *es = i < c->n_pci_sets ? c->pci_sets[i].entries : c->vms[i - c->n_pci_sets].bare_pci;
		size_t n = i < c->n_pci_sets ? c->pci_sets[i].n_entries : c->vms[i - c->n_pci_sets].n_bare_pci;

		for (size_t k = 0; k < n; k++) {
			const struct pci_sel id = es[k].sel;
			bool dup = false;

			if (id.is_addr) {
				const struct pci_func *f = machine_find(m, &id.addr);

				if (!f) {
					char a[PCI_ADDR_LEN];

					pci_addr_format(&id.addr, a, sizeof(a));
					log_at(LOG_ERR, c->path, es[k].line,
					       "early = yes cannot bind %s at boot: it is not on this machine (fix the address, or remove it)",
					       a);
					return -EINVAL;
				}
				for (size_t j = 0; j < *ret_n_pinned; j++)
					dup |= (*ret_pinned)[j].f == f;
				if (!dup)
					*(struct pinned *)array_push(ret_pinned, ret_n_pinned, sizeof(struct pinned)) =
						(struct pinned){ f, NULL };
				continue;
			}
			for (size_t j = 0; j < *ret_n_ids; j++)
				dup |= (*ret_ids)[j].vendor == id.vendor && (*ret_ids)[j].device == id.device;
			if (!dup)
				*(struct pci_sel *)array_push(ret_ids, ret_n_ids, sizeof(id)) = id;
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

static char *append(char *body, char *more)
{
	char *next = xasprintf("%s%s", body, more);

	free(body);
	free(more);
	return next;
}

/*
 * A pinned function's host drivers, each loaded only after the function is given to vfio-pci:
 * modprobe runs the install command instead of loading the module, so whenever (initramfs,
 * coldplug, by hand) and for whichever identical card the module comes, the pinned one is
 * vfio-pci's first. The one probe binds it to vfio-pci, loaded just before.
 */
static char *install_lines(char *const *mods, size_t n_mods, const struct pinned *pinned, size_t n_pinned)
{
	char *body = xstrdup("");

	for (size_t k = 0; k < n_mods; k++) {
		char *line = xasprintf("install %s /sbin/modprobe vfio-pci;", mods[k]);

		for (size_t i = 0; i < n_pinned; i++) {
			_cleanup_free_ char *word = xasprintf(" %s ", mods[k]);
			char a[PCI_ADDR_LEN];

			if (!strstr(pinned[i].mods, word))
				continue;
			pci_addr_format(&pinned[i].f->addr, a, sizeof(a));
			line = append(line, xasprintf(" echo vfio-pci >/sys/bus/pci/devices/%s/driver_override; echo %s "
						      ">/sys/bus/pci/drivers_probe;", a, a));
		}
		body = append(body, xasprintf("%s exec /sbin/modprobe --ignore-install %s $CMDLINE_OPTS\n", line, mods[k]));
		free(line);
	}
	return body;
}

static int want_modprobe(struct hostconf *s)
{
	struct machine *m = NULL;
	struct pci_sel *ids = NULL;
	struct pinned *pinned = NULL;
	size_t n_ids = 0, n_pinned = 0, n_mods = 0, n_pmods = 0;
	char **mods = NULL, **pmods = NULL;
	struct utsname u;
	_cleanup_free_ char *aliases = NULL, *apath = NULL;
	struct udev *udev;
	int r;

	if (!s->c->host.early)
		return 0;
	if (machine_discover(&m) < 0)
		return -EIO;
	r = early_entries(s, m, &ids, &n_ids, &pinned, &n_pinned);
	if (r < 0 || (!n_ids && !n_pinned)) {
		if (!r)
			log_at(LOG_ERR, s->c->path, s->c->host.lines[3],
			       "early = yes but the map lists no PCI device (add [pci] sections, or set early = no)");
		machine_free(m);
		free(ids);
		free(pinned);
		return -EINVAL;
	}
	apath = xasprintf("%s/lib/modules/%s/modules.alias", s->root, uname(&u) == 0 ? u.release : "");
	aliases = read_regular(AT_FDCWD, apath, 0);
	udev = udev_new();
	for (size_t i = 0; i < m->n_funcs; i++)
		for (size_t k = 0; k < n_ids; k++)
			if (m->funcs[i].vendor == ids[k].vendor && m->funcs[i].device == ids[k].device) {
				driver_module(&m->funcs[i], &mods, &n_mods);
				alias_modules(aliases, udev, &m->funcs[i], &mods, &n_mods);
			}
	for (size_t i = 0; i < n_pinned && r == 0; i++) {
		char **own = NULL;
		size_t n_own = 0;
		char a[PCI_ADDR_LEN];

		driver_module(pinned[i].f, &own, &n_own);
		alias_modules(aliases, udev, pinned[i].f, &own, &n_own);
		pinned[i].mods = xstrdup(" ");
		for (size_t k = 0; k < n_own; k++) {
			pinned[i].mods = append(pinned[i].mods, xasprintf("%s ", own[k]));
			add_module(&pmods, &n_pmods, own[k]);
			free(own[k]);
		}
		free(own);
		if (n_own)
			continue;
		pci_addr_format(&pinned[i].f->addr, a, sizeof(a));
		log_at(LOG_ERR, s->c->path, s->c->host.lines[3],
		       "early = yes cannot bind %s at boot by its address: no module of a driver for it is known (it has no "
		       "driver now, or its driver is built into the kernel): name it by its id instead, or set early = no",
		       a);
		r = -EINVAL;
	}
	if (udev)
		udev_unref(udev);
	if (r == 0) {
		char *body = xstrdup("");

		if (n_mods)
			qsort(mods, n_mods, sizeof(*mods), cmp_str);
		if (n_pmods)
			qsort(pmods, n_pmods, sizeof(*pmods), cmp_str);
		if (n_ids) {
			body = append(body, xstrdup("# Bind these ids to vfio-pci at boot, before any host driver can take them.\n"
						    "options vfio-pci ids="));
			for (size_t k = 0; k < n_ids; k++)
				body = append(body, xasprintf("%s%04x:%04x", k ? "," : "", ids[k].vendor, ids[k].device));
			body = append(body, xstrdup("\n"));
		}
		for (size_t k = 0; k < n_mods; k++)
			body = append(body, xasprintf("softdep %s pre: vfio-pci\n", mods[k]));
		if (n_pinned)
			body = append(append(body, xstrdup("# These functions by their address (an identical card the host keeps has "
							   "their ids): to vfio-pci before their driver loads.\n")),
				      install_lines(pmods, n_pmods, pinned, n_pinned));
		want_add(s, HOSTCONF_MODPROBE, body);
	}
	for (size_t k = 0; k < n_mods; k++)
		free(mods[k]);
	for (size_t k = 0; k < n_pmods; k++)
		free(pmods[k]);
	for (size_t i = 0; i < n_pinned; i++)
		free(pinned[i].mods);
	free(pmods);
	free(mods);
	free(ids);
	free(pinned);
	machine_free(m);
	return r;
}

/* One rule per mapped USB device: by vendor and product where the map gives both. */
static char *usb_rules(const struct hostconf *s)
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

static char *users_list(const struct hostconf *s)
{
	char *list = xstrdup("");

	for (size_t i = 0; i < s->c->host.n_users; i++) {
		char *next = xasprintf("%s%s%s", list, i ? " " : "", s->c->host.users[i]);

		free(list);
		list = next;
	}
	return list;
}

static void want_users(struct hostconf *s)
{
	const struct host *h = &s->c->host;
	_cleanup_free_ char *usb = NULL, *users = NULL;
	char *limits;

	if (!h->n_users)
		return;
	users = users_list(s);
	usb = usb_rules(s);
	want_add(s, HOSTCONF_UDEV,
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
	want_add(s, HOSTCONF_LIMITS, limits);
}

int hostconf_build(struct hostconf *s)
{
	int r;

	want_add(s, HOSTCONF_MODULES, xstrdup("vfio_pci\nvfio_iommu_type1\n"));
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

void hostconf_clear(struct hostconf *s)
{
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i].text);
	for (size_t i = 0; i < s->n_members; i++)
		free(s->members[i]);
	free(s->files);
	free(s->members);
	free(s->boot_cmd);
	free(s->params);
	s->params = NULL;
	s->files = NULL;
	s->members = NULL;
	s->boot_cmd = NULL;
	s->n_files = s->n_members = 0;
}

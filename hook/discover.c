/* SPDX-License-Identifier: MIT */
/*
 * What the machine has: every PCI function from libudev, its names from the udev hwdb (the
 * same database systemd and lspci's sources share), its IOMMU group and its driver.
 */
#define _GNU_SOURCE
#include "discover.h"

#include "child.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define IOMMU_GROUPS_DIR "/sys/kernel/iommu_groups"

static void udev_unrefp(struct udev **u) { if (*u) udev_unref(*u); }
static void udev_enumerate_unrefp(struct udev_enumerate **e) { if (*e) udev_enumerate_unref(*e); }
static void udev_hwdb_unrefp(struct udev_hwdb **h) { if (*h) udev_hwdb_unref(*h); }

/*
 * An attribute of the function whose directory DIR is, read as the kernel gives it. Not through
 * a second udev_device per function: libudev resolves every path component again to make one,
 * which cost more than everything else a listing does.
 */
static const char *attr_at(int dir, const char *name, char *buf, size_t n)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return NULL;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len <= 0)
		return NULL;
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static unsigned long attr_hex(int dir, const char *name, bool *ok)
{
	char buf[64];
	const char *v = attr_at(dir, name, buf, sizeof(buf));
	char *end;
	unsigned long r;

	if (!v) {
		*ok = false;
		return 0;
	}
	errno = 0;
	r = strtoul(v, &end, 16);
	if (errno || end == v)
		*ok = false;
	return r;
}

/* The header type the class code implies, for when config space cannot be read. */
static enum header_type header_from_class(uint32_t class)
{
	if ((class >> 8) == 0x0604 || (class >> 8) == 0x0609)
		return HDR_BRIDGE;
	if ((class >> 8) == 0x0607)
		return HDR_CARDBUS;
	return HDR_ENDPOINT;
}

/*
 * driver_override and config are served under the kernel's device lock, which a driver
 * operation holds for as long as it runs: an unbind waiting in vfio-pci's remove() for QEMU
 * to let go holds it for good, and a read of either then blocks uninterruptibly. So they are
 * read in a child, one function after the other, each answered by one line
 * "INDEX HEADER-TYPE|-1 DRIVER_OVERRIDE"; a function that does not answer in time is stuck,
 * and a fresh child goes on with the next one.
 */
#define LOCKED_READ_MS 2000

/* The map's timeout, when there is one: a slow driver operation is not a stuck one. */
static long locked_read_ms = LOCKED_READ_MS;

void machine_set_read_deadline(long ms)
{
	locked_read_ms = ms > 0 ? ms : LOCKED_READ_MS;
}

struct locked_read {
	struct machine *m;
	size_t start; /* the child begins here */
	size_t next;  /* the parent: the first function not answered yet */
};

static ssize_t read_attr(const char *syspath, const char *name, void *buf, size_t n)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", syspath, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n);
	close(fd);
	return r;
}

static int read_locked_attrs(const void *p, FILE *out)
{
	const struct locked_read *lr = p;

	for (size_t i = lr->start; i < lr->m->n_funcs; i++) {
		const char *sp = lr->m->funcs[i].syspath;
		unsigned char cfg[64];
		char ovr[256];
		ssize_t n = read_attr(sp, "config", cfg, sizeof(cfg));
		int hdr = n > 0x0e ? cfg[0x0e] & 0x7f : -1;

		n = read_attr(sp, "driver_override", ovr, sizeof(ovr) - 1);
		ovr[n > 0 ? n : 0] = '\0';
		ovr[strcspn(ovr, "\n")] = '\0';
		fprintf(out, "%zu %d %s\n", i, hdr, ovr);
	}
	return 0;
}

static void take_locked_line(void *ctx, char *line)
{
	struct locked_read *lr = ctx;
	struct pci_func *f;
	char *ovr;
	size_t i;
	int hdr, pos = 0;

	if (sscanf(line, "%zu %d %n", &i, &hdr, &pos) < 2 || !pos || i < lr->next || i >= lr->m->n_funcs)
		return;
	f = &lr->m->funcs[i];
	if (hdr >= 0)
		f->header = (enum header_type)hdr;
	ovr = strip(line + pos);
	if (*ovr && !streq(ovr, "(null)"))
		f->driver_override = xstrdup(ovr);
	lr->next = i + 1;
}

static int read_locked(struct machine *m)
{
	struct locked_read lr = { .m = m };

	while (lr.next < m->n_funcs) {
		char a[PCI_ADDR_LEN];
		int r;

		lr.start = lr.next;
		r = child_stream(read_locked_attrs, &lr, locked_read_ms, take_locked_line, &lr);
		if (r == 0 && lr.next == m->n_funcs)
			break;
		if (r < 0 && r != -ETIMEDOUT && lr.next == lr.start) {
			errno = -r;
			log_error("cannot read the attributes of PCI devices: %m");
			return r;
		}
		if (lr.next == m->n_funcs)
			break;
		/*
		 * The child stopped at this function: stuck if it timed out. Unreadable otherwise, and
		 * just as busy: its driver_override is unknown, and an empty one must not be recorded.
		 */
		pci_addr_format(&m->funcs[lr.next].addr, a, sizeof(a));
		m->funcs[lr.next].stuck = true;
		log_msg(LOG_NOTICE,
			"a driver operation on %s is stuck in the kernel: reading its driver_override and config %s (see dmesg)", a,
			r == -ETIMEDOUT ? "did not finish in time" : "failed");
		lr.next++;
	}
	return 0;
}

/* Group of every function, from the kernel's own listing: iommu_groups/N/devices/ADDR. */
static void read_iommu_groups(struct machine *m)
{
	DIR *dir = opendir(IOMMU_GROUPS_DIR);
	const struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		_cleanup_free_ char *path = NULL;
		const struct dirent *fe;
		struct pci_func *f;
		DIR *fdir;
		char *end;
		long g;

		if (de->d_name[0] == '.')
			continue;
		m->n_groups++;
		g = strtol(de->d_name, &end, 10);
		if (*end || g < 0 || g > INT_MAX)
			continue;
		path = xasprintf(IOMMU_GROUPS_DIR "/%s/devices", de->d_name);
		fdir = opendir(path);
		if (!fdir)
			continue;
		while ((fe = readdir(fdir))) {
			struct pci_addr a;

			if (pci_addr_parse(fe->d_name, &a) < 0)
				continue;
			f = (struct pci_func *)machine_find(m, &a);
			if (f)
				f->iommu_group = (int)g;
		}
		closedir(fdir);
	}
	closedir(dir);
}

char *hwdb_get(struct udev_hwdb *hwdb, const char *modalias, const char *key)
{
	struct udev_list_entry *e;

	if (!hwdb)
		return NULL;
	udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(hwdb, modalias, 0))
		if (streq(udev_list_entry_get_name(e), key))
			return xstrdup(udev_list_entry_get_value(e));
	return NULL;
}

/* Two keys of one modalias, in one lookup. */
static void hwdb_pair(struct udev_hwdb *hwdb, const char *modalias, const char *k1, char **v1, const char *k2, char **v2)
{
	struct udev_list_entry *e;

	*v1 = *v2 = NULL;
	if (!hwdb)
		return;
	udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(hwdb, modalias, 0)) {
		const char *name = udev_list_entry_get_name(e);

		if (!*v1 && streq(name, k1))
			*v1 = xstrdup(udev_list_entry_get_value(e));
		else if (!*v2 && streq(name, k2))
			*v2 = xstrdup(udev_list_entry_get_value(e));
	}
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/*
 * hwdb lookups are most of what listing costs (globbing through the class patterns), and a
 * big machine repeats a few kinds of function many times (ports, virtual functions): a
 * function with the same IDs as one already read takes that one's names.
 */
static void lookup_names(struct udev_hwdb *hwdb, const struct pci_func *done, size_t n_done, struct pci_func *f)
{
	_cleanup_free_ char *dev = NULL, *cls = NULL;
	bool have_dev = false, have_cls = false;

	for (size_t i = n_done; i-- > 0 && !(have_dev && have_cls);) {
		const struct pci_func *o = &done[i];

		if (!have_dev && o->vendor == f->vendor && o->device == f->device) {
			f->vendor_name = xstrdup_or_null(o->vendor_name);
			f->device_name = xstrdup_or_null(o->device_name);
			have_dev = true;
		}
		if (!have_cls && o->vendor == f->vendor && o->device == f->device && o->sub_vendor == f->sub_vendor &&
		    o->sub_device == f->sub_device && o->class == f->class) {
			f->class_name = xstrdup_or_null(o->class_name);
			f->subclass_name = xstrdup_or_null(o->subclass_name);
			have_cls = true;
		}
	}
	/* The short alias: the full one also matches subsystem entries, whose model names differ. */
	if (!have_dev) {
		dev = xasprintf("pci:v%08Xd%08X", f->vendor, f->device);
		hwdb_pair(hwdb, dev, "ID_VENDOR_FROM_DATABASE", &f->vendor_name, "ID_MODEL_FROM_DATABASE", &f->device_name);
	}
	if (!have_cls) {
		cls = xasprintf("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", f->vendor, f->device, f->sub_vendor,
				f->sub_device, f->class >> 16, (f->class >> 8) & 0xff, f->class & 0xff);
		hwdb_pair(hwdb, cls, "ID_PCI_CLASS_FROM_DATABASE", &f->class_name, "ID_PCI_SUBCLASS_FROM_DATABASE",
			  &f->subclass_name);
	}
}

/* The driver bound: the last component of the "driver" link, NULL when there is none. */
static char *driver_at(int dir)
{
	char link[PATH_MAX];
	ssize_t n = readlinkat(dir, "driver", link, sizeof(link) - 1);
	const char *base;

	if (n <= 0)
		return NULL;
	link[n] = '\0';
	base = strrchr(link, '/');
	return xstrdup(base ? base + 1 : link);
}

static int read_func(const char *syspath, struct udev_hwdb *hwdb, const struct machine *m, struct pci_func *f)
{
	const char *sysname = strrchr(syspath, '/');
	char bv[8];
	bool ok = true;
	int dir;

	if (!sysname || pci_addr_parse(sysname + 1, &f->addr) < 0)
		return -EINVAL;
	dir = open(syspath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -EIO; /* gone while we looked */
	f->vendor = (uint16_t)attr_hex(dir, "vendor", &ok);
	f->device = (uint16_t)attr_hex(dir, "device", &ok);
	f->class = (uint32_t)attr_hex(dir, "class", &ok);
	if (!ok) {
		close(dir);
		return -EIO; /* gone while we looked, or not a function */
	}
	f->sub_vendor = (uint16_t)attr_hex(dir, "subsystem_vendor", &ok);
	f->sub_device = (uint16_t)attr_hex(dir, "subsystem_device", &ok);
	ok = true;
	f->revision = (uint8_t)attr_hex(dir, "revision", &ok);
	f->syspath = xstrdup(syspath);
	f->header = header_from_class(f->class); /* config space, read under a deadline, tells */
	f->driver = driver_at(dir);
	f->iommu_group = -1;
	f->boot_vga = attr_at(dir, "boot_vga", bv, sizeof(bv)) ? (bv[0] == '1') : -1;
	close(dir);
	lookup_names(hwdb, m->funcs, m->n_funcs, f);
	return 0;
}

static int cmp_func(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct pci_func *)a)->addr, &((const struct pci_func *)b)->addr);
}

/* The CPU's vendor, and whether it is a virtual one (the "hypervisor" flag: this system is a VM). */
static void read_cpu(struct machine *m)
{
	_cleanup_free_ char *info = read_file("/proc/cpuinfo");
	char *line, *save = NULL;
	bool flags = false;

	for (line = info ? strtok_r(info, "\n", &save) : NULL; line && !(m->cpu_vendor && flags);
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		if (!m->cpu_vendor && startswith(line, "vendor_id"))
			m->cpu_vendor = xstrdup(strip(colon + 1));
		if (!flags && startswith(line, "flags")) {
			char *save2 = NULL;

			flags = true;
			for (char *w = strtok_r(colon + 1, " \t", &save2); w; w = strtok_r(NULL, " \t", &save2))
				m->hypervisor |= streq(w, "hypervisor");
		}
	}
}

int machine_discover(struct machine **ret)
{
	_cleanup_(udev_unrefp) struct udev *udev = udev_new();
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *en = NULL;
	_cleanup_(udev_hwdb_unrefp) struct udev_hwdb *hwdb = NULL;
	struct udev_list_entry *e;
	struct machine *m;
	int r;

	if (!udev) {
		log_error("cannot use libudev: %m");
		return -ENOMEM;
	}
	en = udev_enumerate_new(udev);
	if (!en || udev_enumerate_add_match_subsystem(en, "pci") < 0) {
		log_error("cannot enumerate PCI devices with libudev: %m");
		return -ENOMEM;
	}
	r = udev_enumerate_scan_devices(en);
	if (r < 0) {
		errno = -r;
		log_error("cannot list PCI devices in /sys/bus/pci: %m (is /sys mounted?)");
		return r;
	}
	/* No hwdb (minimal containers) only costs names: lspci-style fallbacks cover that. */
	hwdb = udev_hwdb_new(udev);

	m = xcalloc(1, sizeof(*m));
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
		struct pci_func f = { 0 };

		if (read_func(udev_list_entry_get_name(e), hwdb, m, &f) == 0)
			*(struct pci_func *)array_push(&m->funcs, &m->n_funcs, sizeof(f)) = f;
	}
	/* A machine without PCI devices (a build sandbox: setup under Nix) has no array at all. */
	if (m->n_funcs)
		qsort(m->funcs, m->n_funcs, sizeof(*m->funcs), cmp_func);
	r = read_locked(m);
	if (r < 0) {
		machine_free(m);
		return r;
	}
	read_iommu_groups(m);
	read_cpu(m);
	*ret = m;
	return 0;
}

void machine_free(struct machine *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_funcs; i++) {
		struct pci_func *f = &m->funcs[i];

		free(f->syspath);
		free(f->driver);
		free(f->driver_override);
		free(f->vendor_name);
		free(f->device_name);
		free(f->class_name);
		free(f->subclass_name);
	}
	free(m->funcs);
	free(m->cpu_vendor);
	free(m);
}

const struct pci_func *machine_find(const struct machine *m, const struct pci_addr *a)
{
	const struct pci_func key = { .addr = *a };

	/* Sorted by address (machine_discover): a lookup per function stays cheap on big machines. */
	return m->n_funcs ? bsearch(&key, m->funcs, m->n_funcs, sizeof(*m->funcs), cmp_func) : NULL;
}

bool pci_func_is_bridge(const struct pci_func *f)
{
	return f->header == HDR_BRIDGE || f->header == HDR_CARDBUS;
}

/* Mirrors pciutils' show_terse() with -nn: names, then numbers in brackets. */
void pci_func_lspci(const struct pci_func *f, char *buf, size_t n)
{
	const char *cls = f->subclass_name ? f->subclass_name : f->class_name ? f->class_name : "Class";
	char slot[PCI_ADDR_LEN];
	char dev[512];
	char rev[16] = "";

	if (f->addr.domain)
		pci_addr_format(&f->addr, slot, sizeof(slot));
	else
		snprintf(slot, sizeof(slot), "%02x:%02x.%x", f->addr.bus, f->addr.slot, f->addr.func);
	if (f->vendor_name && f->device_name)
		snprintf(dev, sizeof(dev), "%s %s", f->vendor_name, f->device_name);
	else if (f->vendor_name)
		snprintf(dev, sizeof(dev), "%s Device", f->vendor_name);
	else
		snprintf(dev, sizeof(dev), "Device");
	if (f->revision)
		snprintf(rev, sizeof(rev), " (rev %02x)", f->revision);
	snprintf(buf, n, "%s %s [%04x]: %s [%04x:%04x]%s", slot, cls, f->class >> 8, dev, f->vendor, f->device, rev);
}

const char *pci_func_name(const struct pci_func *f)
{
	if (f->device_name)
		return f->device_name;
	if (f->subclass_name)
		return f->subclass_name;
	if (f->class_name)
		return f->class_name;
	return "unknown device";
}

const char *machine_iommu_off_hint(const struct machine *m)
{
	const char *v = m->cpu_vendor ? m->cpu_vendor : "";

	/* Inside a VM there is no firmware setting to turn on: the hypervisor gives an IOMMU, or none. */
	if (m->hypervisor)
		return "the IOMMU is off: " IOMMU_GROUPS_DIR " is empty (this system is a virtual machine: its hypervisor must "
		       "give it a virtual IOMMU — QEMU: -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; "
		       "libvirt: <iommu model='intel'/> in the VM's <devices> — and on Intel this kernel needs intel_iommu=on)";

	if (streq(v, "AuthenticAMD") || streq(v, "HygonGenuine"))
		return "the IOMMU is off: " IOMMU_GROUPS_DIR " is empty (AMD CPU: the IOMMU is on by default in Linux, so "
		       "enable it in the firmware setup — AMD-Vi/IOMMU/SVM — and reboot; amd_iommu=on is not a valid value)";
	if (streq(v, "GenuineIntel"))
		return "the IOMMU is off: " IOMMU_GROUPS_DIR " is empty (Intel CPU: enable VT-d in the firmware setup, "
		       "add intel_iommu=on to the kernel command line and reboot)";
	return "the IOMMU is off: " IOMMU_GROUPS_DIR " is empty (enable the IOMMU in the firmware setup; on Intel "
	       "also add intel_iommu=on to the kernel command line; then reboot)";
}

/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor: checks, one by one, what a host needs before passthrough can work (the
 * firmware, the kernel, libvirt, the map, each mapped device), and says for each what to do.
 * It only reads. /sys, /dev and /proc/cpuinfo are read as they are (the test suite fakes them
 * with umockdev); every other file of the system is read through sys_path(), which the test
 * suite points at a directory of its own.
 */
#define _GNU_SOURCE
#include "doctor.h"

#include "accounts.h"
#include "config.h"
#include "discover.h"
#include "dl.h"
#include "domxml.h"
#include "log.h"
#include "plan.h"
#include "resolve.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/utsname.h>
#include <unistd.h>

enum status { ST_PASS, ST_WARN, ST_FAIL, ST_SKIP };
static const char *const status_names[] = { "PASS", "WARN", "FAIL", "SKIP" };

struct check {
	const char *group;
	enum status status;
	char *what;
	char *fix; /* NULL: nothing to do */
};

struct doctor {
	struct check *checks;
	size_t n;
	const char *group; /* the heading new checks go under */
	const char *root;  /* prefix of every path read through sys_path(): "" on a real host */
	struct machine *m; /* NULL when PCI devices could not be listed */
	struct config *c;  /* NULL when there is no usable map */
	char *cmdline;     /* the kernel command line, NULL when unreadable */
	char *release;     /* the running kernel's release */
};

static void report(struct doctor *d, enum status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(struct doctor *d, enum status st, const char *fix, const char *fmt, ...)
{
	struct check *c = array_push(&d->checks, &d->n, sizeof(*c));
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&c->what, fmt, ap) < 0)
		c->what = xstrdup("out of memory");
	va_end(ap);
	c->group = d->group;
	c->status = st;
	c->fix = fix ? xstrdup(fix) : NULL;
}

static char *sys_path(const struct doctor *d, const char *path)
{
	return xasprintf("%s%s", d->root, path);
}

static bool sys_exists(const struct doctor *d, const char *path)
{
	_cleanup_free_ char *p = sys_path(d, path);

	return access(p, F_OK) == 0;
}

static char *sys_read(const struct doctor *d, const char *path)
{
	_cleanup_free_ char *p = sys_path(d, path);

	return read_file(p);
}

/* Is WORD one of the whitespace-separated words of S? */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s ? strstr(s, word) : NULL; p; p = strstr(p + 1, word))
		if ((p == s || isspace((unsigned char)p[-1])) && (!p[n] || isspace((unsigned char)p[n])))
			return true;
	return false;
}

/*
 * The value of KEY= on the kernel command line, as an item of its comma list: 1 when ITEM is
 * in it, 0 when KEY is there without ITEM, -1 when KEY is absent. The last KEY= wins.
 */
static int cmdline_item(const char *cmdline, const char *key, const char *item)
{
	_cleanup_free_ char *copy = xstrdup(cmdline ? cmdline : "");
	char *tok, *save = NULL;
	int r = -1;

	for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		char *val, *it, *save2 = NULL;

		if (!startswith(tok, key) || tok[strlen(key)] != '=')
			continue;
		val = tok + strlen(key) + 1;
		r = 0;
		for (it = strtok_r(val, ",", &save2); it; it = strtok_r(NULL, ",", &save2))
			if (streq(it, item))
				r = 1;
	}
	return r;
}

static bool cpu_is_intel(const struct doctor *d)
{
	return d->m && streq(d->m->cpu_vendor, "GenuineIntel");
}

static bool cpu_is_amd(const struct doctor *d)
{
	return d->m && (streq(d->m->cpu_vendor, "AuthenticAMD") || streq(d->m->cpu_vendor, "HygonGenuine"));
}

#define GRUB_HOW "(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
#define AMD_FIRMWARE "enable AMD-Vi (IOMMU, sometimes under \"AMD CBS\" or \"NBIO\") in the firmware setup and reboot"
#define INTEL_FIRMWARE "enable VT-d in the firmware setup and reboot"

/* ---- CPU and firmware ---- */

static void check_cpu_flags(struct doctor *d)
{
	_cleanup_free_ char *info = read_file("/proc/cpuinfo");
	char *line, *save = NULL;
	const char *flags = NULL;

	for (line = info ? strtok_r(info, "\n", &save) : NULL; line && !flags; line = strtok_r(NULL, "\n", &save))
		if (startswith(line, "flags") && strchr(line, ':'))
			flags = strchr(line, ':') + 1;
	if (!info) {
		report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/cpuinfo: %m");
		return;
	}
	if (has_word(flags, "vmx"))
		report(d, ST_PASS, NULL, "CPU virtualization: vmx (Intel VT-x)");
	else if (has_word(flags, "svm"))
		report(d, ST_PASS, NULL, "CPU virtualization: svm (AMD-V)");
	else
		report(d, ST_FAIL,
		       "enable Intel VT-x or AMD-V (SVM) in the firmware setup and reboot (inside a VM: enable nested virtualization)",
		       "the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo");
}

static void check_kvm(struct doctor *d)
{
	if (access("/dev/kvm", F_OK) < 0)
		report(d, ST_FAIL,
		       cpu_is_amd(d) ? "modprobe kvm_amd; if it fails, enable SVM in the firmware setup"
				     : "modprobe kvm_intel; if it fails, enable VT-x in the firmware setup",
		       "/dev/kvm does not exist: KVM is not available");
	else if (access("/dev/kvm", R_OK | W_OK) < 0)
		report(d, ST_WARN,
		       "only matters for qemu:///session: add yourself to group kvm (usermod -a -G kvm $USER) and log in again",
		       "/dev/kvm exists but this user cannot open it");
	else
		report(d, ST_PASS, NULL, "/dev/kvm is usable");
}

static void check_acpi(struct doctor *d)
{
	bool dmar = sys_exists(d, "/sys/firmware/acpi/tables/DMAR");
	bool ivrs = sys_exists(d, "/sys/firmware/acpi/tables/IVRS");

	if (cpu_is_intel(d) && !dmar)
		report(d, ST_FAIL, INTEL_FIRMWARE,
		       "the firmware has no ACPI DMAR table (/sys/firmware/acpi/tables/DMAR): VT-d is off or missing");
	else if (cpu_is_amd(d) && !ivrs)
		report(d, ST_FAIL, AMD_FIRMWARE,
		       "the firmware has no ACPI IVRS table (/sys/firmware/acpi/tables/IVRS): AMD-Vi is off or missing");
	else if (dmar || ivrs)
		report(d, ST_PASS, NULL, "the firmware describes its IOMMU (ACPI %s table)", dmar ? "DMAR" : "IVRS");
	else
		report(d, ST_WARN, "enable the IOMMU (VT-d, AMD-Vi) in the firmware setup",
		       "no ACPI DMAR or IVRS table, and the CPU vendor is unknown");
}

/* ---- Kernel ---- */

/*
 * A gzip file's text: libxml2 reads gzip through its own I/O layer (zlib), so /proc/config.gz
 * needs no other library. NULL when unreadable; a libxml2 without zlib hands back the
 * compressed bytes, which the caller does not recognise as a config.
 */
static char *read_gz(const char *path)
{
	xmlParserInputBufferPtr in;
	char *text;

	if (dlopen_libxml2() < 0)
		return NULL;
	in = sym_xmlParserInputBufferCreateFilename(path, XML_CHAR_ENCODING_NONE);
	if (!in)
		return NULL;
	while (sym_xmlParserInputBufferRead(in, 64 * 1024) > 0)
		;
	text = sym_xmlBufUse(in->buffer) ? xstrdup((const char *)sym_xmlBufContent(in->buffer)) : NULL;
	sym_xmlFreeParserInputBuffer(in);
	return text;
}

/* The running kernel's config: /boot/config-RELEASE, else /proc/config.gz; NULL if neither. */
static char *kernel_config(const struct doctor *d)
{
	_cleanup_free_ char *name = xasprintf("/boot/config-%s", d->release);
	_cleanup_free_ char *gz = sys_path(d, "/proc/config.gz");
	char *cfg = sys_read(d, name);

	if (!cfg)
		cfg = read_gz(gz);
	if (cfg && !strstr(cfg, "CONFIG_")) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

/* The config options that turn the Intel IOMMU on without intel_iommu=on. Debian 12's kernel
 * has the second: on for everything but integrated graphics, which is on for passthrough. */
static const char *const intel_on_options[] = { "CONFIG_INTEL_IOMMU_DEFAULT_ON=y",
						"CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y" };

/* Does this kernel turn the Intel IOMMU on by itself? 1 (and the option in *option), 0, or -1:
 * its config is not readable. */
static int intel_default_on(const struct doctor *d, const char **option)
{
	_cleanup_free_ char *cfg = kernel_config(d);

	if (!cfg)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(intel_on_options); i++) {
		_cleanup_free_ char *line = xasprintf("\n%s\n", intel_on_options[i]);

		if (startswith(cfg, line + 1) || strstr(cfg, line)) {
			if (option)
				*option = intel_on_options[i];
			return 1;
		}
	}
	return 0;
}

static void check_cmdline_intel(struct doctor *d)
{
	int on = cmdline_item(d->cmdline, "intel_iommu", "on");
	const char *option = NULL;
	int dflt;

	if (on == 1) {
		report(d, ST_PASS, NULL, "the kernel command line has intel_iommu=on");
		return;
	}
	if (cmdline_item(d->cmdline, "intel_iommu", "off") == 1) {
		report(d, ST_FAIL, "replace intel_iommu=off with intel_iommu=on on the kernel command line " GRUB_HOW,
		       "the kernel command line has intel_iommu=off");
		return;
	}
	dflt = intel_default_on(d, &option);
	if (dflt == 1)
		report(d, ST_PASS, NULL, "intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (%s)",
		       option);
	else if (d->m && d->m->n_groups > 0)
		report(d, ST_PASS, NULL, "the kernel command line has no intel_iommu=on, but the IOMMU is on");
	else
		report(d, ST_FAIL, "add intel_iommu=on to the kernel command line " GRUB_HOW,
		       "the kernel command line has no intel_iommu=on and %s", dflt == 0
			       ? "this kernel does not turn the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)"
			       : "this kernel's config (/boot/config-RELEASE, /proc/config.gz) is not readable to tell whether it is on by default");
}

static void check_cmdline_amd(struct doctor *d)
{
	bool groups = d->m && d->m->n_groups > 0;

	if (cmdline_item(d->cmdline, "amd_iommu", "off") == 1) {
		report(d, ST_FAIL, "remove amd_iommu=off from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=off");
		return;
	}
	if (cmdline_item(d->cmdline, "amd_iommu", "on") != 1) {
		report(d, ST_PASS, NULL, "kernel command line: nothing needed on AMD (the IOMMU is on by default)");
		return;
	}
	if (groups)
		report(d, ST_WARN, "remove amd_iommu=on from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=on, which is not a valid value (the kernel ignores it)");
	else
		report(d, ST_FAIL,
		       "enable AMD-Vi (IOMMU) in the firmware setup, remove amd_iommu=on from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=on, which is not a valid value and does not turn the IOMMU on");
}

/* What turns the IOMMU on, on a machine where it is off: the firmware, the command line, or both. */
static const char *iommu_off_fix(const struct doctor *d)
{
	bool cmdline = cmdline_item(d->cmdline, "intel_iommu", "on") != 1 && intel_default_on(d, NULL) != 1;

	if (cpu_is_amd(d))
		return AMD_FIRMWARE;
	if (!cpu_is_intel(d))
		return "enable the IOMMU (VT-d, AMD-Vi) in the firmware setup and reboot";
	/* Even a kernel that turns it on by default obeys intel_iommu=off. */
	if (cmdline_item(d->cmdline, "intel_iommu", "off") == 1)
		return sys_exists(d, "/sys/firmware/acpi/tables/DMAR")
			       ? "replace intel_iommu=off with intel_iommu=on on the kernel command line " GRUB_HOW
			       : "enable VT-d in the firmware setup, replace intel_iommu=off with intel_iommu=on on the kernel command line " GRUB_HOW;
	if (!sys_exists(d, "/sys/firmware/acpi/tables/DMAR"))
		return cmdline ? "enable VT-d in the firmware setup, add intel_iommu=on to the kernel command line " GRUB_HOW
			       : INTEL_FIRMWARE;
	return cmdline ? "add intel_iommu=on to the kernel command line " GRUB_HOW
		       : "check dmesg for DMAR errors: the firmware has VT-d on and the kernel was asked to use it";
}

static void check_iommu(struct doctor *d)
{
	if (!d->m)
		return;
	if (d->m->n_groups > 0)
		report(d, ST_PASS, NULL, "the IOMMU is on: %zu IOMMU groups", d->m->n_groups);
	else
		report(d, ST_FAIL, iommu_off_fix(d), "the IOMMU is off: /sys/kernel/iommu_groups is empty");
	if (!d->cmdline) {
		report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/cmdline");
		return;
	}
	if (cmdline_item(d->cmdline, "iommu", "off") == 1)
		report(d, ST_FAIL, "remove iommu=off from the kernel command line " GRUB_HOW,
		       "the kernel command line has iommu=off");
	if (cpu_is_intel(d))
		check_cmdline_intel(d);
	else if (cpu_is_amd(d))
		check_cmdline_amd(d);
	if (cmdline_item(d->cmdline, "iommu", "pt") == 1)
		report(d, ST_PASS, NULL, "the kernel command line has iommu=pt");
	else
		report(d, ST_WARN, "add iommu=pt to the kernel command line " GRUB_HOW,
		       "the kernel command line has no iommu=pt (the host's own devices then skip IOMMU translation)");
}

static void check_interrupt_remapping(struct doctor *d)
{
	_cleanup_free_ char *irq = sys_read(d, "/proc/interrupts");

	if (!irq)
		report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/interrupts");
	else if (strstr(irq, "IR-PCI-MSI") || strstr(irq, "IR-IO-APIC"))
		report(d, ST_PASS, NULL, "interrupt remapping is on (IR- interrupts in /proc/interrupts)");
	else
		report(d, ST_WARN,
		       "enable interrupt remapping (VT-d/AMD-Vi with x2APIC) in the firmware setup; else vfio needs "
		       "\"options vfio_iommu_type1 allow_unsafe_interrupts=1\" in /etc/modprobe.d/ (unsafe)",
		       "interrupt remapping looks off (no IR-PCI-MSI in /proc/interrupts)");
}

/* kernel/drivers/vfio/pci/vfio-pci.ko.zst → vfio_pci */
static void module_name(const char *path, char *buf, size_t n)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t i;

	for (i = 0; i + 1 < n && base[i] && base[i] != '.'; i++)
		buf[i] = (char)(base[i] == '-' ? '_' : base[i]);
	buf[i] = '\0';
}

/* Is module NAME listed in FILE (modules.dep or modules.builtin) of the running kernel? */
static bool module_listed(const struct doctor *d, const char *file, const char *name)
{
	_cleanup_free_ char *path = xasprintf("/lib/modules/%s/%s", d->release, file);
	_cleanup_free_ char *text = sys_read(d, path);
	char *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char mod[64];

		line[strcspn(line, ":")] = '\0';
		module_name(line, mod, sizeof(mod));
		if (streq(mod, name))
			return true;
	}
	return false;
}

static void check_module(struct doctor *d, const char *name)
{
	_cleanup_free_ char *sysmod = xasprintf("/sys/module/%s", name);
	_cleanup_free_ char *fix = NULL;

	if (module_listed(d, "modules.builtin", name)) {
		report(d, ST_PASS, NULL, "%s is built into the kernel", name);
		return;
	}
	if (access(sysmod, F_OK) == 0) {
		report(d, ST_PASS, NULL, "%s is loaded", name);
		return;
	}
	if (module_listed(d, "modules.dep", name)) {
		fix = xasprintf("modprobe %s (the hook loads vfio-pci when it needs it; to load it at boot: "
				"echo %s >> /etc/modules-load.d/vfio.conf)", name, name);
		report(d, ST_WARN, fix, "%s is available but not loaded", name);
		return;
	}
	fix = xasprintf("install the modules package of kernel %s, or use a kernel built with CONFIG_VFIO_PCI", d->release);
	report(d, ST_FAIL, fix, "%s is not available for kernel %s (not in modules.dep nor modules.builtin)", name,
	       d->release);
}

/* ---- libvirt ---- */

/* Is the program at PATH this vfio-hook, or a script that runs it? */
static bool is_vfio_hook(const char *path)
{
	_cleanup_free_ char *data = NULL;
	char real[PATH_MAX];
	const char *base;

	struct stat st;

	/* Regular files only: reading a FIFO someone left there would block. */
	if (!realpath(path, real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (streq(base, "vfio-hook"))
		return true;
	data = read_file(real);
	return data && strstr(data, "vfio-hook");
}

/* The hook vfio-hook is installed as in DIR (DIR/qemu or DIR/qemu.d/NAME), or NULL. */
static char *find_hook(const char *dir)
{
	_cleanup_free_ char *qemu = xasprintf("%s/qemu", dir);
	_cleanup_free_ char *qemud = xasprintf("%s/qemu.d", dir);
	DIR *dd;
	const struct dirent *e;
	char *found = NULL;

	if (is_vfio_hook(qemu))
		return xstrdup(qemu);
	dd = opendir(qemud);
	while (dd && !found && (e = readdir(dd))) {
		_cleanup_free_ char *p = xasprintf("%s/%s", qemud, e->d_name);

		if (e->d_name[0] != '.' && is_vfio_hook(p))
			found = xstrdup(p);
	}
	if (dd)
		closedir(dd);
	return found;
}

/* A running libvirtd or virtqemud: its pid, name and start time (seconds since the epoch). */
struct daemon {
	long pid;
	char name[16];
	double started;
};

static double boot_time(const struct doctor *d)
{
	_cleanup_free_ char *st = sys_read(d, "/proc/stat");
	const char *p = st ? strstr(st, "\nbtime ") : NULL;

	return p ? strtod(p + 7, NULL) : -1;
}

/* Field 22 of /proc/PID/stat: when it started, in clock ticks after boot. */
static double proc_start(const struct doctor *d, const char *pid, double btime)
{
	_cleanup_free_ char *path = xasprintf("/proc/%s/stat", pid);
	_cleanup_free_ char *st = sys_read(d, path);
	const char *p = st ? strrchr(st, ')') : NULL;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);

	/* After "(comm)": state is field 3, starttime field 22. */
	if (!p || btime < 0 || hz <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &ticks) != 1)
		return -1;
	return btime + (double)ticks / (double)hz;
}

static bool find_daemon(const struct doctor *d, struct daemon *ret)
{
	_cleanup_free_ char *procdir = sys_path(d, "/proc");
	double btime = boot_time(d);
	DIR *dd = opendir(procdir);
	const struct dirent *e;
	bool found = false;

	while (dd && !found && (e = readdir(dd))) {
		_cleanup_free_ char *cpath = NULL, *comm = NULL;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		cpath = xasprintf("/proc/%s/comm", e->d_name);
		comm = sys_read(d, cpath);
		if (!comm || !(streq(strip(comm), "libvirtd") || streq(comm, "virtqemud")))
			continue;
		ret->pid = strtol(e->d_name, NULL, 10);
		snprintf(ret->name, sizeof(ret->name), "%s", comm);
		ret->started = proc_start(d, e->d_name, btime);
		found = true;
	}
	if (dd)
		closedir(dd);
	return found;
}

static void check_daemon(struct doctor *d, const char *hook)
{
	_cleanup_free_ char *fix = NULL;
	struct daemon dm = { 0 };
	struct stat st;

	if (!find_daemon(d, &dm)) {
		report(d, ST_WARN, "systemctl start libvirtd (or virtqemud, with the modular daemons)",
		       "neither libvirtd nor virtqemud is running");
		return;
	}
	if (!hook || lstat(hook, &st) < 0)
		return;
	fix = xasprintf("systemctl restart %s", dm.name);
	if (dm.started < 0)
		report(d, ST_SKIP, NULL, "cannot tell when %s (pid %ld) started", dm.name, dm.pid);
	else if ((double)st.st_mtime > dm.started)
		report(d, ST_WARN, fix,
		       "%s (pid %ld) started before the hook was installed: libvirt looks for hooks only when it starts, "
		       "so it may not run vfio-hook", dm.name, dm.pid);
	else
		report(d, ST_PASS, NULL, "%s (pid %ld) started after the hook was installed", dm.name, dm.pid);
}

static void check_hook(struct doctor *d)
{
	/* NixOS's libvirtd looks in /var/lib/libvirt/hooks: /etc is generated there. */
	const char *dir = sys_exists(d, "/etc/NIXOS") ? "/var/lib/libvirt/hooks" : "/etc/libvirt/hooks";
	_cleanup_free_ char *rdir = sys_path(d, dir), *hook = NULL, *fix = NULL;
	const char *shown;
	struct stat st;

	if (access(rdir, R_OK | X_OK) < 0 && errno == EACCES) {
		report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)", "cannot read %s as this user", dir);
		return;
	}
	hook = find_hook(rdir);
	if (!hook) {
		fix = xasprintf("make install, or: ln -s /usr/local/sbin/vfio-hook %s/qemu (%s/qemu.d/vfio-hook when "
				"another hook is there); then restart libvirtd", dir, dir);
		report(d, ST_FAIL, fix, "vfio-hook is not installed as libvirt's QEMU hook (%s/qemu or %s/qemu.d/)", dir,
		       dir);
		check_daemon(d, NULL);
		return;
	}
	shown = hook + strlen(d->root);
	if (stat(hook, &st) < 0 || !(st.st_mode & S_IXUSR)) {
		fix = xasprintf("chmod 755 %s", shown);
		report(d, ST_FAIL, fix, "%s is vfio-hook but not executable: libvirt cannot run it", shown);
	} else {
		report(d, ST_PASS, NULL, "%s is vfio-hook, executable", shown);
	}
	check_daemon(d, hook);
}

static void check_ovmf(struct doctor *d)
{
	_cleanup_free_ char *dir = sys_path(d, "/usr/share/qemu/firmware");
	DIR *dd = opendir(dir);
	const struct dirent *e;
	size_t n = 0;

	while (dd && (e = readdir(dd))) {
		size_t len = strlen(e->d_name);

		n += len > 5 && streq(e->d_name + len - 5, ".json");
	}
	if (dd)
		closedir(dd);
	if (n)
		report(d, ST_PASS, NULL, "%zu firmware descriptor%s in /usr/share/qemu/firmware (OVMF)", n, n == 1 ? "" : "s");
	else
		report(d, ST_WARN,
		       "install OVMF: apt install ovmf (Debian, Ubuntu), dnf install edk2-ovmf (Fedora), pacman -S edk2-ovmf (Arch)",
		       "no UEFI firmware descriptors in /usr/share/qemu/firmware: GPU passthrough needs an OVMF guest");
}

/*
 * Fedora's policy runs libvirt's hooks confined unless virt_hooks_unconfined is on; confined,
 * the hook cannot rebind devices in /sys.
 */
static void check_selinux(struct doctor *d)
{
	_cleanup_free_ char *enforce = read_file("/sys/fs/selinux/enforce");
	_cleanup_free_ char *hooks = read_file("/sys/fs/selinux/booleans/virt_hooks_unconfined");

	if (!enforce || strip(enforce)[0] != '1' || !hooks)
		return;
	if (strip(hooks)[0] == '1')
		report(d, ST_PASS, NULL, "SELinux is enforcing and virt_hooks_unconfined is on");
	else
		report(d, ST_WARN, "setsebool -P virt_hooks_unconfined on",
		       "SELinux is enforcing and virt_hooks_unconfined is off: libvirt runs its hooks confined, "
		       "and a confined hook cannot move devices in /sys");
}

/* ---- The map ---- */

static void check_map(struct doctor *d, const char *cfg_path)
{
	const char *path = config_path(cfg_path);
	_cleanup_free_ char *fix = NULL;

	if (access(path, F_OK) < 0) {
		fix = xasprintf("cp etc/vfio-hook.ini %s, then describe your devices in it (see vfio-hook groups)", path);
		report(d, ST_WARN, fix, "no device map at %s", path);
		return;
	}
	if (access(path, R_OK) < 0 && errno == EACCES) {
		report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "cannot read %s as this user: the map and device checks need root", path);
		return;
	}
	if (config_load(path, &d->c) < 0) {
		report(d, ST_FAIL, "fix what the line above says", "%s is refused (parse error, owner or mode)", path);
		return;
	}
	report(d, ST_PASS, NULL, "%s parses (%zu VM%s) and only its owner can write it", path, d->c->n_vms,
	       d->c->n_vms == 1 ? "" : "s");
}

/* ---- Each mapped device ---- */

/* GPUs whose reset does not work without vendor-reset: Vega 10, Vega 20, Navi 10 (its device table). */
static const char *reset_bug(const struct pci_func *f)
{
	static const struct {
		uint16_t device;
		const char *family;
	} bugs[] = {
		{ 0x6860, "Vega 10" }, { 0x6861, "Vega 10" }, { 0x6862, "Vega 10" }, { 0x6863, "Vega 10" },
		{ 0x6864, "Vega 10" }, { 0x6867, "Vega 10" }, { 0x6868, "Vega 10" }, { 0x6869, "Vega 10" },
		{ 0x686a, "Vega 10" }, { 0x686b, "Vega 10" }, { 0x686c, "Vega 10" }, { 0x686d, "Vega 10" },
		{ 0x686e, "Vega 10" }, { 0x686f, "Vega 10" }, { 0x687f, "Vega 10" }, { 0x66a0, "Vega 20" },
		{ 0x66a1, "Vega 20" }, { 0x66a2, "Vega 20" }, { 0x66a3, "Vega 20" }, { 0x66a4, "Vega 20" },
		{ 0x66a7, "Vega 20" }, { 0x66af, "Vega 20" }, { 0x7310, "Navi 10" }, { 0x7312, "Navi 10" },
		{ 0x7318, "Navi 10" }, { 0x7319, "Navi 10" }, { 0x731a, "Navi 10" }, { 0x731b, "Navi 10" },
		{ 0x731e, "Navi 10" }, { 0x731f, "Navi 10" },
	};

	if (f->vendor != 0x1002)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bugs); i++)
		if (bugs[i].device == f->device)
			return bugs[i].family;
	return NULL;
}

static void check_reset(struct doctor *d, const struct pci_func *f, const char *a)
{
	_cleanup_free_ char *path = xasprintf("%s/reset_method", f->syspath);
	_cleanup_free_ char *rm = read_file(path);
	const char *family = reset_bug(f);
	_cleanup_free_ char *vr = xasprintf("install vendor-reset (https://github.com/gnif/vendor-reset) and load it at "
					    "boot; on kernels from 5.15 on also: echo device_specific > "
					    "/sys/bus/pci/devices/%s/reset_method", a);

	if (!rm)
		report(d, ST_WARN, "check dmesg for reset errors after a VM stops; a kernel from 5.15 on tells",
		       "%s (%s): the kernel does not say how it can be reset (no reset_method)", a, pci_func_name(f));
	else if (!*strip(rm))
		report(d, ST_WARN,
		       "it keeps its state from one VM to the next: pass the whole card (every function) so a bus reset "
		       "can work, and expect to reboot the host after a guest crash",
		       "%s (%s) has no reset method", a, pci_func_name(f));
	else
		report(d, ST_PASS, NULL, "%s (%s) can be reset: %s", a, pci_func_name(f), rm);
	if (family)
		report(d, ST_WARN, vr, "%s (%s) is an AMD %s GPU: it does not come back after a reset without vendor-reset", a,
		       pci_func_name(f), family);
}

static void check_display(struct doctor *d, const struct pci_func *f, const char *a)
{
	if ((f->class >> 16) != 0x03)
		return;
	if (f->boot_vga == 1)
		report(d, ST_WARN,
		       "give the host another GPU: make that one primary in the firmware setup, or set host-display = "
		       "handoff in the [vm] that gets it (the hook refuses it while the host's display is on it)",
		       "%s (%s) is the boot GPU: the host's console and display start on it", a, pci_func_name(f));
	else
		report(d, ST_PASS, NULL, "%s (%s) is not the host's boot GPU", a, pci_func_name(f));
}

static bool mapped(const struct config *c, const struct pci_func *f)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (vm_gets(&c->vms[i], f))
			return true;
	return false;
}

/* What the hook would refuse for each VM, from the planner itself (no running VM, no ledger). */
static void check_vms(struct doctor *d)
{
	const struct holders none = { 0 };

	for (size_t i = 0; i < d->c->n_vms; i++) {
		const struct vm *v = &d->c->vms[i];
		struct plan p;

		if (!v->n_pci)
			continue;
		plan_build(d->c, v, vm_evict(d->c, v), d->m, &none, NULL, NULL, &p);
		for (size_t k = 0; k < p.n_warnings; k++)
			report(d, ST_WARN, NULL, "[vm %s] %s", v->name, p.warnings[k]);
		for (size_t k = 0; k < p.n_refusals; k++)
			report(d, ST_FAIL, NULL, "[vm %s] the hook would refuse to start it: %s", v->name, p.refusals[k]);
		if (!p.n_refusals)
			report(d, ST_PASS, NULL, "[vm %s] %zu PCI function%s, IOMMU groups viable", v->name, p.n_funcs,
			       p.n_funcs == 1 ? "" : "s");
		plan_clear(&p);
	}
}

static void check_usb_entry(struct doctor *d, struct udev *udev, const char *name, const struct usb_entry *e)
{
	struct udev_enumerate *en = udev ? udev_enumerate_new(udev) : NULL;
	char vid[8], pid[8], id[16];
	bool plugged = false;

	usb_sel_format(&e->sel, id, sizeof(id));
	snprintf(vid, sizeof(vid), "%04x", e->sel.vendor);
	snprintf(pid, sizeof(pid), "%04x", e->sel.product);
	if (en && udev_enumerate_add_match_subsystem(en, "usb") >= 0 &&
	    udev_enumerate_add_match_sysattr(en, "idVendor", vid) >= 0 &&
	    (e->sel.any_product || udev_enumerate_add_match_sysattr(en, "idProduct", pid) >= 0) &&
	    udev_enumerate_scan_devices(en) >= 0)
		plugged = udev_enumerate_get_list_entry(en) != NULL;
	if (en)
		udev_enumerate_unref(en);
	if (plugged)
		report(d, ST_PASS, NULL, "[usb %s] %s is plugged in", name, id);
	else
		report(d, ST_WARN, "plug it in before starting a VM that uses it, or check the id with lsusb",
		       "[usb %s] %s is not plugged in", name, id);
}

static void check_devices(struct doctor *d)
{
	struct udev *udev;

	if (geteuid() != 0)
		report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "whether a disk on a mapped function is in use by the host: needs root to open it");
	check_vms(d);
	for (size_t i = 0; i < d->m->n_funcs; i++) {
		const struct pci_func *f = &d->m->funcs[i];
		char a[PCI_ADDR_LEN];

		if (!mapped(d->c, f))
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		check_reset(d, f, a);
		check_display(d, f, a);
	}
	udev = udev_new();
	for (size_t i = 0; i < d->c->n_usb_sets; i++)
		for (size_t k = 0; k < d->c->usb_sets[i].n_entries; k++)
			check_usb_entry(d, udev, d->c->usb_sets[i].name, &d->c->usb_sets[i].entries[k]);
	for (size_t i = 0; i < d->c->n_vms; i++)
		for (size_t k = 0; k < d->c->vms[i].n_bare_usb; k++) {
			_cleanup_free_ char *where = xasprintf("vm %s", d->c->vms[i].name);

			check_usb_entry(d, udev, where, &d->c->vms[i].bare_usb[k]);
		}
	if (udev)
		udev_unref(udev);
}

/* ---- Session users ([host] users): qemu:///session runs QEMU as them ---- */

/* Does the POSIX ACL of PATH give UID read and write (an ACL_USER entry, within the mask)? */
static bool acl_grants(const char *path, uid_t uid)
{
	/* The kernel's xattr form: a 4-byte version, then entries of tag (2), perm (2), id (4). */
	unsigned char buf[1024];
	ssize_t n = getxattr(path, "system.posix_acl_access", buf, sizeof(buf));
	unsigned mask = 7;
	bool user = false;

	for (ssize_t off = 4; off + 8 <= n; off += 8) {
		unsigned tag = buf[off] | buf[off + 1] << 8, perm = buf[off + 2] | buf[off + 3] << 8;
		uint32_t id = buf[off + 4] | buf[off + 5] << 8 | buf[off + 6] << 16 | (uint32_t)buf[off + 7] << 24;

		if (tag == 0x10)
			mask = perm;
		else if (tag == 0x02 && id == uid && (perm & 6) == 6)
			user = true;
	}
	return user && (mask & 6) == 6;
}

static bool user_can_open(const struct doctor *d, const char *path, const struct stat *st, const char *user,
			  uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return (st->st_mode & 0600) == 0600;
	if ((st->st_mode & 060) == 060 && (st->st_gid == gid || accounts_gid_member(d->root, st->st_gid, user)))
		return true;
	return (st->st_mode & 06) == 06 || acl_grants(path, uid);
}

/* Every /dev/vfio node (the groups, the container, iommufd's devices/) USER cannot open; how many there are. */
static size_t vfio_denied(const struct doctor *d, const char *dir, const char *user, uid_t uid, gid_t gid,
			  char **denied)
{
	DIR *dd = opendir(dir);
	const struct dirent *e;
	size_t n = 0;

	while (dd && (e = readdir(dd))) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;

		if (e->d_name[0] == '.' || stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += vfio_denied(d, p, user, uid, gid, denied);
			continue;
		}
		n++;
		if (!*denied && !user_can_open(d, p, &st, user, uid, gid))
			*denied = xasprintf("%s (owner %u, group %u, mode %04o)", p, (unsigned)st.st_uid, (unsigned)st.st_gid,
					    (unsigned)(st.st_mode & 07777));
	}
	if (dd)
		closedir(dd);
	return n;
}

static void check_user_vfio(struct doctor *d, const char *user, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *denied = NULL, *fix = NULL;
	size_t n = vfio_denied(d, "/dev/vfio", user, uid, gid, &denied);

	if (denied) {
		fix = xasprintf("vfio-hook setup (its udev rule gives group kvm 0660), then udevadm trigger --subsystem-match=vfio");
		report(d, ST_FAIL, fix, "%s cannot open %s", user, denied);
	} else if (n) {
		report(d, ST_PASS, NULL, "%s can open the %zu node%s in /dev/vfio", user, n, n == 1 ? "" : "s");
	} else if (sys_exists(d, "/etc/udev/rules.d/70-vfio-hook.rules")) {
		report(d, ST_PASS, NULL,
		       "no /dev/vfio node yet (binding a device to vfio-pci makes one): 70-vfio-hook.rules gives group kvm access to it");
	} else {
		report(d, ST_WARN, "vfio-hook setup (it writes /etc/udev/rules.d/70-vfio-hook.rules)",
		       "no /dev/vfio node yet, and no udev rule of vfio-hook setup gives group kvm access to them: %s could not open them",
		       user);
	}
}

/* A memlock value of limits.conf in KiB; -1: unlimited. */
static long long limit_value(const char *v)
{
	if (streq(v, "unlimited") || streq(v, "infinity") || streq(v, "-1"))
		return -1;
	return isdigit((unsigned char)*v) ? strtoll(v, NULL, 10) : -2;
}

struct memlock {
	long long soft, hard; /* KiB, -1 unlimited, -2 not set */
	int soft_rank, hard_rank; /* how specific the line that set it was: user 3, @group 2, * 1 */
	char file[64];
};

/* One limits.conf file's memlock lines for USER, as pam_limits ranks them: the most specific wins, then the last. */
/* A FIFO (or a device) there is never opened: reading it would block doctor for good. */
static int read_limits(struct doctor *d, const char *file, const char *user, struct memlock *m)
{
	_cleanup_free_ char *p = sys_path(d, file);
	_cleanup_free_ char *text = read_regular(AT_FDCWD, p, 0);
	char *line, *save = NULL;

	if (!text && errno == ENOTREGULAR) {
		report(d, ST_WARN, "replace it with a regular file, or remove it",
		       "%s is not a regular file (a FIFO, socket or device): its memlock limits for %s are not checked", file,
		       user);
		return 0;
	}
	if (!text)
		return errno == ENOENT ? 0 : -errno;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char dom[64], type[16], item[32], value[32];
		int rank;

		if (sscanf(line, " %63s %15s %31s %31s", dom, type, item, value) != 4 || dom[0] == '#' || !streq(item, "memlock"))
			continue;
		rank = streq(dom, user) ? 3 : dom[0] == '@' && accounts_member(d->root, dom + 1, user) == 1 ? 2 : streq(dom, "*") ? 1 : 0;
		if (!rank)
			continue;
		if ((streq(type, "soft") || streq(type, "-")) && rank >= m->soft_rank) {
			m->soft = limit_value(value);
			m->soft_rank = rank;
			snprintf(m->file, sizeof(m->file), "%s", file);
		}
		if ((streq(type, "hard") || streq(type, "-")) && rank >= m->hard_rank) {
			m->hard = limit_value(value);
			m->hard_rank = rank;
			snprintf(m->file, sizeof(m->file), "%s", file);
		}
	}
	return 0;
}

static int limits_for(struct doctor *d, const char *user, struct memlock *m)
{
	_cleanup_free_ char *dir = sys_path(d, "/etc/security/limits.d");
	struct dirent **names = NULL;
	int n, r = read_limits(d, "/etc/security/limits.conf", user, m);

	n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (r == 0 && len > 5 && streq(names[i]->d_name + len - 5, ".conf")) {
			_cleanup_free_ char *f = xasprintf("/etc/security/limits.d/%s", names[i]->d_name);

			r = read_limits(d, f, user, m);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

/* -1 (unlimited) is the largest. */
static bool limit_below(long long have, long long want)
{
	return want == -1 ? have != -1 : have != -1 && have < want;
}

static void check_user_memlock(struct doctor *d, const char *user)
{
	const struct host *h = &d->c->host;
	struct memlock m = { .soft = -2, .hard = -2 };
	long long want = h->memlock_unlimited ? -1 : (long long)h->memlock_kib, have;
	_cleanup_free_ char *shown = NULL;

	if (limits_for(d, user, &m) < 0) {
		report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "cannot read /etc/security/limits.conf or limits.d as this user: %s's memlock limit is not checked", user);
		return;
	}
	if (m.soft == -2 || m.hard == -2) {
		report(d, ST_FAIL, "set memlock = unlimited (or the guests' RAM in KiB) in [host], then vfio-hook setup",
		       "no %s memlock limit for %s in /etc/security/limits.conf or limits.d: the kernel's default (8 MiB) "
		       "cannot hold a VM's memory, which passthrough locks", m.soft == -2 ? "soft" : "hard", user);
		return;
	}
	have = limit_below(m.soft, m.hard) ? m.soft : m.hard;
	shown = have == -1 ? xstrdup("unlimited") : xasprintf("%lld KiB", have);
	if (!h->memlock_set)
		report(d, have == -1 ? ST_PASS : ST_WARN,
		       have == -1 ? NULL : "a VM with passthrough locks all its RAM: set memlock in [host] to at least that (or unlimited), then vfio-hook setup",
		       "%s's memlock limit is %s (%s)", user, shown, m.file);
	else if (limit_below(have, want))
		report(d, ST_FAIL, "vfio-hook setup (it writes /etc/security/limits.d/vfio-hook.conf), then log in again",
		       "%s's memlock limit is %s (%s), below [host] memlock", user, shown, m.file);
	else
		report(d, ST_PASS, NULL, "%s's memlock limit is %s (%s), as [host] memlock asks", user, shown, m.file);
}

/* What doctor can tell from the configuration; a session started before it changed keeps the old groups and limits. */
static void check_users(struct doctor *d)
{
	for (size_t i = 0; i < d->c->host.n_users; i++) {
		const char *user = d->c->host.users[i];
		_cleanup_free_ char *fix = NULL;
		uid_t uid;
		gid_t gid;
		int r;

		if (accounts_user(d->root, user, &uid, &gid) < 0) {
			fix = xasprintf("create the account (useradd %s), or remove it from [host] users", user);
			report(d, ST_FAIL, fix, "[host] users: %s has no account in /etc/passwd", user);
			continue;
		}
		r = accounts_member(d->root, "kvm", user);
		if (r < 0) {
			report(d, ST_FAIL, "groupadd -r kvm, then vfio-hook setup", "there is no group kvm for %s", user);
		} else if (!r) {
			fix = xasprintf("vfio-hook setup (or: usermod -a -G kvm %s), then log in again", user);
			report(d, ST_FAIL, fix, "%s is not in group kvm", user);
		} else {
			report(d, ST_PASS, NULL, "%s is in group kvm (a session started before that still lacks it)", user);
		}
		check_user_vfio(d, user, uid, gid);
		check_user_memlock(d, user);
	}
}

/* ---- Output ---- */

static void json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void print_json(const struct doctor *d)
{
	putchar('[');
	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];

		printf("%s\n{\"group\":", i ? "," : "");
		json_str(stdout, c->group);
		printf(",\"status\":\"%s\",\"what\":", status_names[c->status]);
		json_str(stdout, c->what);
		printf(",\"fix\":");
		json_str(stdout, c->fix);
		putchar('}');
	}
	printf("\n]\n");
}

static void print_text(const struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];

		if (i == 0 || !streq(c->group, d->checks[i - 1].group))
			printf("%s%s\n", i ? "\n" : "", c->group);
		printf("%s  %s%s%s\n", status_names[c->status], c->what, c->fix ? " — " : "", c->fix ? c->fix : "");
	}
}

static char *kernel_release(const struct doctor *d)
{
	_cleanup_free_ char *rel = sys_read(d, "/proc/sys/kernel/osrelease");
	struct utsname u;

	if (rel && *strip(rel))
		return xstrdup(strip(rel));
	return xstrdup(uname(&u) == 0 ? u.release : "unknown");
}

static void doctor_free(struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->checks[i].what);
		free(d->checks[i].fix);
	}
	free(d->checks);
	machine_free(d->m);
	config_free(d->c);
	free(d->cmdline);
	free(d->release);
}

int doctor_run(const char *cfg_path, bool json)
{
	struct doctor d = { .root = "" };
	bool failed = false;

	if (getenv("VFIO_HOOK_TEST")) {
		/* The suite's results must not depend on the machine running it. */
		d.root = getenv("VFIO_HOOK_TEST_ROOT");
		if (!d.root || *d.root != '/') {
			log_error("doctor: VFIO_HOOK_TEST is set but VFIO_HOOK_TEST_ROOT is not an absolute directory to read the system's files from");
			return 2;
		}
	}
	d.cmdline = sys_read(&d, "/proc/cmdline");
	d.release = kernel_release(&d);
	if (machine_discover(&d.m) < 0)
		d.m = NULL;

	d.group = "CPU and firmware";
	check_cpu_flags(&d);
	check_kvm(&d);
	check_acpi(&d);

	d.group = "Kernel";
	if (!d.m)
		report(&d, ST_FAIL, "check that /sys is mounted", "cannot list the PCI devices (the line above says why)");
	check_iommu(&d);
	check_interrupt_remapping(&d);
	check_module(&d, "vfio");
	check_module(&d, "vfio_pci");
	check_module(&d, "vfio_iommu_type1");

	d.group = "libvirt";
	check_hook(&d);
	check_selinux(&d);
	check_ovmf(&d);

	d.group = "Map";
	check_map(&d, cfg_path);

	d.group = "Devices";
	if (d.c && d.m)
		check_devices(&d);

	d.group = "Session users ([host] users)";
	if (d.c)
		check_users(&d);

	if (json)
		print_json(&d);
	else
		print_text(&d);
	for (size_t i = 0; i < d.n; i++)
		failed |= d.checks[i].status == ST_FAIL;
	doctor_free(&d);
	return failed ? 1 : 0;
}

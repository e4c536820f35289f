/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor, the host itself: the CPU and its firmware (VT-x/AMD-V, /dev/kvm, the ACPI
 * DMAR/IVRS table), and the kernel (the IOMMU on, interrupt remapping, the vfio modules).
 */
#define _GNU_SOURCE
#include "doctor-check.h"

#include "dl.h"
#include "util.h"

#include <string.h>
#include <unistd.h>

#define GRUB_HOW "(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
#define AMD_FIRMWARE "enable AMD-Vi (IOMMU, sometimes under \"AMD CBS\" or \"NBIO\") in the firmware setup and reboot"
#define INTEL_FIRMWARE "enable VT-d in the firmware setup and reboot"
/* Inside a VM no firmware setting helps: the hypervisor gives a virtual IOMMU, or none. */
#define VIOMMU_FIX "give this VM a virtual IOMMU: QEMU -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; " \
	"libvirt <iommu model='intel'/> in its <devices> (virsh edit, on its host); then intel_iommu=on on this kernel's command line, and reboot it"


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
		doctor_report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/cpuinfo: %m");
		return;
	}
	if (doctor_has_word(flags, "vmx"))
		doctor_report(d, ST_PASS, NULL, "CPU virtualization: vmx (Intel VT-x)");
	else if (doctor_has_word(flags, "svm"))
		doctor_report(d, ST_PASS, NULL, "CPU virtualization: svm (AMD-V)");
	else if (doctor_has_word(flags, "hypervisor"))
		doctor_report(d, ST_FAIL,
		       "this system is a virtual machine: give it the host's CPU with nested virtualization (libvirt <cpu "
		       "mode='host-passthrough'/>; on its host kvm_intel or kvm_amd with nested=1)",
		       "the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo");
	else
		doctor_report(d, ST_FAIL, "enable Intel VT-x or AMD-V (SVM) in the firmware setup and reboot",
		       "the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo");
}

static void check_kvm(struct doctor *d)
{
	if (access("/dev/kvm", F_OK) < 0)
		doctor_report(d, ST_FAIL,
		       doctor_cpu_is_amd(d) ? "modprobe kvm_amd; if it fails, enable SVM in the firmware setup"
				     : "modprobe kvm_intel; if it fails, enable VT-x in the firmware setup",
		       "/dev/kvm does not exist: KVM is not available");
	else if (access("/dev/kvm", R_OK | W_OK) < 0)
		doctor_report(d, ST_WARN,
		       "only matters for qemu:///session: add yourself to group kvm (usermod -a -G kvm $USER) and log in again",
		       "/dev/kvm exists but this user cannot open it");
	else
		doctor_report(d, ST_PASS, NULL, "/dev/kvm is usable");
}

static void check_acpi(struct doctor *d)
{
	bool dmar = doctor_sys_exists(d, "/sys/firmware/acpi/tables/DMAR");
	bool ivrs = doctor_sys_exists(d, "/sys/firmware/acpi/tables/IVRS");

	/* The IOMMU off: its one line (Kernel) says what the firmware has to do with it, and the rest. */
	if (d->m && d->m->n_groups == 0 && !(doctor_cpu_is_intel(d) ? dmar : doctor_cpu_is_amd(d) ? ivrs : dmar || ivrs))
		return;
	if (d->m && d->m->hypervisor && !dmar && !ivrs)
		doctor_report(d, ST_FAIL, VIOMMU_FIX,
		       "this system is a virtual machine whose hypervisor gives it no IOMMU (no ACPI DMAR or IVRS table)");
	else if (doctor_cpu_is_intel(d) && !dmar)
		doctor_report(d, ST_FAIL, INTEL_FIRMWARE,
		       "the firmware has no ACPI DMAR table (/sys/firmware/acpi/tables/DMAR): VT-d is off or missing");
	else if (doctor_cpu_is_amd(d) && !ivrs)
		doctor_report(d, ST_FAIL, AMD_FIRMWARE,
		       "the firmware has no ACPI IVRS table (/sys/firmware/acpi/tables/IVRS): AMD-Vi is off or missing");
	else if (dmar || ivrs)
		doctor_report(d, ST_PASS, NULL, "the firmware describes its IOMMU (ACPI %s table)", dmar ? "DMAR" : "IVRS");
	else
		doctor_report(d, ST_WARN, "enable the IOMMU (VT-d, AMD-Vi) in the firmware setup",
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
	_cleanup_free_ char *gz = doctor_sys_path(d, "/proc/config.gz");
	char *cfg = doctor_sys_read(d, name);

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
	int on = doctor_cmdline_item(d->cmdline, "intel_iommu", "on");
	const char *option = NULL;
	int dflt;

	if (on == 1) {
		doctor_report(d, ST_PASS, NULL, "the kernel command line has intel_iommu=on");
		return;
	}
	if (doctor_cmdline_item(d->cmdline, "intel_iommu", "off") == 1) {
		doctor_report(d, ST_FAIL, "replace intel_iommu=off with intel_iommu=on on the kernel command line " GRUB_HOW,
		       "the kernel command line has intel_iommu=off");
		return;
	}
	dflt = intel_default_on(d, &option);
	if (dflt == 1)
		doctor_report(d, ST_PASS, NULL, "intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (%s)",
		       option);
	else if (d->m && d->m->n_groups > 0)
		doctor_report(d, ST_PASS, NULL, "the kernel command line has no intel_iommu=on, but the IOMMU is on");
	else
		doctor_report(d, ST_FAIL, "add intel_iommu=on to the kernel command line " GRUB_HOW,
		       "the kernel command line has no intel_iommu=on and %s", dflt == 0
			       ? "this kernel does not turn the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)"
			       : "this kernel's config (/boot/config-RELEASE, /proc/config.gz) is not readable to tell whether it is on by default");
}

static void check_cmdline_amd(struct doctor *d)
{
	bool groups = d->m && d->m->n_groups > 0;

	if (doctor_cmdline_item(d->cmdline, "amd_iommu", "off") == 1) {
		doctor_report(d, ST_FAIL, "remove amd_iommu=off from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=off");
		return;
	}
	if (doctor_cmdline_item(d->cmdline, "amd_iommu", "on") != 1) {
		doctor_report(d, ST_PASS, NULL, "kernel command line: nothing needed on AMD (the IOMMU is on by default)");
		return;
	}
	if (groups)
		doctor_report(d, ST_WARN, "remove amd_iommu=on from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=on, which is not a valid value (the kernel ignores it)");
	else
		doctor_report(d, ST_FAIL,
		       "enable AMD-Vi (IOMMU) in the firmware setup, remove amd_iommu=on from the kernel command line " GRUB_HOW,
		       "the kernel command line has amd_iommu=on, which is not a valid value and does not turn the IOMMU on");
}

/*
 * A VM whose hypervisor gives it no IOMMU (no ACPI DMAR or IVRS table): no firmware setting or
 * kernel parameter of its own turns one on. One that has a virtual IOMMU is a host like another.
 */
static bool no_viommu(const struct doctor *d)
{
	return d->m->hypervisor && !doctor_sys_exists(d, "/sys/firmware/acpi/tables/DMAR") &&
	       !doctor_sys_exists(d, "/sys/firmware/acpi/tables/IVRS");
}

/* Why the IOMMU is off, as far as the files tell: " (…)" for the FAIL line, or "". */
static char *iommu_off_why(const struct doctor *d)
{
	const char *why = NULL;
	int dflt;

	if (no_viommu(d))
		why = "this system is a virtual machine, and its hypervisor gives it no IOMMU";
	else if (doctor_cmdline_item(d->cmdline, "iommu", "off") == 1)
		why = "the kernel command line has iommu=off";
	else if (doctor_cpu_is_amd(d))
		why = doctor_cmdline_item(d->cmdline, "amd_iommu", "off") == 1 ? "the kernel command line has amd_iommu=off"
		      : doctor_cmdline_item(d->cmdline, "amd_iommu", "on") == 1
			      ? "amd_iommu=on on the kernel command line is not a valid value and turns nothing on: the IOMMU is "
				"on by default on AMD, so the firmware has it off"
			      : "the IOMMU is on by default on AMD, so the firmware has it off";
	else if (doctor_cpu_is_intel(d)) {
		const char *fw = doctor_sys_exists(d, "/sys/firmware/acpi/tables/DMAR")
					 ? NULL
					 : "the firmware has VT-d off: it gives no ACPI DMAR table";

		if (doctor_cmdline_item(d->cmdline, "intel_iommu", "off") == 1)
			why = "the kernel command line has intel_iommu=off";
		else if (doctor_cmdline_item(d->cmdline, "intel_iommu", "on") != 1 && (dflt = intel_default_on(d, NULL)) != 1)
			why = dflt == 0 ? "the kernel command line has no intel_iommu=on, and this kernel does not turn the Intel "
					  "IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)"
					: "the kernel command line has no intel_iommu=on, and this kernel's config "
					  "(/boot/config-RELEASE, /proc/config.gz) is not readable to tell whether it turns the "
					  "Intel IOMMU on by default";
		if (fw)
			return why ? xasprintf(" (%s; %s)", fw, why) : xasprintf(" (%s)", fw);
	}
	return why ? xasprintf(" (%s)", why) : xstrdup("");
}

/* The edits of the kernel command line that turn the IOMMU on, joined: "" when it needs none. */
static char *cmdline_edits(const struct doctor *d)
{
	char *e = xstrdup(""), *more;
	bool pt = doctor_cmdline_item(d->cmdline, "iommu", "pt") == 1;

#define EDIT(...)                                                             \
	do {                                                                  \
		_cleanup_free_ char *one = xasprintf(__VA_ARGS__);            \
		more = xasprintf("%s%s%s", e, *e ? ", " : "", one);           \
		free(e);                                                      \
		e = more;                                                     \
	} while (0)
	if (doctor_cmdline_item(d->cmdline, "iommu", "off") == 1)
		EDIT("remove iommu=off");
	if (doctor_cpu_is_amd(d)) {
		if (doctor_cmdline_item(d->cmdline, "amd_iommu", "off") == 1)
			EDIT("remove amd_iommu=off");
		if (doctor_cmdline_item(d->cmdline, "amd_iommu", "on") == 1)
			EDIT("remove amd_iommu=on");
	} else if (doctor_cpu_is_intel(d)) {
		/* Even a kernel that turns it on by default obeys intel_iommu=off. */
		if (doctor_cmdline_item(d->cmdline, "intel_iommu", "off") == 1)
			EDIT("replace intel_iommu=off with intel_iommu=on%s", pt ? "" : " iommu=pt");
		else if (doctor_cmdline_item(d->cmdline, "intel_iommu", "on") != 1 && intel_default_on(d, NULL) != 1)
			EDIT("add intel_iommu=on%s", pt ? "" : " iommu=pt");
	}
#undef EDIT
	return e;
}

/* What turns the IOMMU on, on a machine where it is off: the firmware, the command line, or both. */
static char *iommu_off_fix(const struct doctor *d)
{
	_cleanup_free_ char *edits = cmdline_edits(d);
	bool amd = doctor_cpu_is_amd(d), intel = doctor_cpu_is_intel(d);
	/* AMD's IOMMU is on by default: off, it is the firmware's doing unless the command line says off. */
	bool firmware = amd ? doctor_cmdline_item(d->cmdline, "amd_iommu", "off") != 1 ||
				      !doctor_sys_exists(d, "/sys/firmware/acpi/tables/IVRS")
			    : intel && !doctor_sys_exists(d, "/sys/firmware/acpi/tables/DMAR");
	const char *fw = amd ? "enable AMD-Vi (IOMMU, sometimes under \"AMD CBS\" or \"NBIO\") in the firmware setup"
			     : "enable VT-d in the firmware setup";

	if (no_viommu(d))
		return xstrdup(VIOMMU_FIX);
	if (!amd && !intel)
		return xstrdup("enable the IOMMU (VT-d, AMD-Vi) in the firmware setup and reboot");
	if (*edits)
		return xasprintf("%s%son the kernel command line, %s " GRUB_HOW, firmware ? fw : "", firmware ? "; " : "", edits);
	if (firmware)
		return xasprintf("%s and reboot", fw);
	return xstrdup("check dmesg for DMAR errors: the firmware has VT-d on and the kernel was asked to use it");
}

static void check_iommu(struct doctor *d)
{
	if (!d->m)
		return;
	/* One line for it all: what the command line and the firmware say is why it is off. */
	if (d->m->n_groups == 0) {
		_cleanup_free_ char *why = iommu_off_why(d), *fix = iommu_off_fix(d);

		doctor_report(d, ST_FAIL, fix, "the IOMMU is off: /sys/kernel/iommu_groups is empty%s", why);
		return;
	}
	doctor_report(d, ST_PASS, NULL, "the IOMMU is on: %zu IOMMU groups", d->m->n_groups);
	if (!d->cmdline) {
		doctor_report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/cmdline");
		return;
	}
	if (doctor_cmdline_item(d->cmdline, "iommu", "off") == 1)
		doctor_report(d, ST_FAIL, "remove iommu=off from the kernel command line " GRUB_HOW,
		       "the kernel command line has iommu=off");
	if (doctor_cpu_is_intel(d))
		check_cmdline_intel(d);
	else if (doctor_cpu_is_amd(d))
		check_cmdline_amd(d);
	if (doctor_cmdline_item(d->cmdline, "iommu", "pt") == 1)
		doctor_report(d, ST_PASS, NULL, "the kernel command line has iommu=pt");
	else
		doctor_report(d, ST_WARN, "add iommu=pt to the kernel command line " GRUB_HOW,
		       "the kernel command line has no iommu=pt: the host's own devices go through IOMMU translation too, "
		       "which slows their DMA (with iommu=pt they skip it; devices given to VMs are translated either way)");
}

static void check_interrupt_remapping(struct doctor *d)
{
	_cleanup_free_ char *irq = doctor_sys_read(d, "/proc/interrupts");

	if (!irq)
		doctor_report(d, ST_SKIP, "check that /proc is mounted", "cannot read /proc/interrupts");
	else if (strstr(irq, "IR-PCI-MSI") || strstr(irq, "IR-IO-APIC"))
		doctor_report(d, ST_PASS, NULL, "interrupt remapping is on (IR- interrupts in /proc/interrupts)");
	else
		doctor_report(d, ST_WARN,
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
	_cleanup_free_ char *text = doctor_sys_read(d, path);
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
		doctor_report(d, ST_PASS, NULL, "%s is built into the kernel", name);
		return;
	}
	if (access(sysmod, F_OK) == 0) {
		doctor_report(d, ST_PASS, NULL, "%s is loaded", name);
		return;
	}
	if (module_listed(d, "modules.dep", name)) {
		fix = xasprintf("modprobe %s (the hook loads vfio-pci when it needs it; to load it at boot: "
				"echo %s >> /etc/modules-load.d/vfio.conf)", name, name);
		doctor_report(d, ST_WARN, fix, "%s is available but not loaded", name);
		return;
	}
	fix = xasprintf("install the modules package of kernel %s, or use a kernel built with CONFIG_VFIO_PCI", d->release);
	doctor_report(d, ST_FAIL, fix, "%s is not available for kernel %s (not in modules.dep nor modules.builtin)", name,
	       d->release);
}


void doctor_firmware(struct doctor *d)
{
	check_cpu_flags(d);
	check_kvm(d);
	check_acpi(d);
}

void doctor_kernel(struct doctor *d)
{
	if (!d->m)
		doctor_report(d, ST_FAIL, "check that /sys is mounted", "cannot list the PCI devices (the line above says why)");
	check_iommu(d);
	check_interrupt_remapping(d);
	check_module(d, "vfio");
	check_module(d, "vfio_pci");
	check_module(d, "vfio_iommu_type1");
}

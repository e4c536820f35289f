/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor, libvirt: the hook installed where the running daemon looks for it, and
 * installed before it started; SELinux's boolean for hooks; OVMF's firmware descriptors.
 */
#define _GNU_SOURCE
#include "doctor-check.h"

#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	_cleanup_free_ char *st = doctor_sys_read(d, "/proc/stat");
	const char *p = st ? strstr(st, "\nbtime ") : NULL;

	return p ? strtod(p + 7, NULL) : -1;
}

/* Field 22 of /proc/PID/stat: when it started, in clock ticks after boot. */
static double proc_start(const struct doctor *d, const char *pid, double btime)
{
	_cleanup_free_ char *path = xasprintf("/proc/%s/stat", pid);
	_cleanup_free_ char *st = doctor_sys_read(d, path);
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
	_cleanup_free_ char *procdir = doctor_sys_path(d, "/proc");
	double btime = boot_time(d);
	DIR *dd = opendir(procdir);
	const struct dirent *e;
	bool found = false;

	while (dd && !found && (e = readdir(dd))) {
		_cleanup_free_ char *cpath = NULL, *comm = NULL;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		cpath = xasprintf("/proc/%s/comm", e->d_name);
		comm = doctor_sys_read(d, cpath);
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
		doctor_report(d, ST_WARN, "systemctl start libvirtd (or virtqemud, with the modular daemons)",
		       "neither libvirtd nor virtqemud is running");
		return;
	}
	if (!hook || lstat(hook, &st) < 0)
		return;
	fix = xasprintf("systemctl restart %s", dm.name);
	if (dm.started < 0)
		doctor_report(d, ST_SKIP, NULL, "cannot tell when %s (pid %ld) started", dm.name, dm.pid);
	else if ((double)st.st_mtime > dm.started)
		doctor_report(d, ST_WARN, fix,
		       "%s (pid %ld) started before the hook was installed: libvirt looks for hooks only when it starts, "
		       "so it may not run vfio-hook", dm.name, dm.pid);
	else
		doctor_report(d, ST_PASS, NULL, "%s (pid %ld) started after the hook was installed", dm.name, dm.pid);
}

static void check_hook(struct doctor *d)
{
	/* NixOS's libvirtd looks in /var/lib/libvirt/hooks: /etc is generated there. */
	bool nixos = doctor_sys_exists(d, "/etc/NIXOS");
	const char *dir = nixos ? "/var/lib/libvirt/hooks" : "/etc/libvirt/hooks";
	_cleanup_free_ char *rdir = doctor_sys_path(d, dir), *hook = NULL, *fix = NULL;
	const char *shown;
	struct stat st;

	if (access(rdir, R_OK | X_OK) < 0 && errno == EACCES) {
		doctor_report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)", "cannot read %s as this user", dir);
		return;
	}
	hook = find_hook(rdir);
	if (!hook) {
		/* NixOS's libvirtd-config.service empties qemu.d at every start: a link made by hand goes. */
		if (nixos)
			fix = xstrdup("set services.vfio-hook.enable = true (the NixOS module in vfio-hook's etc/nixos/), "
				      "then nixos-rebuild switch");
		else
			fix = xasprintf("make install, or: ln -s /usr/local/sbin/vfio-hook %s/qemu (%s/qemu.d/vfio-hook "
					"when another hook is there); then restart libvirtd", dir, dir);
		doctor_report(d, ST_FAIL, fix, "vfio-hook is not installed as libvirt's QEMU hook (%s/qemu or %s/qemu.d/)", dir,
		       dir);
		check_daemon(d, NULL);
		return;
	}
	shown = hook + strlen(d->root);
	if (stat(hook, &st) < 0 || !(st.st_mode & S_IXUSR)) {
		fix = xasprintf("chmod 755 %s", shown);
		doctor_report(d, ST_FAIL, fix, "%s is vfio-hook but not executable: libvirt cannot run it", shown);
	} else {
		doctor_report(d, ST_PASS, NULL, "%s is vfio-hook, executable", shown);
	}
	check_daemon(d, hook);
}

static void check_ovmf(struct doctor *d)
{
	_cleanup_free_ char *dir = doctor_sys_path(d, "/usr/share/qemu/firmware");
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
		doctor_report(d, ST_PASS, NULL, "%zu firmware descriptor%s in /usr/share/qemu/firmware (OVMF)", n, n == 1 ? "" : "s");
	else
		doctor_report(d, ST_WARN,
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
		doctor_report(d, ST_PASS, NULL, "SELinux is enforcing and virt_hooks_unconfined is on");
	else
		doctor_report(d, ST_WARN, "setsebool -P virt_hooks_unconfined on",
		       "SELinux is enforcing and virt_hooks_unconfined is off: libvirt runs its hooks confined, "
		       "and a confined hook cannot move devices in /sys");
}


void doctor_libvirt(struct doctor *d)
{
	check_hook(d);
	check_selinux(d);
	check_ovmf(d);
}

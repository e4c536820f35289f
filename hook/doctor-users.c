/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor, the session users ([host] users): qemu:///session runs QEMU as them, so each
 * needs /dev/vfio and the mapped USB devices open to it, and a memlock limit that covers guest RAM.
 */
#define _GNU_SOURCE
#include "doctor-check.h"

#include "accounts.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

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
		doctor_report(d, ST_FAIL, fix, "%s cannot open %s", user, denied);
	} else if (n) {
		doctor_report(d, ST_PASS, NULL, "%s can open the %zu node%s in /dev/vfio", user, n, n == 1 ? "" : "s");
	} else if (doctor_sys_exists(d, "/etc/udev/rules.d/70-vfio-hook.rules")) {
		doctor_report(d, ST_PASS, NULL,
		       "no /dev/vfio node yet (binding a device to vfio-pci makes one): 70-vfio-hook.rules gives group kvm access to it");
	} else {
		doctor_report(d, ST_WARN, "vfio-hook setup (it writes /etc/udev/rules.d/70-vfio-hook.rules)",
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
	_cleanup_free_ char *p = doctor_sys_path(d, file);
	_cleanup_free_ char *text = read_regular(AT_FDCWD, p, 0);
	char *line, *save = NULL;

	if (!text && errno == ENOTREGULAR) {
		doctor_report(d, ST_WARN, "replace it with a regular file, or remove it",
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
	_cleanup_free_ char *dir = doctor_sys_path(d, "/etc/security/limits.d");
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
		doctor_report(d, ST_SKIP, "run as root (sudo vfio-hook doctor)",
		       "cannot read /etc/security/limits.conf or limits.d as this user: %s's memlock limit is not checked", user);
		return;
	}
	if (m.soft == -2 || m.hard == -2) {
		doctor_report(d, ST_FAIL, "set memlock = unlimited (or the guests' RAM in KiB) in [host], then vfio-hook setup",
		       "no %s memlock limit for %s in /etc/security/limits.conf or limits.d: the kernel's default (8 MiB) "
		       "cannot hold a VM's memory, which passthrough locks", m.soft == -2 ? "soft" : "hard", user);
		return;
	}
	have = limit_below(m.soft, m.hard) ? m.soft : m.hard;
	shown = have == -1 ? xstrdup("unlimited") : xasprintf("%lld KiB", have);
	if (!h->memlock_set)
		doctor_report(d, have == -1 ? ST_PASS : ST_WARN,
		       have == -1 ? NULL : "a VM with passthrough locks all its RAM: set memlock in [host] to at least that (or unlimited), then vfio-hook setup",
		       "%s's memlock limit is %s (%s)", user, shown, m.file);
	else if (limit_below(have, want))
		doctor_report(d, ST_FAIL, "vfio-hook setup (it writes /etc/security/limits.d/vfio-hook.conf), then log in again",
		       "%s's memlock limit is %s (%s), below [host] memlock", user, shown, m.file);
	else
		doctor_report(d, ST_PASS, NULL, "%s's memlock limit is %s (%s), as [host] memlock asks", user, shown, m.file);
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
			doctor_report(d, ST_FAIL, fix, "[host] users: %s has no account in /etc/passwd", user);
			continue;
		}
		r = accounts_member(d->root, "kvm", user);
		if (r < 0) {
			doctor_report(d, ST_FAIL, "groupadd -r kvm, then vfio-hook setup", "there is no group kvm for %s", user);
		} else if (!r) {
			fix = xasprintf("vfio-hook setup (or: usermod -a -G kvm %s), then log in again", user);
			doctor_report(d, ST_FAIL, fix, "%s is not in group kvm", user);
		} else {
			doctor_report(d, ST_PASS, NULL, "%s is in group kvm (a session started before that still lacks it)", user);
		}
		check_user_vfio(d, user, uid, gid);
		check_user_memlock(d, user);
	}
}


void doctor_users(struct doctor *d)
{
	if (d->c)
		check_users(d);
}

/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook setup: the host configuration the map's [host] section asks for. One path for
 * every mode: what the files should hold is computed first (hostconf.c), compared with what
 * is there into a list of steps (plan_*), and the steps are printed as a diff (--dry-run) or
 * applied in order, each one undone again if a later one fails. --undo is the same with
 * nothing wanted. The manifest records each file written with its SHA-256, so a file the
 * user edited since is never removed or overwritten.
 */
#define _GNU_SOURCE
#include "setup.h"

#include "accounts.h"
#include "child.h"
#include "config.h"
#include "hostconf.h"
#include "log.h"
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define F_MANIFEST "/var/lib/vfio-hook/setup.manifest"
#define KVM "kvm"
#define CMD_TIMEOUT_MS 30000

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

/* ---- The manifest ---- */

/* Only these are ever removed: a manifest naming another file is not one setup wrote. */
static bool ours(const char *path)
{
	static const char *const paths[] = { HOSTCONF_MODULES, HOSTCONF_MODPROBE, HOSTCONF_UDEV, HOSTCONF_LIMITS,
					     HOSTCONF_GRUB };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (streq(path, paths[i]))
			return true;
	return false;
}

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
		if (sscanf(line, "file %64[0-9a-f] %4095s", sha, path) == 2 && strlen(sha) == 64 && ours(path)) {
			struct recorded *e = array_push(&s->old, &s->n_old, sizeof(*e));

			e->path = xstrdup(path);
			memcpy(e->sha, sha, sizeof(sha));
		} else if (sscanf(line, "member " KVM " %63s", user) == 1) {
			*(char **)array_push(&s->old_members, &s->n_old_members, sizeof(char *)) = xstrdup(user);
		} else {
			log_at(LOG_ERR, full, n,
			       "not a line vfio-hook setup writes (restore the file, or remove it and the files it lists by hand)");
			return -EBADMSG;
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
	for (size_t i = 0; i < s->want.n_files; i++) {
		const struct hostconf_file *w = &s->want.files[i];
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

		for (size_t k = 0; k < s->want.n_files; k++)
			wanted |= streq(s->want.files[k].path, s->old[i].path);
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
	for (size_t i = 0; i < s->want.n_members; i++) {
		const char *u = s->want.members[i];
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

		for (size_t k = 0; k < s->want.n_members; k++)
			wanted |= streq(s->want.members[k], s->old_members[i]);
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

	for (size_t i = 0; i < s->want.n_files; i++) {
		char sha[SHA256_HEX_LEN];
		char *next;

		sha256_hex(s->want.files[i].text, strlen(s->want.files[i].text), sha);
		next = xasprintf("%sfile %s %s\n", text, sha, s->want.files[i].path);
		free(text);
		text = next;
		any = true;
	}
	for (size_t i = 0; i < s->want.n_members; i++) {
		bool added = recorded_member(s, s->want.members[i]);
		char *next;

		for (size_t k = 0; k < s->n_steps; k++)
			added |= s->steps[k].kind == STEP_ADD_MEMBER && streq(s->steps[k].path, s->want.members[i]);
		if (!added)
			continue;
		next = xasprintf("%smember " KVM " %s\n", text, s->want.members[i]);
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
		} else if (streq(st->path, HOSTCONF_LIMITS)) {
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

	if (s->want.boot_cmd) {
		todo[n++] = s->want.boot_cmd;
		reboot = true;
	}
	if (changed(s, HOSTCONF_GRUB)) {
		todo[n++] = root_has(s, "/boot/grub2") ? "grub2-mkconfig -o /boot/grub2/grub.cfg" : "update-grub";
		reboot = true;
	}
	if (changed(s, HOSTCONF_MODPROBE)) {
		todo[n++] = initramfs_cmd(s);
		reboot = true;
	}
	if (changed(s, HOSTCONF_UDEV) && !reboot)
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
	hostconf_clear(&s->want);
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
	free(s->old);
	free(s->old_members);
	free(s->old_manifest);
	free(s->steps);
	free(s->kept);
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

	s.want = (struct hostconf){ .c = c, .root = s.root, .map = s.map };
	r = manifest_read(&s);
	if (r >= 0 && !undo)
		r = hostconf_build(&s.want);
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

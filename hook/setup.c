/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook setup: the host configuration the map's [host] section asks for. One path for
 * every mode: what the files should hold is computed first (hostconf.c), compared with what
 * is there into a list of steps (plan_*), and the steps are printed as a diff (--dry-run) or
 * applied in order, each one undone again if a later one fails. --undo is the same with
 * nothing wanted. The manifest records each file written with its SHA-256, so a file the
 * user edited since is never removed or overwritten; it records a change before it is made
 * (the checksum to be written beside the one there, a member to be added), so a run killed
 * half way leaves nothing --undo or the next run does not know as setup's. Every path is
 * walked from the root's directory one component at a time, and under --root no symlink is
 * followed: an image's absolute link means a path in the image, not on this machine.
 */
#define _GNU_SOURCE
#include "setup.h"
#include "setup-run.h"


#include "accounts.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>


/* ---- The steps ---- */

static void step_add(struct setup *s, enum step_kind kind, const char *path, char *old, const char *text)
{
	struct step *st = array_push(&s->steps, &s->n_steps, sizeof(*st));

	st->kind = kind;
	st->path = xstrdup(path);
	st->old = old;
	st->text = text ? xstrdup(text) : NULL;
}

static int plan_files(struct setup *s)
{
	for (size_t i = 0; i < s->want.n_files; i++) {
		const struct hostconf_file *w = &s->want.files[i];
		char *cur;
		int r = setup_read_at(s, w->path, &cur, NULL);

		if (r < 0)
			return r;
		if (cur && streq(cur, w->text)) {
			free(cur);
			continue;
		}
		if (cur && !setup_recorded_text(s, w->path, cur)) {
			_cleanup_free_ char *full = setup_at_root(s, w->path);

			log_error("%s: %s: move it away (or merge what it adds into the map), then run vfio-hook setup again",
				  full, setup_recorded(s, w->path) ? "edited since vfio-hook setup wrote it" : "exists and vfio-hook setup did not write it");
			free(cur);
			return -EEXIST;
		}
		setup_note_missing_dirs(s, w->path);
		step_add(s, STEP_WRITE, w->path, cur, w->text);
	}
	/* What an earlier run wrote that the map no longer asks for. */
	for (size_t i = 0; i < s->n_old; i++) {
		bool wanted = false;
		char *cur;
		int r;

		for (size_t k = 0; k < s->want.n_files; k++)
			wanted |= streq(s->want.files[k].path, s->old[i].path);
		if (wanted || !setup_first_of_path(s, i))
			continue;
		r = setup_read_at(s, s->old[i].path, &cur, NULL);
		if (r < 0)
			return r;
		if (!cur)
			continue;
		if (setup_recorded_text(s, s->old[i].path, cur)) {
			step_add(s, STEP_REMOVE, s->old[i].path, cur, NULL);
			continue;
		}
		free(cur);
		*(char **)array_push(&s->kept, &s->n_kept, sizeof(char *)) = setup_at_root(s, s->old[i].path);
	}
	return 0;
}

/* -EIO, logged: ROOT/FILE cannot be read (R). */
static int accounts_unreadable(const struct setup *s, const char *file, int r)
{
	log_error("%s%s: cannot read: %s (replace it with a regular file, or check its permissions)", s->root, file,
		  file_error(r));
	return -EIO;
}

static int plan_members(struct setup *s)
{
	for (size_t i = 0; i < s->want.n_members; i++) {
		const char *u = s->want.members[i];
		uid_t uid;
		gid_t gid;
		int r = accounts_user(s->root, u, &uid, &gid);

		if (r < 0 && r != -ENOENT && r != -EINVAL)
			return accounts_unreadable(s, "/etc/passwd", r);
		if (r < 0) {
			log_at(LOG_ERR, s->c->path, s->c->host.lines[0],
			       "user %s is not in %s/etc/passwd (create the account first, or remove it from users)", u, s->root);
			return -EINVAL;
		}
		r = accounts_member(s->root, KVM, u);
		if (r < 0 && r != -ENOENT)
			return accounts_unreadable(s, "/etc/group", r);
		if (r < 0) {
			log_error("%s/etc/group: no group " KVM " (create it: groupadd -r " KVM "), then run vfio-hook setup again",
				  s->root);
			return -ENOENT;
		}
		/*
		 * A run stopped between /etc/group and /etc/gshadow left them apart: the member it
		 * recorded is added again, which puts it in the one that lacks it.
		 */
		if (r == 1 && *s->root && setup_recorded_member(s, u))
			r = accounts_list_member(s->root, "/etc/gshadow", KVM, u) != 0;
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

/* TEXT with LINE appended, unless it has it already. */
static bool needs_record_first(const struct setup *s)
{
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct step *st = &s->steps[i];

		if (st->kind == STEP_WRITE && !setup_recorded_text(s, st->path, st->text))
			return true;
		if (st->kind == STEP_ADD_MEMBER && !setup_recorded_member(s, st->path))
			return true;
	}
	return false;
}

/* Put a manifest step at the front of the list. */
static void step_first(struct setup *s, char *old, const char *text)
{
	struct step first;

	step_add(s, STEP_WRITE, F_MANIFEST, old, text);
	first = s->steps[s->n_steps - 1];
	memmove(s->steps + 1, s->steps, (s->n_steps - 1) * sizeof(*s->steps));
	s->steps[0] = first;
}

/*
 * The record before the changes (when they add to it), the record after them (when it
 * differs from the one then there). Each is a step, so a failed run puts back the old one.
 */
static void plan_manifest(struct setup *s)
{
	_cleanup_free_ char *text = setup_manifest_text(s, false);
	_cleanup_free_ char *pending = NULL;
	const char *before = s->old_manifest;

	if (s->n_steps && needs_record_first(s)) {
		pending = setup_manifest_text(s, true);
		step_first(s, s->old_manifest ? xstrdup(s->old_manifest) : NULL, pending);
		before = pending;
	}
	if (text && !streq(text, s->old_manifest))
		s->manifest = MANIFEST_WRITTEN;
	else if (!text && s->old_manifest)
		s->manifest = MANIFEST_REMOVED;
	if ((!text && !before) || streq(text, before))
		return;
	if (text)
		step_add(s, STEP_WRITE, F_MANIFEST, before ? xstrdup(before) : NULL, text);
	else
		step_add(s, STEP_REMOVE, F_MANIFEST, xstrdup(before), NULL);
}

static int step_do(const struct setup *s, const struct step *st)
{
	switch (st->kind) {
	case STEP_WRITE:
		return setup_write_file(s, st->path, st->text);
	case STEP_REMOVE:
		return setup_remove_file(s, st->path);
	case STEP_ADD_MEMBER:
		return setup_set_member(s, st->path, true);
	case STEP_DEL_MEMBER:
		return setup_set_member(s, st->path, false);
	}
	return -EINVAL;
}

static int step_undo(const struct setup *s, const struct step *st)
{
	switch (st->kind) {
	case STEP_WRITE:
	case STEP_REMOVE:
		return st->old ? setup_write_file(s, st->path, st->old) : setup_remove_file(s, st->path);
	case STEP_ADD_MEMBER:
		return setup_set_member(s, st->path, false);
	case STEP_DEL_MEMBER:
		return setup_set_member(s, st->path, true);
	}
	return -EINVAL;
}

static void step_failed(const struct setup *s, const struct step *st, int r)
{
	_cleanup_free_ char *full = setup_at_root(s, st->kind <= STEP_REMOVE ? st->path : "/etc/group");

	errno = -r;
	if (r == -ELOOP && s->nofollow)
		return; /* a symlink, named already */
	if (r == -EINVAL && st->kind >= STEP_ADD_MEMBER && *s->root)
		return; /* a line too short to edit, named already */
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
				_cleanup_free_ char *full = setup_at_root(s, s->steps[k].path);

				log_error("%s: could not undo this run's change to it either: check it by hand", full);
			}
		{
			size_t n = 0;

			for (size_t k = 0; k < i; k++)
				n += !streq(s->steps[k].path, F_MANIFEST);
			if (n)
				log_error("setup: undid the %zu change%s made before that", n, n == 1 ? "" : "s");
		}
		/* Exit status 2 is for a wrong map; a step that failed is 1. */
		return r == -EINVAL ? -EIO : r;
	}
	return 0;
}

/* Once nothing of setup is left: the directories it made, the deepest first, if empty. */
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
	_cleanup_free_ char *full = setup_at_root(s, st->path);

	if (streq(st->path, F_MANIFEST) && st->kind <= STEP_REMOVE)
		return; /* once, after the changes: print_manifest() */
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
	_cleanup_free_ char *full = setup_at_root(s, path);

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

	/* Without a boot loader's files setup cannot tell whether it is done: said with changes only. */
	if (s->want.boot_cmd && (!s->want.boot_unknown || s->n_steps)) {
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

/* The record as this run leaves it, whether written before the changes, after them, or both. */
static void print_manifest(const struct setup *s)
{
	_cleanup_free_ char *full = setup_at_root(s, F_MANIFEST);

	if (s->manifest == MANIFEST_WRITTEN)
		printf("%s %s\n", s->dry_run ? "would write" : "wrote", full);
	else if (s->manifest == MANIFEST_REMOVED)
		printf("%s %s\n", s->dry_run ? "would remove" : "removed", full);
}

static void print_result(const struct setup *s)
{
	for (size_t i = 0; i < s->n_steps; i++)
		print_step(s, &s->steps[i]);
	if (s->n_steps)
		print_manifest(s);
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
	for (size_t i = 0; i < s->n_dirs; i++)
		free(s->dirs[i]);
	free(s->dirs);
	free(s->old);
	free(s->old_members);
	free(s->old_manifest);
	free(s->steps);
	free(s->kept);
	free(s->map);
}

/*
 * NixOS builds /etc from its configuration and replaces what setup would write there at the next
 * switch: the same files come from the NixOS module (etc/nixos/), which runs setup into a
 * directory of its own. True (logged) when ROOT ("" for this system) is NixOS.
 */
static bool setup_refuse_nixos(const char *root)
{
	_cleanup_free_ char *marker = xasprintf("%s/etc/NIXOS", root);

	if (faccessat(AT_FDCWD, marker, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	log_error("setup: %s: this is NixOS, whose /etc is built from its configuration: nothing was written; set "
		  "services.vfio-hook.settings.host (or the vfio.* options) in configuration.nix instead, with the module in "
		  "vfio-hook's etc/nixos/",
		  marker);
	return true;
}

int setup_run(const char *cfg_path, const char *root, bool dry_run, bool undo)
{
	struct setup s = { .root = "", .rootfd = -1, .undo = undo, .dry_run = dry_run };
	const char *path = config_path(cfg_path);
	_cleanup_free_ char *root_dir = NULL;
	struct config *c = NULL;
	int lock = -1, r = setup_check_root(root, dry_run);

	if (r < 0)
		return r == -EINVAL ? 2 : 1;
	/* Paths under the root keep their leading slash: "DIR/" loses its last one; "/" is this system. */
	if (root && !setup_is_slash(root)) {
		root_dir = xstrdup(root);
		while (*root_dir && root_dir[strlen(root_dir) - 1] == '/')
			root_dir[strlen(root_dir) - 1] = '\0';
		s.root = root_dir;
		s.nofollow = true;
	}
	if (setup_refuse_nixos(s.root))
		return 1;
	/* Undo needs only the manifest: the map may be gone or changed since. */
	if (!undo) {
		char real[PATH_MAX];

		if (config_load(path, &c) < 0)
			return 2;
		s.c = c;
		s.map = escape_text(realpath(path, real) ? real : path);
	}
	s.rootfd = open(*s.root ? s.root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0) {
		log_error("setup: --root %s: cannot open it: %m (check its permissions)", *s.root ? s.root : "/");
		r = -EIO;
	}

	s.want = (struct hostconf){ .c = c, .root = s.root, .map = s.map };
	if (r >= 0 && !dry_run) {
		if (!undo)
			setup_note_missing_dirs(&s, F_MANIFEST);
		lock = setup_lock(&s);
		/* --undo where setup never ran: nothing to lock, nothing recorded, nothing made. */
		r = lock < 0 && !(undo && lock == -ENOENT) ? lock : 0;
	}
	if (r >= 0)
		r = setup_manifest_read(&s);
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
		if (r >= 0 && !dry_run && (s.manifest == MANIFEST_REMOVED || (!s.old_manifest && s.manifest == MANIFEST_SAME)))
			setup_remove_dirs(&s);
		if (r >= 0)
			print_result(&s);
	}
	if (lock >= 0)
		close(lock);
	if (s.rootfd >= 0)
		close(s.rootfd);
	setup_free(&s);
	config_free(c);
	return r == 0 ? 0 : r == -EINVAL ? 2 : 1;
}

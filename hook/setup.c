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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define F_MANIFEST "/var/lib/vfio-hook/setup.manifest"
#define KVM "kvm"
#define CMD_TIMEOUT_MS 30000
/* Another run's whole setup takes well under a second; a holder past this is stuck. */
#define LOCK_TIMEOUT_MS 30000

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

enum manifest_change { MANIFEST_SAME, MANIFEST_WRITTEN, MANIFEST_REMOVED };

struct setup {
	const struct config *c;
	const char *root; /* "" for this system */
	int rootfd;       /* the root's directory: every path is resolved from it */
	bool nofollow;    /* under --root: no symlink is followed */
	char *map;        /* the map's path, escaped, for headers */
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
	enum manifest_change manifest;
};

static char *at_root(const struct setup *s, const char *path)
{
	return xasprintf("%s%s", s->root, path);
}

/* PATH's first LEN bytes under the root, for a message. */
static char *at_root_n(const struct setup *s, const char *path, size_t len)
{
	return xasprintf("%s%.*s", s->root, (int)len, path);
}

/* -ELOOP, logged: NAME (LEN bytes of PATH) is a symlink inside --root. */
static int symlink_refused(const struct setup *s, const char *path, size_t len, bool dir)
{
	_cleanup_free_ char *full = at_root_n(s, path, len);

	log_error("%s: a symlink inside --root, which setup does not follow (an image's link would resolve on this "
		  "machine): replace it with the %s it points to, then run vfio-hook setup again",
		  full, dir ? "directory" : "file");
	return -ELOOP;
}

/*
 * The directory holding PATH (absolute), opened from the root one component at a time; with
 * CREATE, the missing ones made (0755). *RET_BASE: PATH's last component. The fd, or -errno:
 * -ENOENT/-ENOTDIR unlogged (nothing there), -ELOOP logged (a symlink under --root).
 */
static int open_parent(const struct setup *s, const char *path, bool create, const char **ret_base)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *comp = p + 1, *slash;
	int fd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*ret_base = path;
	if (fd < 0)
		return -errno;
	while ((slash = strchr(comp, '/'))) {
		int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (s->nofollow ? O_NOFOLLOW : 0), next, r;
		struct stat st;

		*slash = '\0';
		next = openat(fd, comp, flags);
		if (next < 0 && errno == ENOENT && create && (mkdirat(fd, comp, 0755) == 0 || errno == EEXIST))
			next = openat(fd, comp, flags);
		r = next < 0 ? -errno : 0;
		if (next < 0 && s->nofollow && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			r = symlink_refused(s, path, (size_t)(slash - p), true);
		close(fd);
		if (r < 0)
			return r;
		fd = next;
		comp = slash + 1;
	}
	*ret_base = path + (comp - p);
	return fd;
}

/*
 * What is at PATH under the root: its text (*ret), NULL when there is none, its status in
 * *RET_ST when not NULL; -errno when unreadable (logged). Only a regular file is read: a FIFO
 * would block setup for good.
 */
static int read_at(const struct setup *s, const char *path, char **ret, struct stat *ret_st)
{
	_cleanup_free_ char *full = at_root(s, path);
	const char *base;
	int dfd = open_parent(s, path, false, &base), fd, r;

	*ret = NULL;
	if (dfd == -ENOENT || dfd == -ENOTDIR)
		return 0;
	if (dfd == -ELOOP)
		return dfd;
	fd = dfd < 0 ? dfd : open_regular(dfd, base, O_RDONLY | (s->nofollow ? O_NOFOLLOW : 0));
	if (dfd >= 0)
		close(dfd);
	if (fd == -ENOENT)
		return 0;
	if (fd == -ELOOP && s->nofollow)
		return symlink_refused(s, path, strlen(path), false);
	if (fd >= 0) {
		r = read_fd(fd, ret, NULL);
		if (r == 0 && ret_st && fstat(fd, ret_st) < 0)
			r = -errno;
		close(fd);
	} else {
		r = fd;
	}
	if (r == 0)
		return 0;
	free(*ret);
	*ret = NULL;
	log_error("%s: cannot read: %s (replace it with a regular file, check its permissions, or run as root)", full,
		  file_error(r));
	return r;
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

/* "file SHA256 PATH": exactly, PATH one of setup's. */
static bool file_line(const char *line)
{
	return startswith(line, "file ") && strspn(line + 5, "0123456789abcdef") == SHA256_HEX_LEN - 1 &&
	       line[4 + SHA256_HEX_LEN] == ' ' && ours(line + 5 + SHA256_HEX_LEN);
}

/* "member kvm USER": exactly, one user name. */
static bool member_line(const char *line)
{
	const char *user = line + strlen("member " KVM " ");

	return startswith(line, "member " KVM " ") && *user && strlen(user) < 64 && !user[strcspn(user, " \t\r")];
}

/*
 * Every line is one setup writes, or the whole manifest is refused: a damaged record read in
 * part would be rewritten without what it no longer says, and never undone.
 */
static int manifest_read(struct setup *s)
{
	_cleanup_free_ char *full = at_root(s, F_MANIFEST);
	int r = read_at(s, F_MANIFEST, &s->old_manifest, NULL), n = 0;

	if (r < 0 || !s->old_manifest)
		return r;
	for (const char *p = s->old_manifest; *p;) {
		size_t len = strcspn(p, "\n");
		_cleanup_free_ char *line = xasprintf("%.*s", (int)len, p);

		n++;
		p += len + (p[len] == '\n');
		if (*line == '#' || !*line)
			continue;
		if (file_line(line)) {
			struct recorded *e = array_push(&s->old, &s->n_old, sizeof(*e));

			e->path = xstrdup(line + 5 + SHA256_HEX_LEN);
			memcpy(e->sha, line + 5, SHA256_HEX_LEN - 1);
			e->sha[SHA256_HEX_LEN - 1] = '\0';
		} else if (member_line(line)) {
			*(char **)array_push(&s->old_members, &s->n_old_members, sizeof(char *)) =
				xstrdup(line + strlen("member " KVM " "));
		} else {
			log_at(LOG_ERR, full, n,
			       "not a line vfio-hook setup writes (edit it back to \"file SHA256 PATH\" or \"member " KVM
			       " USER\", or remove the line; nothing was changed)");
			return -EBADMSG;
		}
	}
	return 0;
}

/* Is PATH in the manifest (with any checksum)? */
static bool recorded(const struct setup *s, const char *path)
{
	for (size_t i = 0; i < s->n_old; i++)
		if (streq(s->old[i].path, path))
			return true;
	return false;
}

/* Is TEXT at PATH what setup recorded there: written, or about to be when a run stopped? */
static bool recorded_text(const struct setup *s, const char *path, const char *text)
{
	char sha[SHA256_HEX_LEN];

	sha256_hex(text, strlen(text), sha);
	for (size_t i = 0; i < s->n_old; i++)
		if (streq(s->old[i].path, path) && streq(s->old[i].sha, sha))
			return true;
	return false;
}

static bool recorded_member(const struct setup *s, const char *user)
{
	for (size_t i = 0; i < s->n_old_members; i++)
		if (streq(s->old_members[i], user))
			return true;
	return false;
}

/* Is the I-th entry the first for its path (a manifest of a stopped run lists a path twice)? */
static bool first_of_path(const struct setup *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (streq(s->old[k].path, s->old[i].path))
			return false;
	return true;
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

static int plan_files(struct setup *s)
{
	for (size_t i = 0; i < s->want.n_files; i++) {
		const struct hostconf_file *w = &s->want.files[i];
		char *cur;
		int r = read_at(s, w->path, &cur, NULL);

		if (r < 0)
			return r;
		if (cur && streq(cur, w->text)) {
			free(cur);
			continue;
		}
		if (cur && !recorded_text(s, w->path, cur)) {
			_cleanup_free_ char *full = at_root(s, w->path);

			log_error("%s: %s: move it away (or merge what it adds into the map), then run vfio-hook setup again",
				  full, recorded(s, w->path) ? "edited since vfio-hook setup wrote it" : "exists and vfio-hook setup did not write it");
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
		if (wanted || !first_of_path(s, i))
			continue;
		r = read_at(s, s->old[i].path, &cur, NULL);
		if (r < 0)
			return r;
		if (!cur)
			continue;
		if (recorded_text(s, s->old[i].path, cur)) {
			step_add(s, STEP_REMOVE, s->old[i].path, cur, NULL);
			continue;
		}
		free(cur);
		*(char **)array_push(&s->kept, &s->n_kept, sizeof(char *)) = at_root(s, s->old[i].path);
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
		if (r == 1 && *s->root && recorded_member(s, u))
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
static void add_record(char **text, const char *line)
{
	_cleanup_free_ char *needle = xasprintf("\n%s\n", line);
	char *next;

	if (strstr(*text, needle))
		return;
	next = xasprintf("%s%s\n", *text, line);
	free(*text);
	*text = next;
}

/*
 * The manifest after this run: NULL when nothing is left to record. With PENDING, the one
 * written before any change: this run's records and every earlier one, so that whatever
 * point a run is stopped at, what is there is setup's by its records.
 */
static char *manifest_text(const struct setup *s, bool pending)
{
	char *text = xasprintf("# vfio-hook setup: what it wrote from %s, with SHA-256 checksums.\n"
			       "# \"vfio-hook setup --undo\" removes each file that is unchanged, then this one.\n",
			       s->map);
	size_t header = strlen(text);

	for (size_t i = 0; i < s->want.n_files; i++) {
		char sha[SHA256_HEX_LEN];
		_cleanup_free_ char *line = NULL;

		sha256_hex(s->want.files[i].text, strlen(s->want.files[i].text), sha);
		line = xasprintf("file %s %s", sha, s->want.files[i].path);
		add_record(&text, line);
	}
	for (size_t i = 0; pending && i < s->n_old; i++) {
		_cleanup_free_ char *line = xasprintf("file %s %s", s->old[i].sha, s->old[i].path);

		add_record(&text, line);
	}
	for (size_t i = 0; i < s->want.n_members; i++) {
		bool added = recorded_member(s, s->want.members[i]);
		_cleanup_free_ char *line = NULL;

		for (size_t k = 0; k < s->n_steps; k++)
			added |= s->steps[k].kind == STEP_ADD_MEMBER && streq(s->steps[k].path, s->want.members[i]);
		if (!added)
			continue;
		line = xasprintf("member " KVM " %s", s->want.members[i]);
		add_record(&text, line);
	}
	for (size_t i = 0; pending && i < s->n_old_members; i++) {
		_cleanup_free_ char *line = xasprintf("member " KVM " %s", s->old_members[i]);

		add_record(&text, line);
	}
	if (strlen(text) == header) {
		free(text);
		return NULL;
	}
	return text;
}

/* Does a step write what no record names yet (a checksum, a member)? */
static bool needs_record_first(const struct setup *s)
{
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct step *st = &s->steps[i];

		if (st->kind == STEP_WRITE && !recorded_text(s, st->path, st->text))
			return true;
		if (st->kind == STEP_ADD_MEMBER && !recorded_member(s, st->path))
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
	_cleanup_free_ char *text = manifest_text(s, false);
	_cleanup_free_ char *pending = NULL;
	const char *before = s->old_manifest;

	if (s->n_steps && needs_record_first(s)) {
		pending = manifest_text(s, true);
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

/* ---- Applying them ---- */

/*
 * TEXT into PATH under the root by a new file renamed over it: readers see the old or the new
 * file, never half. The temporary file's name is this run's alone (O_EXCL), and only a file
 * this run created is ever removed. The rename is made durable before the next step.
 */
static int write_atomic(const struct setup *s, const char *path, const char *text, mode_t mode, const struct stat *owner)
{
	static unsigned serial;
	_cleanup_free_ char *tmp = NULL;
	const char *base;
	size_t len = strlen(text);
	int dfd = open_parent(s, path, true, &base), fd = -1, r = 0;

	if (dfd < 0)
		return dfd;
	for (int tries = 0; fd < 0 && tries < 100; tries++) {
		free(tmp);
		tmp = xasprintf("%s.vfio-hook-tmp.%ld.%u", base, (long)getpid(), serial++);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	errno = 0;
	if ((size_t)write(fd, text, len) != len || fchmod(fd, mode) < 0 ||
	    (owner && fchown(fd, owner->st_uid, owner->st_gid) < 0) || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && renameat(dfd, tmp, dfd, base) < 0)
		r = -errno;
	if (r)
		(void)unlinkat(dfd, tmp, 0);
	else
		(void)fsync(dfd);
	close(dfd);
	return r;
}

static int write_file(const struct setup *s, const char *path, const char *text)
{
	return write_atomic(s, path, text, 0644, NULL);
}

static int remove_file(const struct setup *s, const char *path)
{
	const char *base;
	int dfd = open_parent(s, path, false, &base), r = 0;

	if (dfd == -ENOENT || dfd == -ENOTDIR)
		return 0;
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		r = -errno;
	else
		(void)fsync(dfd);
	close(dfd);
	return r;
}

/* A member edit of ROOT/etc/group (and gshadow, where there is one), mode and owner kept. */
static int edit_group_file(const struct setup *s, const char *file, const char *user, bool add)
{
	_cleanup_free_ char *text = NULL, *edited = NULL;
	bool shadow = streq(file, "/etc/gshadow");
	struct stat st;
	int r = read_at(s, file, &text, &st);

	if (r < 0)
		return r;
	if (!text)
		return shadow ? 0 : -ENOENT;
	r = accounts_edit_members(text, KVM, user, add, &edited);
	if (r == -ENOENT && shadow)
		return 0;
	if (r == -EINVAL) {
		_cleanup_free_ char *full = at_root(s, file);

		log_error("%s: its " KVM " line has too few fields to %s %s (fix it: " KVM ":%s), then run vfio-hook setup again",
			  full, add ? "add" : "remove", user, shadow ? "!::MEMBERS" : "x:GID:MEMBERS");
	}
	if (r < 0)
		return r;
	/* Already so: a run stopped after this file. */
	if (streq(edited, text))
		return 0;
	return write_atomic(s, file, edited, st.st_mode & 07777, &st);
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
				_cleanup_free_ char *full = at_root(s, s->steps[k].path);

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
	_cleanup_free_ char *full = at_root(s, F_MANIFEST);

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
	free(s->old);
	free(s->old_members);
	free(s->old_manifest);
	free(s->steps);
	free(s->kept);
	free(s->map);
}

/* Who holds the flock on FD, from /proc/locks: a pid, or 0 when it cannot be told. */
static long lock_holder(int fd)
{
	_cleanup_free_ char *locks = read_regular(AT_FDCWD, "/proc/locks", 0), *id = NULL;
	struct stat st;
	char *line, *save = NULL;

	if (!locks || fstat(fd, &st) < 0)
		return 0;
	id = xasprintf(" %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
	/* "1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF"; a waiter's line has "->". */
	for (line = strtok_r(locks, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *w = strstr(line, " WRITE ");
		long pid;

		if (w && strstr(line, " FLOCK ") && !strstr(line, "->") && strstr(line, id) && sscanf(w, " WRITE %ld", &pid) == 1)
			return pid;
	}
	return 0;
}

/*
 * One run at a time: a second one (an image build and the admin, a postinst and its retry)
 * waits for the first, with a deadline, on the manifest's directory (a lock file would be
 * left in the root after --undo). Held until the process exits.
 */
static int setup_lock(struct setup *s)
{
	_cleanup_free_ char *dir = at_root(s, "/var/lib/vfio-hook");
	struct timespec nap = { 0, 50000000L };
	const char *base;
	int fd = open_parent(s, F_MANIFEST, true, &base), r;

	if (fd == -ELOOP)
		return fd;
	if (fd < 0) {
		errno = -fd;
		log_error("%s: cannot create or open it to lock it: %m (check that %s is writable)", dir,
			  *s->root ? s->root : "/var/lib");
		return fd;
	}
	for (long waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 50) {
		if (errno != EWOULDBLOCK) {
			r = -errno;
			log_error("%s: cannot lock it: %m", dir);
			close(fd);
			return r;
		}
		if (waited >= LOCK_TIMEOUT_MS) {
			long pid = lock_holder(fd);

			if (pid)
				log_error("%s: another vfio-hook setup (pid %ld) has held it for %d s: let it finish (or stop it: "
					  "kill %ld), then run vfio-hook setup again",
					  dir, pid, LOCK_TIMEOUT_MS / 1000, pid);
			else
				log_error("%s: another vfio-hook setup has held it for %d s: let it finish, then run vfio-hook "
					  "setup again",
					  dir, LOCK_TIMEOUT_MS / 1000);
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	return fd;
}

/* Is ROOT this machine's "/" ("/", "//", "/.", a link to it)? */
static bool is_slash(const char *root)
{
	char real[PATH_MAX];

	return realpath(root, real) && streq(real, "/");
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
		if (!is_slash(root))
			return 0;
	}
	/* The suite proves it cannot touch this machine: without --root there is nothing to write to. */
	if (getenv("VFIO_HOOK_TEST")) {
		if (root)
			log_error("setup: refused: VFIO_HOOK_TEST is set and --root %s is this machine's / (pass a temporary "
				  "directory: a test never writes this machine's /etc)",
				  root);
		else
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
	struct setup s = { .root = "", .rootfd = -1, .undo = undo, .dry_run = dry_run };
	const char *path = config_path(cfg_path);
	_cleanup_free_ char *root_dir = NULL;
	struct config *c = NULL;
	int lock = -1, r = check_root(root, dry_run);

	if (r < 0)
		return r == -EINVAL ? 2 : 1;
	/* Paths under the root keep their leading slash: "DIR/" loses its last one; "/" is this system. */
	if (root && !is_slash(root)) {
		root_dir = xstrdup(root);
		while (*root_dir && root_dir[strlen(root_dir) - 1] == '/')
			root_dir[strlen(root_dir) - 1] = '\0';
		s.root = root_dir;
		s.nofollow = true;
	}
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
		lock = setup_lock(&s);
		r = lock < 0 ? lock : 0;
	}
	if (r >= 0)
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
	if (lock >= 0)
		close(lock);
	if (s.rootfd >= 0)
		close(s.rootfd);
	setup_free(&s);
	config_free(c);
	return r == 0 ? 0 : r == -EINVAL ? 2 : 1;
}

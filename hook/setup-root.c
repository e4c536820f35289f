/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook setup, its files under the root: paths walked one component at a time from --root
 * with no symlink followed, reads that cannot block, atomic writes, group edits; the lock.
 */
#define _GNU_SOURCE
#include "setup-run.h"


#include "accounts.h"
#include "child.h"
#include "log.h"
#include "util.h"

#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>


char *setup_at_root(const struct setup *s, const char *path)
{
	return xasprintf("%s%s", s->root, path);
}

/* PATH's first LEN bytes under the root, for a message. */
char *setup_at_root_n(const struct setup *s, const char *path, size_t len)
{
	return xasprintf("%s%.*s", s->root, (int)len, path);
}

/* -ELOOP, logged: NAME (LEN bytes of PATH) is a symlink inside --root. */
int setup_symlink_refused(const struct setup *s, const char *path, size_t len, bool dir)
{
	_cleanup_free_ char *full = setup_at_root_n(s, path, len);

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
int setup_open_parent(const struct setup *s, const char *path, bool create, const char **ret_base)
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
			r = setup_symlink_refused(s, path, (size_t)(slash - p), true);
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
int setup_read_at(const struct setup *s, const char *path, char **ret, struct stat *ret_st)
{
	_cleanup_free_ char *full = setup_at_root(s, path);
	const char *base;
	int dfd = setup_open_parent(s, path, false, &base), fd, r;

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
		return setup_symlink_refused(s, path, strlen(path), false);
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


/*
 * TEXT into PATH under the root by a new file renamed over it: readers see the old or the new
 * file, never half. The temporary file's name is this run's alone (O_EXCL), and only a file
 * this run created is ever removed. The rename is made durable before the next step.
 */
int setup_write_atomic(const struct setup *s, const char *path, const char *text, mode_t mode, const struct stat *owner)
{
	static unsigned serial;
	_cleanup_free_ char *tmp = NULL;
	const char *base;
	size_t len = strlen(text);
	int dfd = setup_open_parent(s, path, true, &base), fd = -1, r = 0;

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

int setup_write_file(const struct setup *s, const char *path, const char *text)
{
	return setup_write_atomic(s, path, text, 0644, NULL);
}

int setup_remove_file(const struct setup *s, const char *path)
{
	const char *base;
	int dfd = setup_open_parent(s, path, false, &base), r = 0;

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
int setup_edit_group_file(const struct setup *s, const char *file, const char *user, bool add)
{
	_cleanup_free_ char *text = NULL, *edited = NULL;
	bool shadow = streq(file, "/etc/gshadow");
	struct stat st;
	int r = setup_read_at(s, file, &text, &st);

	if (r < 0)
		return r;
	if (!text)
		return shadow ? 0 : -ENOENT;
	r = accounts_edit_members(text, KVM, user, add, &edited);
	if (r == -ENOENT && shadow)
		return 0;
	if (r == -EINVAL) {
		_cleanup_free_ char *full = setup_at_root(s, file);

		log_error("%s: its " KVM " line has too few fields to %s %s (fix it: " KVM ":%s), then run vfio-hook setup again",
			  full, add ? "add" : "remove", user, shadow ? "!::MEMBERS" : "x:GID:MEMBERS");
	}
	if (r < 0)
		return r;
	/* Already so: a run stopped after this file. */
	if (streq(edited, text))
		return 0;
	return setup_write_atomic(s, file, edited, st.st_mode & 07777, &st);
}

static int run_tool(const void *arg, FILE *out)
{
	char *const *argv = arg;

	(void)out;
	execvp(argv[0], argv);
	return -errno;
}

int setup_set_member(const struct setup *s, const char *user, bool add)
{
	int r;

	/* On this system usermod and gpasswd know its locking and the nscd cache; in a root, the files are all. */
	if (!*s->root) {
		const char *argv_add[] = { "usermod", "-a", "-G", KVM, user, NULL };
		const char *argv_del[] = { "gpasswd", "-d", user, KVM, NULL };

		return child_run(run_tool, add ? argv_add : argv_del, CMD_TIMEOUT_MS, NULL);
	}
	r = setup_edit_group_file(s, "/etc/group", user, add);
	if (r < 0)
		return r;
	r = setup_edit_group_file(s, "/etc/gshadow", user, add);
	if (r < 0)
		(void)setup_edit_group_file(s, "/etc/group", user, !add);
	return r;
}

void setup_remove_dirs(const struct setup *s)
{
	for (size_t i = s->n_dirs; i-- > 0;) {
		size_t best = i;

		/* Deepest first: the longest path of those left. */
		for (size_t k = 0; k < i; k++)
			if (strlen(s->dirs[k]) > strlen(s->dirs[best]))
				best = k;
		if (best != i) {
			char *t = s->dirs[best];

			s->dirs[best] = s->dirs[i];
			s->dirs[i] = t;
		}
		(void)unlinkat(s->rootfd, s->dirs[i] + 1, AT_REMOVEDIR);
	}
}

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
int setup_lock(struct setup *s)
{
	_cleanup_free_ char *dir = setup_at_root(s, "/var/lib/vfio-hook");
	struct timespec nap = { 0, 50000000L };
	const char *base;
	int fd = setup_open_parent(s, F_MANIFEST, !s->undo, &base), r;

	if (fd == -ELOOP)
		return fd;
	/* Nothing to undo: no manifest, and no directory made for one. */
	if (s->undo && (fd == -ENOENT || fd == -ENOTDIR))
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
bool setup_is_slash(const char *root)
{
	char real[PATH_MAX];

	return realpath(root, real) && streq(real, "/");
}

int setup_check_root(const char *root, bool dry_run)
{
	struct stat st;

	if (root) {
		if (*root != '/' || stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_error("setup: --root %s: not an existing directory given as an absolute path (create it, or fix the path)",
				  root);
			return -EINVAL;
		}
		if (!setup_is_slash(root))
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


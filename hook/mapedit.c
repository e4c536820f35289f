/* SPDX-License-Identifier: MIT */
/*
 * The map edited in place, as a user would with an editor: its own text kept byte for byte,
 * lines added where they go. Nothing here reads INI: where a section starts comes from the
 * parser's own line numbers, and the result is checked by the parser before it replaces the
 * map. The hook reads the map at any time, so the new one appears at once, whole (rename).
 */
#define _GNU_SOURCE
#include "mapgen.h"

#include "child.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *map_text_insert(const char *text, int line, const char *insert)
{
	const char *at = text;

	for (int i = 0; i < line && *at; i++) {
		const char *nl = strchr(at, '\n');

		at = nl ? nl + 1 : at + strlen(at);
	}
	/* A last line without its newline gets one before anything comes after it. */
	if (at > text && at[-1] != '\n')
		return xasprintf("%.*s%s%s%s", (int)(at - text), text, map_text_eol(text), insert, at);
	return xasprintf("%.*s%s%s", (int)(at - text), text, insert, at);
}

const char *map_text_eol(const char *text)
{
	return strstr(text, "\r\n") ? "\r\n" : "\n";
}

char *map_text_with_eol(const char *lines, const char *eol)
{
	char *r = xmalloc(strlen(lines) * strlen(eol) + 1), *w = r;

	for (const char *p = lines; *p; p++) {
		if (*p == '\n') {
			memcpy(w, eol, strlen(eol));
			w += strlen(eol);
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return r;
}

/* All of TEXT to FD. */
static int write_all(int fd, const char *text)
{
	size_t len = strlen(text);

	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* What to do when the map's directory cannot take a new file. */
static const char *write_fix(int err)
{
	if (err == EACCES || err == EPERM)
		return geteuid() ? "the map is root's: run vfio-hook as root, with sudo" : "something keeps root from writing there: an immutable attribute (lsattr) or a security module";
	if (err == EROFS)
		return "the file system is read-only: a generated /etc (NixOS) takes the sections in its own configuration";
	return "check the disk and the directory";
}

int map_lock(const char *path, const char *shown)
{
	_cleanup_free_ char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	struct timespec nap = { 0, 50000000L };
	long start = now_ms();
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0) {
		r = -errno;
		log_error("cannot open %s, the directory of %s, to lock it: %s (nothing was changed; %s)", dir, shown,
			  strerror(-r), write_fix(-r));
		return r;
	}
	/* Polling with a deadline: a run stuck waiting on libvirt must not hold the next one forever. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			r = -errno;
			log_error("cannot lock %s, the directory of %s: %s (nothing was changed)", dir, shown, strerror(-r));
			close(fd);
			return r;
		}
		if (now_ms() - start >= MAP_LOCK_TIMEOUT_MS) {
			log_error("%s: another vfio-hook map --add has been editing it for %d s (it holds the lock on %s): nothing "
				  "was changed; let it finish, then run the command again",
				  shown, MAP_LOCK_TIMEOUT_MS / 1000, dir);
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
	return fd;
}

int map_replace(const struct map_write *w)
{
	_cleanup_free_ char *copy = xstrdup(w->path), *tmp = NULL;
	const char *dir = dirname(copy);
	struct stat st = { 0 };
	bool exists = stat(w->path, &st) == 0;
	int fd, r;

	if (exists && !(st.st_mode & S_IWUSR)) {
		log_error("%s is read-only (mode %04o): nothing was changed; make it writable (chmod u+w %s) for vfio-hook to "
			  "edit it, or paste the sections printed without --add",
			  w->shown, (unsigned)(st.st_mode & 07777), w->shown);
		return -EACCES;
	}
	tmp = xasprintf("%s/.vfio-hook.ini.XXXXXX", dir);
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = -errno;
		log_error("cannot write a new map in %s: %s (nothing was changed; %s)", dir, strerror(-r), write_fix(-r));
		return r;
	}
	/* The map's mode and owner stay its own: a map others may write is refused by every run. */
	r = fchmod(fd, exists ? st.st_mode & 07777 : 0644) < 0 ? -errno : 0;
	if (r == 0 && exists && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, w->text);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		log_error("cannot write a new map in %s: %s (nothing was changed; %s)", dir, strerror(-r), write_fix(-r));
		unlink(tmp);
		return r;
	}
	r = w->check ? w->check(tmp, w->data) : 0;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/*
	 * An editor saved it meanwhile (vfio-hook's own edits wait for each other: map_lock): its
	 * change must not be lost. An editor that saves by renaming gives it a new inode.
	 */
	if ((w->size < 0) != (stat(w->path, &st) < 0) ||
	    (w->size >= 0 && (st.st_size != w->size || st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != w->mtime_ns ||
			      (unsigned long long)st.st_ino != w->ino))) {
		log_error("%s changed while vfio-hook was adding to it: nothing was changed; run the command again", w->shown);
		unlink(tmp);
		return -EAGAIN;
	}
	if (rename(tmp, w->path) < 0) {
		r = -errno;
		log_error("cannot replace %s: %s (nothing was changed; %s)", w->shown, strerror(-r), write_fix(-r));
		unlink(tmp);
		return r;
	}
	/* The rename itself, on disk: a crash now leaves the old map or the new one. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

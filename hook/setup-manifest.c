/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook setup, its manifest: what it wrote (with checksums), the users it added to group
 * kvm and the directories it made, written before each change so a run stopped anywhere is undone.
 */
#define _GNU_SOURCE
#include "setup-run.h"


#include "log.h"
#include "util.h"

#include <string.h>
#include <sys/file.h>



/* Only these are ever removed: a manifest naming another file is not one setup wrote. */
bool setup_ours(const char *path)
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
	       line[4 + SHA256_HEX_LEN] == ' ' && setup_ours(line + 5 + SHA256_HEX_LEN);
}

/* A directory setup may have made: one holding one of its files or its manifest, not the root. */
static bool our_dir(const char *dir)
{
	static const char *const paths[] = { HOSTCONF_MODULES, HOSTCONF_MODPROBE, HOSTCONF_UDEV, HOSTCONF_LIMITS,
					     HOSTCONF_GRUB, F_MANIFEST };
	size_t n = strlen(dir);

	if (n < 2 || *dir != '/' || dir[n - 1] == '/' || strstr(dir, "/.") || strstr(dir, "//"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (strncmp(paths[i], dir, n) == 0 && paths[i][n] == '/')
			return true;
	return false;
}

/* "dir PATH": exactly, PATH a directory of setup's. */
static bool dir_line(const char *line)
{
	return startswith(line, "dir ") && our_dir(line + 4);
}

void setup_add_dir(struct setup *s, const char *dir)
{
	for (size_t i = 0; i < s->n_dirs; i++)
		if (streq(s->dirs[i], dir))
			return;
	*(char **)array_push(&s->dirs, &s->n_dirs, sizeof(char *)) = xstrdup(dir);
}

/* The directories on the way to PATH under the root that are not there yet: this run makes them. */
void setup_note_missing_dirs(struct setup *s, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct stat st;

		*slash = '\0';
		if (fstatat(s->rootfd, p + 1, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			setup_add_dir(s, p);
		*slash = '/';
	}
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
int setup_manifest_read(struct setup *s)
{
	_cleanup_free_ char *full = setup_at_root(s, F_MANIFEST);
	int r = setup_read_at(s, F_MANIFEST, &s->old_manifest, NULL), n = 0;

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
		} else if (dir_line(line)) {
			setup_add_dir(s, line + 4);
		} else {
			log_at(LOG_ERR, full, n,
			       "not a line vfio-hook setup writes (edit it back to \"file SHA256 PATH\", \"member " KVM
			       " USER\" or \"dir PATH\", or remove the line; nothing was changed)");
			return -EBADMSG;
		}
	}
	return 0;
}

/* Is PATH in the manifest (with any checksum)? */
bool setup_recorded(const struct setup *s, const char *path)
{
	for (size_t i = 0; i < s->n_old; i++)
		if (streq(s->old[i].path, path))
			return true;
	return false;
}

/* Is TEXT at PATH what setup recorded there: written, or about to be when a run stopped? */
bool setup_recorded_text(const struct setup *s, const char *path, const char *text)
{
	char sha[SHA256_HEX_LEN];

	sha256_hex(text, strlen(text), sha);
	for (size_t i = 0; i < s->n_old; i++)
		if (streq(s->old[i].path, path) && streq(s->old[i].sha, sha))
			return true;
	return false;
}

bool setup_recorded_member(const struct setup *s, const char *user)
{
	for (size_t i = 0; i < s->n_old_members; i++)
		if (streq(s->old_members[i], user))
			return true;
	return false;
}

/* Is the I-th entry the first for its path (a manifest of a stopped run lists a path twice)? */
bool setup_first_of_path(const struct setup *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (streq(s->old[k].path, s->old[i].path))
			return false;
	return true;
}

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
char *setup_manifest_text(const struct setup *s, bool pending)
{
	char *text = xasprintf("# vfio-hook setup: what it wrote from %s, with SHA-256 checksums.\n"
			       "# \"vfio-hook setup --undo\" removes each file that is unchanged, then this one and the empty directories it made.\n",
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
		bool added = setup_recorded_member(s, s->want.members[i]);
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
	/* While anything is recorded, so are the directories made for it: the last undo removes them. */
	for (size_t i = 0; i < s->n_dirs; i++) {
		_cleanup_free_ char *line = xasprintf("dir %s", s->dirs[i]);

		add_record(&text, line);
	}
	return text;
}

/* Does a step write what no record names yet (a checksum, a member)? */

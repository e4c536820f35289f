/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "accounts.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Field N (0-based) of a colon-separated LINE, copied; NULL when the line has fewer. */
static char *field(const char *line, int n)
{
	for (; n > 0; n--) {
		line = strchr(line, ':');
		if (!line)
			return NULL;
		line++;
	}
	return xasprintf("%.*s", (int)strcspn(line, ":\n"), line);
}

/* The line of FILE whose first field is NAME (or, with NAME NULL, whose field 2 is GID), copied. */
static char *find_line(const char *root, const char *file, const char *name, long gid, int *ret_err)
{
	_cleanup_free_ char *path = xasprintf("%s%s", root, file);
	_cleanup_free_ char *text = read_file(path);
	char *line, *save = NULL;

	*ret_err = text ? -ENOENT : -errno;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *first = field(line, 0), *third = field(line, 2);

		if (name ? streq(first, name) : (third && *third && strtol(third, NULL, 10) == gid))
			return xstrdup(line);
	}
	return NULL;
}

int accounts_user(const char *root, const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
	int err;
	_cleanup_free_ char *line = find_line(root, "/etc/passwd", user, 0, &err);
	_cleanup_free_ char *uid = NULL, *gid = NULL;

	if (!line)
		return err;
	uid = field(line, 2);
	gid = field(line, 3);
	if (!uid || !gid)
		return -EINVAL;
	*ret_uid = (uid_t)strtoul(uid, NULL, 10);
	*ret_gid = (gid_t)strtoul(gid, NULL, 10);
	return 0;
}

static bool in_list(const char *list, const char *user)
{
	_cleanup_free_ char *copy = xstrdup(list ? list : "");
	char *save = NULL;

	for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (streq(strip(m), user))
			return true;
	return false;
}

static bool line_has_member(const char *root, const char *line, const char *user)
{
	_cleanup_free_ char *gid = field(line, 2), *members = field(line, 3);
	uid_t uid = 0;
	gid_t primary = 0;

	if (in_list(members, user))
		return true;
	return gid && accounts_user(root, user, &uid, &primary) == 0 && primary == (gid_t)strtoul(gid, NULL, 10);
}

int accounts_member(const char *root, const char *group, const char *user)
{
	int err;
	_cleanup_free_ char *line = find_line(root, "/etc/group", group, 0, &err);

	if (!line)
		return err;
	return line_has_member(root, line, user);
}

bool accounts_gid_member(const char *root, gid_t gid, const char *user)
{
	int err;
	_cleanup_free_ char *line = find_line(root, "/etc/group", NULL, (long)gid, &err);

	return line && line_has_member(root, line, user);
}

/* GROUP's line with USER added to or taken out of its fourth field. */
static char *edit_line(const char *line, size_t len, const char *user, bool add)
{
	_cleanup_free_ char *copy = xasprintf("%.*s", (int)len, line);
	char *members = copy;
	char *out;

	for (int i = 0; i < 3 && members; i++)
		members = strchr(members, ':') ? strchr(members, ':') + 1 : NULL;
	if (!members)
		return xstrdup(copy);
	if (add) {
		if (in_list(members, user))
			return xstrdup(copy);
		return xasprintf("%s%s%s", copy, *members ? "," : "", user);
	}
	out = xasprintf("%.*s", (int)(members - copy), copy);
	{
		char *save = NULL;
		bool first = true;

		for (char *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
			char *next;

			if (streq(m, user))
				continue;
			next = xasprintf("%s%s%s", out, first ? "" : ",", m);
			free(out);
			out = next;
			first = false;
		}
	}
	return out;
}

char *accounts_edit_members(const char *text, const char *group, const char *user, bool add)
{
	size_t glen = strlen(group);
	char *out = xstrdup("");
	bool found = false;

	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		bool nl = line[len] == '\n';
		_cleanup_free_ char *edited = NULL;
		char *next;

		if (!found && len > glen && strncmp(line, group, glen) == 0 && line[glen] == ':') {
			edited = edit_line(line, len, user, add);
			found = true;
			next = xasprintf("%s%s%s", out, edited, nl ? "\n" : "");
		} else {
			next = xasprintf("%s%.*s%s", out, (int)len, line, nl ? "\n" : "");
		}
		free(out);
		out = next;
		line += len + nl;
	}
	if (!found) {
		free(out);
		return NULL;
	}
	return out;
}

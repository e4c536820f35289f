/* SPDX-License-Identifier: MIT */
#ifndef VH_ACCOUNTS_H
#define VH_ACCOUNTS_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Local accounts as ROOT/etc/passwd and ROOT/etc/group hold them (ROOT "" for this system):
 * setup writes into a root that is not the running system, and doctor's tests read one, so
 * these read the files rather than NSS.
 */

/* USER's uid and primary gid: 0, -ENOENT when there is no such line, or -errno. */
int accounts_user(const char *root, const char *user, uid_t *ret_uid, gid_t *ret_gid);
/* Is USER in GROUP, as its primary group or listed as a member? 1, 0, -ENOENT: no such group. */
int accounts_member(const char *root, const char *group, const char *user);
/* Is the group with GID listed with USER as a member (or USER's primary gid)? */
bool accounts_gid_member(const char *root, gid_t gid, const char *user);
/*
 * TEXT (a group or gshadow file) with USER added to or removed from GROUP's member list, or
 * NULL when TEXT has no line for GROUP. Every other line is kept byte for byte.
 */
char *accounts_edit_members(const char *text, const char *group, const char *user, bool add);

#endif

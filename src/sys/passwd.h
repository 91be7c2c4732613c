/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Looks users and groups up in the sandbox's own /etc/passwd and /etc/group, read as plain
 * files: never through NSS, which would load libraries from the image into a privileged process
 * (CVE-2019-14271). */

/* An image's account file is read whole, up to this size. */
#define PASSWD_FILE_MAX (4U * 1024 * 1024)

typedef struct UserRecord {
    uid_t uid;
    gid_t gid;
    char *home; /* NULL when the entry has none */
} UserRecord;

/* Reads an account file of the image, path resolved inside rootfd (symlinks stay inside it,
 * magic links are refused), without ever blocking: *ret is NULL when there is no such file.
 * -EBADFD (-EISDIR for a directory) when it is not a regular file (a FIFO, /dev/zero), -EFBIG
 * above PASSWD_FILE_MAX. */
int passwd_read_file(int rootfd, const char *path, char **ret);

/* The lookups take the text of /etc/passwd or /etc/group, NULL when the file is missing.
 * -ERANGE when the entry found (or a numeric name) has an id above ID_VALID_MAX. */

/* name may be numeric; a number without an entry is accepted (gid = uid, no home).
 * -ESRCH: no such name. */
int passwd_find_user(const char *passwd, const char *name, UserRecord *ret);
int passwd_find_group(const char *group, const char *name, gid_t *ret);
/* Supplementary groups listing user_name as a member; *ret is malloc'd. */
int passwd_member_groups(const char *group, const char *user_name, gid_t **ret, size_t *ret_n);

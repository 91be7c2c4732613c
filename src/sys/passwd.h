/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdio.h>
#include <sys/types.h>

/* Looks users and groups up in the sandbox's own /etc/passwd and /etc/group, read as plain
 * files: never through NSS, which would load libraries from the image into a privileged process
 * (CVE-2019-14271). */

typedef struct UserRecord {
    uid_t uid;
    gid_t gid;
    char *home; /* NULL when the entry has none */
} UserRecord;

/* name may be numeric; a number without an entry is accepted (gid = uid, no home).
 * -ESRCH: no such name. f may be NULL (no passwd file). */
int passwd_find_user(FILE *f, const char *name, UserRecord *ret);
int passwd_find_group(FILE *f, const char *name, gid_t *ret);
/* Supplementary groups listing user_name as a member; *ret is malloc'd. */
int passwd_member_groups(FILE *f, const char *user_name, gid_t **ret, size_t *ret_n);
